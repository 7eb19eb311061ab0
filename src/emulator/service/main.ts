/**
 * Entry point of the emulated compute service:
 *
 *   node --import tsx src/emulator/service/main.ts --socket PATH [--state-dir DIR] [--exit-with-parent]
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT/`shutdown`), 2 bad arguments, 3 another service is
 * already listening on the socket, 1 anything else.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultSocketPath, probeSocket } from '../launcher.ts';
import { EmulatorService } from './server.ts';

/** Marker line on stdout once the socket accepts connections (the launcher waits for it). */
export const READY_MARKER = 'HCSEMU_READY';

interface Args {
  socketPath: string;
  stateDir?: string;
  /** Stop when stdin closes: the launcher's non-detached mode, so the service dies with its parent. */
  exitWithParent: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { socketPath: defaultSocketPath(), exitWithParent: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === '--exit-with-parent') {
      args.exitWithParent = true;
    } else if ((flag === '--socket' || flag === '--state-dir') && value !== undefined) {
      if (flag === '--socket') args.socketPath = value;
      else args.stateDir = value;
      i++;
    } else {
      process.stderr.write(`usage: main.ts --socket PATH [--state-dir DIR] [--exit-with-parent] (bad argument ${flag})\n`);
      process.exit(2);
    }
  }
  return args;
}

/** Removes a stale socket file; exits 3 if a live service answers on it. */
async function claimSocket(socketPath: string): Promise<void> {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (await probeSocket(socketPath)) {
    process.stderr.write(`[hcs-emulator] another compute service is already listening on ${socketPath}\n`);
    process.exit(3);
  }
  rmSync(socketPath, { force: true });
}

function removeOwnFiles(socketPath: string, pidFile: string): void {
  rmSync(socketPath, { force: true });
  try {
    // Only remove the pid file if it is still ours (a successor may have replaced it).
    if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile, { force: true });
  } catch {
    // already gone
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await claimSocket(args.socketPath);
  // A parent that died leaves broken pipes; a failed log write must not become an error loop.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  const service = new EmulatorService({
    socketPath: args.socketPath, stateDir: args.stateDir, verbose: process.env.HCSEMU_LOG === '1',
  });
  await service.listen();
  const pidFile = join(dirname(args.socketPath), 'service.pid');
  writeFileSync(pidFile, `${process.pid}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // A control client that never closes its end must not keep the service alive.
    const force = setTimeout(() => finish(), 2000);
    force.unref();
    const finish = (): void => {
      removeOwnFiles(args.socketPath, pidFile);
      process.exit(0);
    };
    void service.close().then(finish);
  };
  service.onShutdownRequest = stop;
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (args.exitWithParent) {
    process.stdin.on('close', stop);
    process.stdin.on('error', stop);
    process.stdin.resume();
  }
  process.on('uncaughtException', (err) => service.log(`uncaught exception (service continues): ${err.stack ?? String(err)}`));
  process.stdout.write(`${READY_MARKER} ${process.pid} ${args.socketPath}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[hcs-emulator] failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
