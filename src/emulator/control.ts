/**
 * EmulatorControl: the client of the service's CONTROL messages (fault injection and inspection).
 * Used by tests, benchmarks and `hcs-reconciler emulator ...`.
 */
import { connect, type Socket } from 'node:net';
import {
  decodeControl, encodeControl, encodeHello, FrameDecoder, FrameType, PROTOCOL_VERSION, Role,
} from './protocol.ts';
import { parseHResult } from './hresult.ts';
import type { CallLogEntry } from './service/calllog.ts';

export { parseHResult, formatHResult } from './hresult.ts';

/** `status` response. */
export interface EmulatorStatus {
  pid: number;
  uptimeMs: number;
  socketPath: string;
  stateDir: string | null;
  systems: number;
  /** Open handles across all library connections. */
  handles: number;
  connections: { library: number; control: number };
  faults: { fail: unknown[]; hang: unknown[]; latency: Record<string, number>; hung: number };
}

/** A process as `list` reports it. */
export interface EmulatorProcessInfo {
  pid: number;
  commandLine: string;
  imageName: string;
  exited: boolean;
  exitCode: number;
  createdAt: number;
  openHandles: number;
  exitAfterMs?: number;
}

/** A compute system as `list` reports it. */
export interface EmulatorSystemInfo {
  id: string;
  owner: string;
  systemType: 'Container' | 'VirtualMachine';
  runtimeId: string;
  state: 'Created' | 'Running' | 'Paused' | 'Stopped';
  stopped: boolean;
  exitType?: string;
  exitStatus?: number;
  createdAt: number;
  hostingSystemId?: string;
  terminateOnLastHandleClosed: boolean;
  shutdownIgnored: boolean;
  shutdownTimeoutMs?: number;
  foreign: boolean;
  openHandles: number;
  processes: EmulatorProcessInfo[];
  document: Record<string, unknown>;
  modifications: unknown[];
}

/** One call log entry, as the service records it. */
export type EmulatorCall = CallLogEntry;

/** Arguments of `fault`. `hresult` may be a number, '0x80370105' or 'HCS_E_INVALID_STATE'. */
export interface FaultSpec {
  op: string;
  hresult: number | string;
  count?: number;
  id?: string;
  resultDocument?: string | Record<string, unknown>;
  /** The op takes effect, then its result reports `hresult` (WS2022 spurious CreateProcess failure). */
  afterEffect?: boolean;
}

/** Arguments of `createForeign`. */
export interface ForeignSystemSpec {
  id: string;
  owner?: string;
  systemType?: 'Container' | 'VirtualMachine';
  state?: 'Created' | 'Running' | 'Paused' | 'Stopped';
  shouldTerminateOnLastHandleClosed?: boolean;
  document?: Record<string, unknown>;
}

type Pending = { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };

/** A connection to the service in the control role. */
export class EmulatorControl {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private closedError?: Error;

