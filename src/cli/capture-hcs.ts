/**
 * A decorator of the HcsClient port that starts container entrypoints through a log relay
 * (relay.ts) instead of in this process, so their output is captured into the log files and the
 * capture survives this process (kill -9, restart, upgrade).
 *
 * The core starts an entrypoint with `system.createProcess(parameters)` and nothing else calls
 * createProcess on a managed system, so this is the one place where the entrypoint's start asks
 * for pipes: the relay creates the process with stdout/stderr pipes and reports its id, and the
 * process handle the core gets is opened here by that id (HcsOpenProcess), exactly like the one
 * an adopting controller opens after a restart. Everything else passes through.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallOptions, EnumerateQuery, HcsClient, HcsProcess, HcsSystem } from '../../reconciler/ports.ts';
import { parseSystemId } from '../../reconciler/identity.ts';
import { HcsError, HRESULTS } from '../hcs/index.ts';
import { logDirFor } from '../logs/paths.ts';
import type { Rotation } from '../logs/writer.ts';
import type { RelayConfig, RelayReport } from './relay.ts';

const RELAY_MAIN = fileURLToPath(new URL('./relay-main.mjs', import.meta.url));

/** How entrypoints are captured. */
export interface CaptureOptions {
  /** The HCS library the relay loads (the same as this process's). */
  libraryPath: string;
  dataRoot: string;
  rotation: Rotation;
  /** Per-manifest rotation (spec.container.process.logs), else `rotation`. */
  rotationFor?: (name: string) => Rotation;
  /** Environment of the relay (default this process's: HCS_EMULATOR_SOCKET and the like). */
  env?: NodeJS.ProcessEnv;
}

/** Wraps `hcs` so entrypoints are started by a detached log relay. */
export function captureEntrypoints(hcs: HcsClient, opts: CaptureOptions): HcsClient {
  const wrap = (s: HcsSystem): HcsSystem => ({
    id: s.id,
    start: (o) => s.start(o),
    shutdown: (o) => s.shutdown(o),
    terminate: (o) => s.terminate(o),
    pause: (o) => s.pause(o),
    resume: (o) => s.resume(o),
    properties: (q, o) => s.properties(q, o),
    modify: (r, o) => s.modify(r, o),
    createProcess: (params, o) => startThroughRelay(s, params, opts, o),
    openProcess: (pid, o) => s.openProcess(pid, o),
    onEvent: (l) => s.onEvent(l),
    close: () => s.close(),
  });
  return {
    enumerate: (q?: EnumerateQuery, o?: CallOptions) => hcs.enumerate(q, o),
    create: async (id, doc, o) => wrap(await hcs.create(id, doc, o)),
    open: async (id, o) => wrap(await hcs.open(id, o)),
    close: () => hcs.close(),
  };
}

async function startThroughRelay(system: HcsSystem, parameters: Record<string, unknown>, opts: CaptureOptions, o: CallOptions = {}): Promise<HcsProcess> {
  const name = parseSystemId(system.id)?.name ?? system.id;
  const logDir = logDirFor(opts.dataRoot, name);
  const timeoutMs = o.timeoutMs ?? 60_000;
  const rotation = opts.rotationFor?.(name) ?? opts.rotation;
  const config: RelayConfig = { libraryPath: opts.libraryPath, systemId: system.id, parameters, logDir, rotation, timeoutMs };
  const report = await spawnRelay(config, opts.env ?? process.env, timeoutMs, o.signal);
  if ('error' in report) {
    throw relayError(system.id, report.hresult ?? HRESULTS.E_FAIL, report.error);
  }
  return system.openProcess(report.pid, o);
}

/** Starts a detached relay, hands it its config, and waits for its one-line report. */
function spawnRelay(config: RelayConfig, env: NodeJS.ProcessEnv, timeoutMs: number, signal?: AbortSignal): Promise<RelayReport> {
  mkdirSync(config.logDir, { recursive: true });
  const errFd = openSync(join(config.logDir, `relay-${config.systemId}.log`), 'a', 0o640);
  // detached: its own process group/session, so neither a kill of ours nor a Ctrl+C ends it.
  // A small young generation, as `npm start` uses for the controller: the relay allocates little.
  const child = spawn(process.execPath, ['--max-semi-space-size=1', RELAY_MAIN], { detached: true, stdio: ['pipe', 'pipe', errFd], env, windowsHide: true });
  closeSync(errFd);
  const { stdin, stdout } = child as unknown as { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream & { destroy(): void } };
  stdin.end(JSON.stringify(config));
  return new Promise<RelayReport>((resolve, reject) => {
    let text = '';
    const fail = (message: string, hresult: number = HRESULTS.E_FAIL): void => {
      finish();
      reject(relayError(config.systemId, hresult, `log relay: ${message}`));
    };
    // Giving up stops the relay too: before its HcsCreateProcess nothing is left behind. After it (the
    // report was about to come) that process runs on uncaptured and the core's retry starts another.
    const giveUp = (message: string, hresult: number): void => {
      child.kill();
      fail(message, hresult);
    };
    const timer = setTimeout(() => giveUp(`no report within ${timeoutMs} ms`, HRESULTS.HCS_E_OPERATION_TIMEOUT), timeoutMs);
    const onAbort = (): void => giveUp('aborted', HRESULTS.E_ABORT);
    signal?.addEventListener('abort', onAbort, { once: true });
    const onExit = (code: number | null): void => fail(`exited (${code}) before reporting; see relay-${config.systemId}.log`);
    function finish(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      child.off('exit', onExit);
      stdout.destroy();
      child.unref();
    }
    child.on('exit', onExit);
    child.on('error', (err) => fail(err.message));
    stdout.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      finish();
      try {
        resolve(JSON.parse(text.slice(0, nl)) as RelayReport);
      } catch {
        reject(relayError(config.systemId, HRESULTS.E_FAIL, `log relay: bad report ${text.slice(0, nl)}`));
      }
    });
  });
}

/** An HcsError the core classifies as usual (the relay's HRESULT when it got one). */
function relayError(systemId: string, hresult: number, message: string): HcsError {
  const resultDocument = JSON.stringify({ Error: hresult | 0, ErrorMessage: message });
  return new HcsError({ op: 'process.create', systemId, hresult, resultDocument });
}
