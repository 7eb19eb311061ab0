/**
 * The log relay: a small process per container entrypoint that owns the entrypoint's stdio
 * pipes and writes its log files, so the capture does not depend on the controller staying
 * alive (docs/logs.md "Why a relay").
 *
 * The same split as containerd's shim: containerd-shim-runhcs-v1 is the process that calls
 * HcsCreateProcess and holds the stdio (hcsshim cmd/containerd-shim-runhcs-v1/task_hcs.go
 * newHcsTask → hcsExec; internal/cmd/io_npipe.go relays the pipes), and it outlives a restart of
 * containerd. Here the relay opens the system by id, creates the entrypoint with stdout/stderr
 * pipes, reports the process id to the controller (which opens the process by id to watch its
 * exit), and copies the pipes into the files until the process exits.
 *
 * Wire: the controller writes one JSON RelayConfig on the relay's stdin and closes it; the relay
 * answers one JSON line on stdout: `{"pid":N,"relay":R}` (R: the relay's own process id) or
 * `{"error":"…","hresult":N}`. Its stderr goes to `relay-<id>.log` in the log folder.
 *
 * Light on purpose, since there is one per container (docs/logs.md "Cost of a relay"): it runs
 * compiled JavaScript on plain node (relay-main.mjs; never the TypeScript loader), imports only the
 * HCS binding and the log writer (test/logs/relay.test.ts traces its imports), and reads both pipes
 * on libuv pool threads (stdio.ts `thread: 'pool'`) instead of one worker isolate per pipe.
 */
import { NativeHcsClient } from '../hcs/client.ts';
import { loadHcsLibrary } from '../hcs/ffi.ts';
import type { NativeHcsProcess } from '../hcs/process.ts';
import { captureOutput } from '../logs/capture.ts';
import { RotatingLogWriter, type Rotation } from '../logs/writer.ts';

/** What the controller tells a relay. */
export interface RelayConfig {
  libraryPath: string;
  systemId: string;
  /** ProcessParameters of the entrypoint; the relay adds the pipe fields. */
  parameters: Record<string, unknown>;
  logDir: string;
  rotation: Rotation;
  timeoutMs: number;
}

/** What a relay answers. */
export type RelayReport = { pid: number; relay?: number } | { error: string; hresult?: number };

/** Runs one relay to its end; returns the exit code. */
export async function runRelay(config: RelayConfig, report: (r: RelayReport) => void): Promise<number> {
  const hcs = new NativeHcsClient(loadHcsLibrary({ libraryPath: config.libraryPath }));
  try {
    let proc: NativeHcsProcess;
    try {
      const system = await hcs.open(config.systemId, { timeoutMs: config.timeoutMs });
      proc = (await system.createProcess(
        { ...config.parameters, EmulateConsole: false, CreateStdInPipe: false, CreateStdOutPipe: true, CreateStdErrPipe: true },
        { timeoutMs: config.timeoutMs },
      )) as NativeHcsProcess;
      await system.close(); // the process and its pipes do not need the system handle
    } catch (err) {
      const hresult = (err as { hresult?: unknown }).hresult;
      const detail = (err as { errorMessage?: string }).errorMessage ?? (err instanceof Error ? err.message : String(err));
      report({ error: detail, ...(typeof hresult === 'number' ? { hresult } : {}) });
      return 1;
    }
    const writer = new RotatingLogWriter(config.logDir, config.systemId, config.rotation);
    report({ pid: proc.processId, relay: process.pid });
    const stdio = proc.stdio;
    const output = { stdout: stdio?.reader('stdout', { thread: 'pool' }), stderr: stdio?.reader('stderr', { thread: 'pool' }) };
    const { records } = await captureOutput(output, writer);
    stdio?.close();
    process.stderr.write(`${new Date().toISOString()} relay ${config.systemId} pid ${proc.processId}: output ended, ${records} records, ${writer.rotations} rotations\n`);
    return 0;
  } finally {
    await hcs.close();
  }
}

/** The relay process's entry (relay-main.mjs): config from stdin, report on stdout. */
export async function relayMain(): Promise<number> {
  process.on('SIGINT', () => {}); // a Ctrl+C meant for the controller's console must not end the capture
  process.on('SIGHUP', () => {});
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const config = JSON.parse(Buffer.concat(chunks).toString('utf8')) as RelayConfig;
  process.stdout.on('error', () => {}); // the controller may be gone (kill -9): never die of EPIPE
  process.stderr.write(`${new Date().toISOString()} relay ${config.systemId} started (pid ${process.pid})\n`);
  return runRelay(config, (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.stdout.end(); // the controller stops listening after this line; never write again
  });
}
