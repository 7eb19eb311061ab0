/**
 * Starting, finding and stopping the emulated compute service process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { EmulatorControl } from './control.ts';
import { defaultSocketPath } from './socket-path.ts';

/** Repository root: the service is spawned from here so `--import tsx` resolves. */
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
/** Running from the compiled package (dist/, plain node) rather than the sources (tsx). */
const compiled = import.meta.url.endsWith('.js');
/** The service entry point. */
export const serviceMainPath = fileURLToPath(new URL(compiled ? './service/main.js' : './service/main.ts', import.meta.url));
const READY_MARKER = 'HCSEMU_READY';
const START_TIMEOUT_MS = 20_000;
const POLL_MS = 20;

/**
 * The socket path: `HCS_EMULATOR_SOCKET` if set, else `$XDG_RUNTIME_DIR/hcs-emulator/service.sock`,
 * else `$TMPDIR/hcs-emulator-<uid>/service.sock` (PROTOCOL.md).
 */
export { defaultSocketPath };

/** True if something accepts connections on the socket path. */
export function probeSocket(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const done = (up: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(up);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A service process started by this process. */
export interface EmulatorProcess {
  socketPath: string;
  pid: number;
  control: EmulatorControl;
  /** SIGTERM, then wait until the process is gone (SIGKILL after 5 s). */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Options of startEmulator. */
export interface StartOptions {
  socketPath?: string;
  stateDir?: string;
  /** Survive the parent: unref'd, stdio to `service.log` next to the socket. */
  detached?: boolean;
  /** Extra environment (e.g. HCSEMU_LOG: '1'). */
  env?: Record<string, string>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolves when the child prints its ready line; rejects if it exits first. */
function waitReady(child: ChildProcess, stderrTail: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(READY_MARKER)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited with code ${code} before it was ready: ${stderrTail().trim()}`));
    });
  });
}

/** Detached children write to a log file, so readiness is observed by connecting. */
async function waitListening(child: ChildProcess, socketPath: string, logPath: string): Promise<void> {
  let exitCode: number | null = null;
  child.once('exit', (code) => {
    exitCode = code ?? -1;
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exitCode !== null) throw new Error(`emulator exited with code ${exitCode} before it was ready (see ${logPath})`);
    if (await probeSocket(socketPath, 500)) return;
    await delay(POLL_MS);
  }
  throw new Error(`emulator did not start within ${START_TIMEOUT_MS} ms (see ${logPath})`);
}

function spawnService(socketPath: string, opts: StartOptions): { child: ChildProcess; logPath: string } {
  const args = [...(compiled ? [] : ['--import', 'tsx']), serviceMainPath, '--socket', socketPath];
  if (opts.stateDir) args.push('--state-dir', opts.stateDir);
  const env = { ...process.env, ...opts.env };
  const logPath = join(dirname(socketPath), 'service.log');
  if (!opts.detached) {
    // stdin stays open as a lifeline: when this process dies, the service sees EOF and stops.
    args.push('--exit-with-parent');
    return { child: spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] }), logPath };
  }
  const fd = openSync(logPath, 'a', 0o600);
  try {
    const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', fd, fd], detached: true });
    child.unref();
    return { child, logPath };
  } finally {
    closeSync(fd);
  }
}

async function stopProcess(child: ChildProcess, pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(pid, 'SIGTERM');
  const killTimer = setTimeout(() => isAlive(pid) && process.kill(pid, 'SIGKILL'), 5000);
  // A detached child may outlive our 'exit' bookkeeping, so also poll the pid.
  while (isAlive(pid)) {
    if (await Promise.race([exited.then(() => true), delay(POLL_MS).then(() => false)])) break;
  }
  clearTimeout(killTimer);
}

/**
 * Starts a service process (process.execPath --import tsx service/main.ts) and resolves once it
 * accepts connections. detached:true → it survives the parent (unref'd, stdio to a log file);
 * otherwise it stops when the parent process exits.
 */
export async function startEmulator(opts: StartOptions = {}): Promise<EmulatorProcess> {
  const socketPath = opts.socketPath ?? defaultSocketPath();
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  const { child, logPath } = spawnService(socketPath, opts);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
    process.stderr.write(chunk);
  });
  if (opts.detached) await waitListening(child, socketPath, logPath);
  else await waitReady(child, () => stderr);
  const pid = child.pid as number;
  const control = await EmulatorControl.connect(socketPath);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= control.close().then(() => stopProcess(child, pid));
    return stopped;
  };
  return { socketPath, pid, control, stop, [Symbol.asyncDispose]: stop };
}

/** Connects to a running service; undefined if none answers at that path. */
export async function findEmulator(socketPath: string = defaultSocketPath()): Promise<EmulatorControl | undefined> {
  if (!(await probeSocket(socketPath))) return undefined;
  try {
    const control = await EmulatorControl.connect(socketPath, { timeoutMs: 2000 });
    await control.status();
    return control;
  } catch {
    return undefined;
  }
}

/** Finds a running service or starts a detached one. */
export async function ensureEmulator(
  opts: { socketPath?: string; stateDir?: string } = {},
): Promise<{ control: EmulatorControl; started: boolean; socketPath: string }> {
  const socketPath = opts.socketPath ?? defaultSocketPath();
  const found = await findEmulator(socketPath);
  if (found) return { control: found, started: false, socketPath };
  try {
    const started = await startEmulator({ socketPath, stateDir: opts.stateDir, detached: true });
    return { control: started.control, started: true, socketPath };
  } catch (err) {
    // Another process may have won the race to start it.
    const winner = await findEmulator(socketPath);
    if (winner) return { control: winner, started: false, socketPath };
    throw err;
  }
}
