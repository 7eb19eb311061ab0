/**
 * Wire framing of the HCS emulator protocol (see PROTOCOL.md): frame types, op codes, and the
 * encoders/decoders shared by the emulated compute service, the control client and the tests.
 *
 * All integers are little-endian. Strings are `u32 byteLength` + UTF-8, with 0xFFFFFFFF meaning NULL.
 * Handles are u64 and are carried as `bigint` so that any id the C library picks round-trips exactly.
 */

/** Protocol version sent in HELLO. */
export const PROTOCOL_VERSION = 1;

/** Largest allowed frame body (type + payload), per PROTOCOL.md. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Frame types (the `u32 type` after the length). */
export const FrameType = {
  Request: 1,
  Response: 2,
  Event: 3,
  Control: 4,
  ControlResponse: 5,
  Hello: 6,
  /** Stdio connections (role 4): the one frame after HELLO (PROTOCOL.md "Process stdio"). */
  StdioAttach: 7,
  /** Host connections (role 5: computenetwork, scratch exports; PROTOCOL.md "Host role"). */
  HostRequest: 8,
  HostResponse: 9,
} as const;

/** HELLO roles: one number per kind of client, used by no other (the C libraries hard-code theirs). */
export const Role = { Library: 1, Control: 2, Vmcompute: 3, Stdio: 4, Host: 5 } as const;

/** Stream numbers of STDIO_ATTACH and bits of a RESPONSE's stdio mask (bit = 1 << stream). */
export const StdioStream = { StdIn: 0, StdOut: 1, StdErr: 2 } as const;

/** REQUEST op codes, exactly the PROTOCOL.md table. */
export const Op = {
  Enumerate: 1,
  Create: 2,
  Open: 3,
  CloseSystem: 4,
  Start: 5,
  ShutDown: 6,
  Terminate: 7,
  Pause: 8,
  Resume: 9,
  GetProperties: 10,
  Modify: 11,
  CreateProcess: 12,
  OpenProcess: 13,
  CloseProcess: 14,
  TerminateProcess: 15,
  GetProcessProperties: 16,
  GetProcessInfo: 17,
  SignalProcess: 18,
  ModifyProcess: 19,
  GrantVmAccess: 20,
  RevokeVmAccess: 21,
} as const;

/** An op name as in the PROTOCOL.md table. */
export type OpName = keyof typeof Op;

const opNamesByCode = new Map<number, OpName>(
  (Object.entries(Op) as [OpName, number][]).map(([name, code]) => [code, name]),
);

/** The name of an op code, or `Op<n>` for an unknown code (used in logs). */
export function opName(code: number): string {
  return opNamesByCode.get(code) ?? `Op${code}`;
}

/** Resolves an op name case-insensitively (`'shutdown'` → `'ShutDown'`); `'*'` is returned as is. */
export function normalizeOpName(name: string): OpName | '*' | undefined {
  if (name === '*') return '*';
  const lower = name.toLowerCase();
  return (Object.keys(Op) as OpName[]).find((n) => n.toLowerCase() === lower);
}

/** HCS_EVENT_TYPE values used on the wire (hcs-api.md §1.1). */
export const EventType = {
  SystemExited: 0x00000001,
  ProcessExited: 0x00010000,
} as const;

/** A decoded REQUEST body. */
export interface RequestFrame {
  seq: number;
  op: number;
  handle: bigint;
  newHandle: bigint;
  num: number;
  a: string | null;
  b: string | null;
}

/** A decoded RESPONSE body. `hresult` is unsigned (0x80370105, not negative). */
export interface ResponseFrame {
  seq: number;
  hresult: number;
  processId: number;
  result: string | null;
  /** CreateProcess that made pipes: optional trailer `u64 token, u32 mask` (PROTOCOL.md "Process stdio"). */
  stdio?: { token: bigint; mask: number };
}

/** A decoded STDIO_ATTACH body. */
export interface StdioAttachFrame {
  token: bigint;
  stream: number;
}

/** A decoded EVENT body. */
export interface EventFrame {
  handle: bigint;
  eventType: number;
  eventData: string | null;
}

/** A decoded HELLO body. */
export interface HelloFrame {
  protocolVersion: number;
  role: number;
  pid: number;
}

/** A decoded CONTROL or CONTROL_RESPONSE body. */
export interface ControlFrame {
  seq: number;
  json: string | null;
}

/** Thrown for any frame that does not follow the protocol; the receiver drops the connection. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** Builds one frame: u32 length, u32 type, then the body parts written by `parts`. */
class FrameWriter {
  private readonly chunks: Buffer[] = [];

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(v >>> 0);
    this.chunks.push(b);
    return this;
  }

  i32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32LE(v | 0);
    this.chunks.push(b);
    return this;
  }

  u64(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(BigInt.asUintN(64, v));
    this.chunks.push(b);
    return this;
  }

  str(v: string | null | undefined): this {
    if (v === null || v === undefined) return this.u32(0xffffffff);
    const bytes = Buffer.from(v, 'utf8');
    return this.u32(bytes.length).raw(bytes);
  }

  raw(b: Buffer): this {
    this.chunks.push(b);
    return this;
  }

  /** The complete frame, length prefix included. */
  frame(type: number): Buffer {
    const body = Buffer.concat(this.chunks);
    const head = Buffer.allocUnsafe(8);
    head.writeUInt32LE(body.length + 4, 0);
    head.writeUInt32LE(type, 4);
    return Buffer.concat([head, body]);
  }
}

