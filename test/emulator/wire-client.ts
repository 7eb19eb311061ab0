/**
 * Test-only protocol client that behaves like a computecore library connection: it picks its own
 * handle ids, sends REQUEST frames, awaits RESPONSEs by seq and collects EVENTs.
 */
import { connect, type Socket } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeEvent, decodeResponse, encodeHello, encodeRequest, FrameDecoder, FrameType, Op, PROTOCOL_VERSION, Role,
  type OpName,
} from '../../src/emulator/protocol.ts';
import { startEmulator, type EmulatorProcess } from '../../src/emulator/launcher.ts';

/** A RESPONSE with its result document parsed. */
export interface Reply {
  hresult: number;
  processId: number;
  result: string | null;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** An EVENT with its data parsed. */
export interface WireEvent {
  handle: bigint;
  eventType: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  data: any;
}

/** REQUEST fields other than seq/op. */
export interface RequestArgs {
  handle?: bigint;
  newHandle?: bigint;
  num?: number;
  a?: string | null;
  b?: string | null;
}

/** A fresh socket path in its own temp directory. */
export function tempSocketPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'hcsemu-test-')), 'service.sock');
}

/** Starts a service on a temp socket (for one test). */
export function startTestEmulator(opts: { stateDir?: string; socketPath?: string } = {}): Promise<EmulatorProcess> {
  return startEmulator({ socketPath: opts.socketPath ?? tempSocketPath(), stateDir: opts.stateDir });
}

/** A library-role connection. */
export class WireClient {
  readonly events: WireEvent[] = [];
  private seq = 0;
  private handleIds = 0n;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private readonly eventWaiters = new Set<() => void>();
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const f of decoder.push(chunk)) {
        if (f.type === FrameType.Response) this.onResponse(decodeResponse(f.body));
        else if (f.type === FrameType.Event) this.onEvent(decodeEvent(f.body));
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects and sends HELLO (role library). `hello: false` skips it (for malformed-input tests). */
  static connect(socketPath: string, opts: { pid?: number; hello?: boolean } = {}): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        if (opts.hello !== false) {
          socket.write(encodeHello({ protocolVersion: PROTOCOL_VERSION, role: Role.Library, pid: opts.pid ?? process.pid }));
        }
        resolve(new WireClient(socket));
      });
    });
  }

  private onResponse(r: { seq: number; hresult: number; processId: number; result: string | null }): void {
    const done = this.pending.get(r.seq);
    if (!done) throw new Error(`response for unknown seq ${r.seq}`);
    this.pending.delete(r.seq);
    done({ ...r, json: r.result === null ? null : JSON.parse(r.result) });
  }

  private onEvent(e: { handle: bigint; eventType: number; eventData: string | null }): void {
    this.events.push({ handle: e.handle, eventType: e.eventType, data: e.eventData === null ? null : JSON.parse(e.eventData) });
    for (const wake of this.eventWaiters) wake();
  }

  /** A new handle id (unique on this connection, never reused). */
  newHandle(): bigint {
    this.handleIds += 1n;
    return this.handleIds;
  }

  /** Sends a REQUEST; resolves with its RESPONSE or rejects after `timeoutMs`. */
  request(op: OpName | number, args: RequestArgs = {}, timeoutMs = 5000): Promise<Reply> {
    const seq = ++this.seq;
    const code = typeof op === 'number' ? op : Op[op];
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`no response to ${String(op)} (seq ${seq}) within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(seq, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.socket.write(encodeRequest({
        seq, op: code, handle: args.handle ?? 0n, newHandle: args.newHandle ?? 0n, num: args.num ?? 0,
        a: args.a ?? null, b: args.b ?? null,
      }));
    });
  }

  /** Create with a fresh handle. */
  async create(id: string, doc: unknown): Promise<{ handle: bigint; reply: Reply }> {
    const handle = this.newHandle();
    const b = typeof doc === 'string' ? doc : JSON.stringify(doc);
    return { handle, reply: await this.request('Create', { newHandle: handle, a: id, b }) };
  }

  /** Open with a fresh handle. */
  async open(id: string): Promise<{ handle: bigint; reply: Reply }> {
    const handle = this.newHandle();
    return { handle, reply: await this.request('Open', { newHandle: handle, a: id }) };
  }

  /** A system op on a handle with an optional string argument. */
  call(op: OpName, handle: bigint, a: string | null = null): Promise<Reply> {
    return this.request(op, { handle, a });
  }

  /** CreateProcess with a fresh process handle. */
  async createProcess(system: bigint, params: unknown): Promise<{ handle: bigint; reply: Reply }> {
    const handle = this.newHandle();
    return { handle, reply: await this.request('CreateProcess', { handle: system, newHandle: handle, a: JSON.stringify(params) }) };
  }

  /** Resolves with the first event (already received or future) matching `pred`. */
  waitEvent(pred: (e: WireEvent) => boolean, timeoutMs = 5000): Promise<WireEvent> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const e = this.events.find(pred);
        if (!e) return;
        cleanup();
        resolve(e);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.eventWaiters.delete(check);
      };
      this.eventWaiters.add(check);
    });
  }

  /** Writes raw bytes (malformed-frame tests). */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Drops the connection (like a client process dying) and waits until it is closed. */
  async destroy(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }
}

/** A minimal valid ComputeSystem document. */
export function containerDoc(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { SchemaVersion: { Major: 2, Minor: 1 }, Owner: 'test-owner', Container: {}, ...extra };
}

/** A minimal valid VM document. */
export function vmDoc(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    SchemaVersion: { Major: 2, Minor: 1 }, Owner: 'test-owner',
    VirtualMachine: { ComputeTopology: { Memory: { SizeInMB: 1024 }, Processor: { Count: 2 } } }, ...extra,
  };
}

/** What withService hands to a test body. */
export interface ServiceContext {
  emu: EmulatorProcess;
  control: EmulatorProcess['control'];
  client: WireClient;
}

/** Runs `fn` against a fresh service and one library connection, then stops both. */
export async function withService(fn: (ctx: ServiceContext) => Promise<void>, opts: { stateDir?: string } = {}): Promise<void> {
  const emu = await startTestEmulator(opts);
  const client = await WireClient.connect(emu.socketPath);
  try {
    await fn({ emu, control: emu.control, client });
  } finally {
    await client.destroy();
    await emu.stop();
  }
}

/** Polls `cond` (e.g. a control `list`) until it holds; for effects that have no event of their own. */
export async function waitUntil(cond: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
