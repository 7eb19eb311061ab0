/**
 * Single instance per owner and host: an exclusive lock file (created with O_EXCL, so two
 * controllers cannot both win) holding the holder's pid, start time and manifests folder. A lock
 * left by a dead process is taken over; a live holder is named in the error.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Disposable } from '../../reconciler/ports.ts';
import { UsageError } from './output.ts';

interface LockInfo {
  pid: number;
  startedAt: string;
  manifests: string;
  owner: string;
}

/** Default folder for lock files: %ProgramData%\hcs-reconciler on Windows, the temp dir elsewhere. */
export function defaultLockDir(): string {
  if (process.platform === 'win32') return join(process.env.ProgramData ?? 'C:\\ProgramData', 'hcs-reconciler');
  return join(process.env.XDG_RUNTIME_DIR ?? tmpdir(), 'hcs-reconciler');
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

/** Take the lock for `owner`; throws a UsageError naming the live holder. */
export function acquireLock(owner: string, manifests: string, dir = defaultLockDir()): Disposable & { file: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${owner.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`);
  const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString(), manifests, owner };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(info), { flag: 'wx', mode: 0o600 });
      return { file, dispose: () => release(file) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readHolder(file);
      if (holder && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new UsageError(
          `another controller for owner "${owner}" is running: pid ${holder.pid}, started ${holder.startedAt}, manifests ${holder.manifests} (lock ${file}); stop it first or use another --owner`,
        );
      }
      // Stale: its holder died without releasing it (kill -9, power loss).
      unlinkSync(file);
    }
  }
  throw new UsageError(`could not take the lock ${file}`);
}

function release(file: string): void {
  const holder = readHolder(file);
  if (holder?.pid === process.pid) unlinkSync(file);
}
