/**
 * Single instance per owner and HCS: an exclusive lock file (created with O_EXCL, so two
 * controllers cannot both win) holding the holder's pid, start time, manifests folder, command
 * and HTTP endpoint. A lock left by a dead process is taken over; a live holder is named in the
 * error. Every command that changes HCS state (`run`, `apply`) takes it.
 *
 * Scope: the lock must follow the HCS it protects, not the user's session. Two controllers of
 * the same owner on the same HCS prune each other's systems forever, whatever their environment
 * (a sudo shell and a systemd unit have different $XDG_RUNTIME_DIR). So:
 * - Windows: one machine-wide folder, %ProgramData%\hcs-reconciler (HCS is machine-wide).
 * - elsewhere: next to the emulator socket the command talks to (`<socket>.<owner>.lock`): the
 *   socket names the emulated HCS exactly.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Disposable } from '../../reconciler/ports.ts';
import { UsageError } from './output.ts';

/** What a lock file records about its holder. */
export interface LockInfo {
  pid: number;
  startedAt: string;
  manifests: string;
  owner: string;
  /** `run` or `apply`. */
  command?: string;
  /** The holder's HTTP endpoint (`host:port`), when it serves one. */
  endpoint?: string;
}

/** Where the lock of one owner lives. */
export interface LockScope {
  owner: string;
  /** Explicit folder (`--lock-dir`): `<dir>/<owner>.lock`. */
  lockDir?: string;
  /** The emulator socket the command talks to (not on Windows). */
  socketPath?: string;
  platform?: NodeJS.Platform;
  programData?: string;
}

const safe = (owner: string): string => owner.replace(/[^A-Za-z0-9._-]/g, '_');

/** The lock file path for a scope (see the module comment for why it follows the HCS). */
export function lockFileFor(scope: LockScope): string {
  const platform = scope.platform ?? process.platform;
  if (scope.lockDir) return join(scope.lockDir, `${safe(scope.owner)}.lock`);
  if (platform === 'win32' || !scope.socketPath) {
    const pd = scope.programData ?? process.env.ProgramData ?? 'C:\\ProgramData';
    return `${pd.replace(/\\+$/, '')}\\hcs-reconciler\\${safe(scope.owner)}.lock`;
  }
  return join(dirname(scope.socketPath), `${basename(scope.socketPath)}.${safe(scope.owner)}.lock`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The record of a lock file, when it can be read. */
export function readLock(file: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/** The live holder of a lock file, if any (a record left by a dead process is not a holder). */
export function liveHolder(file: string): LockInfo | undefined {
  const holder = readLock(file);
  return holder && isAlive(holder.pid) ? holder : undefined;
}

/** One line naming a holder: pid, command, folder, start time, endpoint. */
export function describeHolder(h: LockInfo): string {
  const endpoint = h.endpoint ? `, endpoint http://${h.endpoint}` : '';
  return `pid ${h.pid}${h.command ? ` (${h.command})` : ''}, started ${h.startedAt}, manifests ${h.manifests}${endpoint}`;
}

/** Take the lock; throws a UsageError (exit 1) naming the live holder. */
export function acquireLock(
  file: string,
  info: Omit<LockInfo, 'pid' | 'startedAt'>,
): Disposable & { file: string; update(patch: Partial<LockInfo>): void } {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const record: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), ...info };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(record), { flag: 'wx', mode: 0o600 });
      return {
        file,
        dispose: () => release(file),
        // Rewritten in place by its holder only (e.g. to add the endpoint once it listens).
        update: (patch) => writeFileSync(file, JSON.stringify(Object.assign(record, patch)), { mode: 0o600 }),
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readLock(file);
      if (holder && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new UsageError(
          `another controller for owner "${info.owner}" is running: ${describeHolder(holder)} (lock ${file}); it owns these systems: stop it first, or change its manifests folder instead, or use another --owner`,
        );
      }
      // Stale: its holder died without releasing it (kill -9, power loss).
      unlinkSync(file);
    }
  }
  throw new UsageError(`could not take the lock ${file}`);
}

function release(file: string): void {
  const holder = readLock(file);
  if (holder?.pid === process.pid) unlinkSync(file);
}