  private constructor(private readonly socket: Socket, readonly socketPath: string) {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) this.onFrame(frame.type, frame.body);
      } catch (err) {
        socket.destroy(err as Error);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.failAll(new Error(`emulator control connection to ${socketPath} closed`)));
  }

  /** Connects to the service at `socketPath`; rejects if nothing accepts within `timeoutMs` (default 5000). */
  static connect(socketPath: string, opts: { timeoutMs?: number } = {}): Promise<EmulatorControl> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`timed out connecting to emulator at ${socketPath}`));
      }, opts.timeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.write(encodeHello({ protocolVersion: PROTOCOL_VERSION, role: Role.Control, pid: process.pid }));
        resolve(new EmulatorControl(socket, socketPath));
      });
    });
  }

  private onFrame(type: number, body: Buffer): void {
    if (type !== FrameType.ControlResponse) throw new Error(`unexpected frame type ${type} on control connection`);
    const { seq, json } = decodeControl(body);
    const waiter = this.pending.get(seq);
    if (!waiter) return;
    this.pending.delete(seq);
    const msg = JSON.parse(json ?? 'null') as { ok?: boolean; error?: string } & Record<string, unknown>;
    if (msg?.ok) {
      const { ok: _ok, ...body } = msg;
      waiter.resolve(body);
    }
    else waiter.reject(new Error(`emulator: ${msg?.error ?? 'malformed control response'}`));
  }

  private failAll(err: Error): void {
    this.closedError = err;
    for (const w of this.pending.values()) w.reject(err);
    this.pending.clear();
  }

  /** Sends one raw control command; resolves with the response body (without `ok`), rejects on `ok:false`. */
  command(cmd: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    if (this.closedError) return Promise.reject(this.closedError);
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.socket.write(encodeControl(FrameType.Control, { seq, json: JSON.stringify({ cmd, ...args }) }));
    });
  }

  /** Service pid, uptime, counts and active faults. */
  async status(): Promise<EmulatorStatus> {
    return (await this.command('status')) as unknown as EmulatorStatus;
  }

  /** Every compute system with handle counts, processes and document. */
  async list(): Promise<EmulatorSystemInfo[]> {
    return (await this.command('list')).systems as EmulatorSystemInfo[];
  }

  /** Fails the next `count` (default 1) calls of `op` (optionally only for system `id`) with `hresult`. */
  async fault(spec: FaultSpec): Promise<void> {
    await this.command('fault', { ...spec, hresult: parseHResult(spec.hresult) });
  }

  /** The next `count` (default 1) calls of `op` never complete until clearFaults() or the service stops. */
  async hang(spec: { op: string; count?: number; id?: string }): Promise<void> {
    await this.command('hang', spec);
  }

  /** Adds `ms` of latency to `op` ('*' for all; a per-op value wins; 0 removes). */
  async latency(spec: { op: string; ms: number }): Promise<void> {
    await this.command('latency', spec);
  }

  /** Removes all faults and latencies and releases hung calls (they then run normally). */
  async clearFaults(): Promise<void> {
    await this.command('clearFaults');
  }

  /** The system stops with ExitType UnexpectedExit (Status HCS_E_UNEXPECTED_EXIT). */
  async crash(id: string): Promise<void> {
    await this.command('crash', { id });
  }

  /** A running process of system `id` exits with `exitCode`. */
  async exitProcess(id: string, pid: number, exitCode: number): Promise<void> {
    await this.command('exitProcess', { id, pid, exitCode });
  }

  /** Creates a system owned by another stack (default owner 'docker', state Running), with no handle. */
  async createForeign(spec: ForeignSystemSpec): Promise<EmulatorSystemInfo> {
    return (await this.command('createForeign', { ...spec })).system as EmulatorSystemInfo;
  }

  /** Drops every library connection and handle; systems survive unless keepSystems is false. */
  async restartService(opts: { keepSystems?: boolean } = {}): Promise<void> {
    await this.command('restartService', opts);
  }

  /**
   * ignore=true: ShutDown of `id` never stops it (no guest service); the ShutDown completes when the
   * system stops otherwise (HCS_E_SYSTEM_ALREADY_STOPPED), or with HCS_E_OPERATION_TIMEOUT after timeoutMs.
   */
  async setShutdownBehaviour(id: string, ignore: boolean, opts: { timeoutMs?: number } = {}): Promise<void> {
    await this.command('setShutdownBehaviour', { id, ignore, ...opts });
  }

  /** The retained call log, oldest first. */
  async callLog(): Promise<EmulatorCall[]> {
    return (await this.command('callLog')).calls as EmulatorCall[];
  }

  /** Empties the call log. */
  async clearCallLog(): Promise<void> {
    await this.command('clearCallLog');
  }

  /** Removes all systems, faults and the call log; existing library handles become invalid. */
  async reset(): Promise<void> {
    await this.command('reset');
  }

  /** Asks the service to exit cleanly (it removes its socket and pid file). */
  async shutdown(): Promise<void> {
    await this.command('shutdown');
  }

  /** Closes this control connection. */
  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      // The service answers FIN with FIN; the timer only guards against a wedged peer.
      const timer = setTimeout(() => this.socket.destroy(), 1000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }
}