/** Encodes a HELLO frame. */
export function encodeHello(h: HelloFrame): Buffer {
  return new FrameWriter().u32(h.protocolVersion).u32(h.role).u32(h.pid).frame(FrameType.Hello);
}

/** Encodes a REQUEST frame. */
export function encodeRequest(r: RequestFrame): Buffer {
  return new FrameWriter()
    .u32(r.seq).u32(r.op).u64(r.handle).u64(r.newHandle).u32(r.num).str(r.a).str(r.b)
    .frame(FrameType.Request);
}

/** Encodes a RESPONSE frame (`hresult` may be given signed or unsigned). */
export function encodeResponse(r: ResponseFrame): Buffer {
  const w = new FrameWriter().u32(r.seq).i32(r.hresult).u32(r.processId).str(r.result);
  if (r.stdio && r.stdio.mask !== 0) w.u64(r.stdio.token).u32(r.stdio.mask);
  return w.frame(FrameType.Response);
}

/** Encodes an EVENT frame. */
export function encodeEvent(e: EventFrame): Buffer {
  return new FrameWriter().u64(e.handle).u32(e.eventType).str(e.eventData).frame(FrameType.Event);
}

/** Encodes a CONTROL (`type` 4) or CONTROL_RESPONSE (`type` 5) frame. */
export function encodeControl(type: 4 | 5, c: ControlFrame): Buffer {
  return new FrameWriter().u32(c.seq).str(c.json).frame(type);
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/** Sequential reader over one frame body; every read is bounds-checked. */
export class BodyReader {
  private off = 0;

  constructor(private readonly buf: Buffer) {}

  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new ProtocolError(`frame body truncated at byte ${this.off}`);
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.off);
    this.off += 8;
    return v;
  }

  str(): string | null {
    const len = this.u32();
    if (len === 0xffffffff) return null;
    this.need(len);
    const v = this.buf.toString('utf8', this.off, this.off + len);
    this.off += len;
    return v;
  }

  /** Bytes consumed so far. */
  get offset(): number {
    return this.off;
  }

  /** Rejects trailing bytes: a body longer than its fields is a framing bug on the other side. */
  end(): void {
    if (this.off !== this.buf.length) {
      throw new ProtocolError(`frame body has ${this.buf.length - this.off} unexpected trailing bytes`);
    }
  }
}

/** Decodes a HELLO body. */
export function decodeHello(body: Buffer): HelloFrame {
  const r = new BodyReader(body);
  const h = { protocolVersion: r.u32(), role: r.u32(), pid: r.u32() };
  r.end();
  return h;
}

/** Encodes a STDIO_ATTACH frame. */
export function encodeStdioAttach(a: StdioAttachFrame): Buffer {
  return new FrameWriter().u64(a.token).u32(a.stream).frame(FrameType.StdioAttach);
}

/** Decodes a STDIO_ATTACH body. */
export function decodeStdioAttach(body: Buffer): StdioAttachFrame {
  const r = new BodyReader(body);
  const a = { token: r.u64(), stream: r.u32() };
  r.end();
  return a;
}

/** Decodes a REQUEST body. */
export function decodeRequest(body: Buffer): RequestFrame {
  const r = new BodyReader(body);
  const req = { seq: r.u32(), op: r.u32(), handle: r.u64(), newHandle: r.u64(), num: r.u32(), a: r.str(), b: r.str() };
  r.end();
  return req;
}

/** Decodes a RESPONSE body; the hresult is returned unsigned. */
export function decodeResponse(body: Buffer): ResponseFrame {
  const r = new BodyReader(body);
  const res: ResponseFrame = { seq: r.u32(), hresult: r.u32(), processId: r.u32(), result: r.str() };
  if (body.length - r.offset >= 12) res.stdio = { token: r.u64(), mask: r.u32() };
  r.end();
  return res;
}

/** Decodes an EVENT body. */
export function decodeEvent(body: Buffer): EventFrame {
  const r = new BodyReader(body);
  const e = { handle: r.u64(), eventType: r.u32(), eventData: r.str() };
  r.end();
  return e;
}

/** Decodes a CONTROL or CONTROL_RESPONSE body. */
export function decodeControl(body: Buffer): ControlFrame {
  const r = new BodyReader(body);
  const c = { seq: r.u32(), json: r.str() };
  r.end();
  return c;
}

/** One whole frame: its type and the body after the type field. */
export interface RawFrame {
  type: number;
  body: Buffer;
}

/**
 * Splits a byte stream into frames. Feed it every chunk read from the socket; it returns the frames
 * completed so far and keeps the partial tail. Throws ProtocolError on a length outside 4..64 MiB.
 */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer): RawFrame[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: RawFrame[] = [];
    let buf = this.pending.length === 1 ? chunk : Buffer.concat(this.pending, this.pendingBytes);
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (len < 4 || len > MAX_FRAME_BYTES) throw new ProtocolError(`invalid frame length ${len}`);
      if (buf.length - off - 4 < len) break;
      frames.push({ type: buf.readUInt32LE(off + 4), body: buf.subarray(off + 8, off + 4 + len) });
      off += 4 + len;
    }
    buf = buf.subarray(off);
    this.pending = buf.length > 0 ? [buf] : [];
    this.pendingBytes = buf.length;
    return frames;
  }

  /** Hands over the bytes not yet framed (a stdio connection switches to raw bytes after STDIO_ATTACH). */
  takeRest(): Buffer {
    const rest = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return rest;
  }
}
