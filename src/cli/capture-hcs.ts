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
import type {
  CallOptions, Disposable, EnumerateQuery, HcsClient, HcsProcess, HcsSystem, ShutdownCallOptions, SystemEvent, SystemProperties,
} from '../../reconciler/ports.ts';
import { parseSystemId } from '../../reconciler/identity.ts';
import { HcsError, HRESULTS } from '../hcs/index.ts';
import { logDirFor } from '../logs/paths.ts';
import type { Rotation } from '../logs/writer.ts';
import type { RelayConfig, RelayReport } from './relay.ts';
import { relayCommand, type RelayCommand } from './relay-entry.ts';

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
  /**
   * Start each relay through a short-lived intermediate (relay-main.mjs --launch), so the relay's
   * parent process is gone and a service wrapper that stops the process tree by parent pid
   * (WinSW) does not find it. Default: on Windows only (elsewhere the detached relay's own session
   * is enough; docs/logs.md "Relays and the service wrapper").
   */
  launcher?: boolean;
}

/** Wraps `hcs` so entrypoints are started by a detached log relay. */
export function captureEntrypoints(hcs: HcsClient, opts: CaptureOptions): HcsClient {
  const wrap = (s: HcsSystem): HcsSystem => new CapturedSystem(s, opts);
  return {
    enumerate: (q?: EnumerateQuery, o?: CallOptions) => hcs.enumerate(q, o),
    create: async (id, doc, o) => wrap(await hcs.create(id, doc, o)),
    open: async (id, o) => wrap(await hcs.open(id, o)),
    close: () => hcs.close(),
  };
}

/**
 * A system whose createProcess goes through a relay; everything else passes through. A class, not
 * an object of closures: one is held per open system (12 closures and their context each before).
 */
class CapturedSystem implements HcsSystem {
  constructor(private readonly s: HcsSystem, private readonly opts: CaptureOptions) {}
  get id(): string {
    return this.s.id;
  }
  ready(): Promise<void> {
    return this.s.ready();
  }
  start(o?: CallOptions): Promise<void> {
    return this.s.start(o);
  }
  shutdown(o?: ShutdownCallOptions): Promise<void> {
    return this.s.shutdown(o);
  }
  terminate(o?: CallOptions): Promise<void> {
    return this.s.terminate(o);
  }
  pause(o?: CallOptions): Promise<void> {
    return this.s.pause(o);
  }
  resume(o?: CallOptions): Promise<void> {
    return this.s.resume(o);
  }
  properties(q?: { propertyTypes?: string[] }, o?: CallOptions): Promise<SystemProperties> {
    return this.s.properties(q, o);
  }
  modify(r: Record<string, unknown>, o?: CallOptions): Promise<void> {
    return this.s.modify(r, o);
  }
  createProcess(params: Record<string, unknown>, o?: CallOptions): Promise<HcsProcess> {
    return startThroughRelay(this.s, params, this.opts, o);
  }
  openProcess(pid: number, o?: CallOptions): Promise<HcsProcess> {
    return this.s.openProcess(pid, o);
  }
  onEvent(l: (event: SystemEvent) => void): Disposable {
    return this.s.onEvent(l);
  }
  close(): Promise<void> {
    return this.s.close();
  }
}

async function startThroughRelay(system: HcsSystem, parameters: Record<string, unknown>, opts: CaptureOptions, o: CallOptions = {}): Promise<HcsProcess> {
  const name = parseSystemId(system.id)?.name ?? system.id;
  const logDir = logDirFor(opts.dataRoot, name);
  const timeoutMs = o.timeoutMs ?? 60_000;
  const rotation = opts.rotationFor?.(name) ?? opts.rotation;
  const config: RelayConfig = { libraryPath: opts.libraryPath, systemId: system.id, parameters, logDir, rotation, timeoutMs };
  const report = await spawnRelay(config, { env: opts.env ?? process.env, launcher: opts.launcher ?? process.platform === 'win32' }, timeoutMs, o.signal);
  if ('error' in report) {
    throw relayError(system.id, report.hresult ?? HRESULTS.E_FAIL, report.error);
  }
  return system.openProcess(report.pid, o);
}

/** How a relay process is started. */
export interface RelaySpawnOptions {
  env: NodeJS.ProcessEnv;
  launcher: boolean;
  /** Another node command line (the benchmark compares flags and entries); default relayCommand(). */
  command?: RelayCommand;
}

/**
 * Starts a detached relay, hands it its config, and waits for its one-line report. Exported for
 * the tests and the `relay` benchmark.
 */
export async function spawnRelay(config: RelayConfig, how: RelaySpawnOptions, timeoutMs: number, signal?: AbortSignal): Promise<RelayReport> {
  const cmd = how.command ?? (await relayCommand());
  mkdirSync(config.logDir, { recursive: true });
  const errFd = openSync(join(config.logDir, `relay-${config.systemId}.log`), 'a', 0o640);
  // detached: its own process group/session, so neither a kill of ours nor a Ctrl+C ends it. With
  // the launcher, `child` is the intermediate, which exits as soon as the relay is spawned; the
  // relay inherits the pipes, so the report arrives on the same stdout either way.
  const args = [...cmd.flags, cmd.main, ...(how.launcher ? ['--launch'] : []), ...cmd.args];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['pipe', 'pipe', errFd], env: { ...how.env, UV_THREADPOOL_SIZE: '4' }, windowsHide: true });
  closeSync(errFd);
  const { stdin, stdout } = child as unknown as { stdin: NodeJS.WritableStream; stdout: NodeJS.ReadableStream & { destroy(): void } };
  stdin.on('error', () => {}); // a relay that died at once: reported by the end of stdout below
  stdin.end(JSON.stringify(config));
  return new Promise<RelayReport>((resolve, reject) => {
    let text = '';
    let settled = false;
    const fail = (message: string, hresult: number = HRESULTS.E_FAIL): void => {
      if (settled) return;
      finish();
      reject(relayError(config.systemId, hresult, `log relay: ${message}`));
    };
    // Giving up stops the relay too when it is our child: before its HcsCreateProcess nothing is
    // left behind. After it (the report was about to come), or with the launcher (the relay is not
    // our child), that process runs on uncaptured and the core's retry starts another.
    const giveUp = (message: string, hresult: number): void => {
      if (!how.launcher) child.kill();
      fail(message, hresult);
    };
    const timer = setTimeout(() => giveUp(`no report within ${timeoutMs} ms`, HRESULTS.HCS_E_OPERATION_TIMEOUT), timeoutMs);
    const onAbort = (): void => giveUp('aborted', HRESULTS.E_ABORT);
    signal?.addEventListener('abort', onAbort, { once: true });
    const onEnd = (): void => fail(`exited before reporting; see relay-${config.systemId}.log`);
    function finish(): void {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stdout.off('end', onEnd);
      stdout.destroy();
      child.unref();
    }
    child.on('error', (err) => fail(err.message));
    stdout.on('end', onEnd);
    stdout.on('data', (c: Buffer) => {
      if (settled) return;
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
