/**
 * Process stdio pipes of the emulated service (PROTOCOL.md "Process stdio").
 *
 * A CreateProcess whose ProcessParameters ask for pipes gets a random 64-bit token and a mask of
 * the streams made; the library then opens one stdio connection per stream (HELLO role 3 +
 * STDIO_ATTACH) and the service answers with one byte (1) once the stream is attached. After that
 * the socket carries the stream's raw bytes: stdout/stderr from the service to the library, stdin
 * the other way.
 *
 * Modelled on an anonymous/named pipe between the container process and the HCS client:
 *  - output written before the reader attached is kept (the pipe exists from process creation);
 *  - at most PIPE_BUFFER_BYTES are in flight: past that the writer is blocked (the emulated
 *    program stops producing until the reader drains), as a writer on a full Windows pipe is;
 *  - when the reader goes away (its process died, CloseHandle) the pipe is broken: later writes
 *    fail and are lost (the program keeps running; what a real program does on ERROR_NO_DATA is
 *    its own business: UNVERIFIED which error a container process sees);
 *  - when the process exits, its ends close: the reader sees end of stream after the buffered
 *    bytes (ReadFile → ERROR_BROKEN_PIPE).
 * `EmulateConsole: true` ignores CreateStdErrPipe ([MSDOCS] SchemaReference ProcessParameters).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { StdioStream } from '../protocol.ts';

/** The bytes a writer may have in flight before it blocks (Windows' default pipe buffer is 4 KiB-64 KiB; UNVERIFIED for HCS). */
export const PIPE_BUFFER_BYTES = 64 * 1024;

/** How long the unattached streams of an exited process can still be attached. */
const UNATTACHED_GRACE_MS = 60_000;

/** The output end of one pipe (stdout or stderr), written by the emulated program. */
export class OutputPipe {
  private socket?: Socket;
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private ended = false;
  /** The reader went away: writes fail from now on. */
  broken = false;
  /** Writes that failed because the pipe was broken. */
  lostWrites = 0;
  private drainWaiters: Array<() => void> = [];

  /** Writes bytes; false when the pipe is broken (the bytes are lost). */
  write(data: string | Buffer): boolean {
    if (this.broken || this.ended) {
      this.lostWrites++;
      return false;
    }
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.socket) this.socket.write(buf);
    else {
      this.queued.push(buf);
      this.queuedBytes += buf.length;
    }
    return true;
  }

  /** True while the writer must wait (more than PIPE_BUFFER_BYTES not yet taken by the reader). */
  get full(): boolean {
    const inFlight = this.socket ? this.socket.writableLength : this.queuedBytes;
    return !this.broken && inFlight >= PIPE_BUFFER_BYTES;
  }

  /** Resolves once the pipe is no longer full (or broken/ended). */
  whenWritable(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  attach(socket: Socket): void {
    this.socket = socket;
    socket.on('drain', () => this.wake());
    socket.on('close', () => {
      if (!this.ended) this.broken = true;
      this.wake();
    });
    socket.on('data', () => {}); // an output pipe's reader sends nothing
    for (const b of this.queued) socket.write(b);
    this.queued = [];
    this.queuedBytes = 0;
    if (this.ended) socket.end();
  }

  /** The process exited: the reader gets end of stream after what is buffered. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.socket?.end();
    this.wake();
  }

  private wake(): void {
    if (this.full) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }
}

/** The input end of the stdin pipe, read by the emulated program. */
export class InputPipe {
  private chunks: Buffer[] = [];
  private closed = false;
  private waiters: Array<() => void> = [];
  private socket?: Socket;

  attach(socket: Socket, initial: Buffer): void {
    this.socket = socket;
    if (initial.length > 0) this.push(initial);
    socket.on('data', (c: Buffer) => this.push(c));
    socket.on('end', () => this.close());
    socket.on('close', () => this.close());
  }

  /** Next chunk, or null at end of input (the client closed its handle). */
  async read(): Promise<Buffer | null> {
    while (this.chunks.length === 0 && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
    return this.chunks.shift() ?? null;
  }

  /** The process exited: nobody reads any more. */
  end(): void {
    this.close();
    this.socket?.destroy();
  }

  private push(c: Buffer): void {
    this.chunks.push(c);
    for (const w of this.waiters.splice(0)) w();
  }

  private close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
  }
}

/** The pipes of one process. */
export interface ProcessPipes {
  token: bigint;
  mask: number;
  stdin?: InputPipe;
  stdout?: OutputPipe;
  stderr?: OutputPipe;
  /** Streams attached so far (each at most once). */
  attached: Set<number>;
}

/** Which pipes ProcessParameters ask for (EmulateConsole ignores CreateStdErrPipe). */
export function requestedPipes(parameters: Record<string, unknown>): number {
  let mask = 0;
  if (parameters.CreateStdInPipe === true) mask |= 1 << StdioStream.StdIn;
  if (parameters.CreateStdOutPipe === true) mask |= 1 << StdioStream.StdOut;
  if (parameters.CreateStdErrPipe === true && parameters.EmulateConsole !== true) mask |= 1 << StdioStream.StdErr;
  return mask;
}

/** Every process's pipes, by token. */
export class StdioHub {
  private readonly byToken = new Map<bigint, ProcessPipes>();

  /** Makes the pipes a process asked for; undefined when it asked for none. */
  create(parameters: Record<string, unknown>): ProcessPipes | undefined {
    const mask = requestedPipes(parameters);
    if (mask === 0) return undefined;
    let token = 0n;
    while (token === 0n || this.byToken.has(token)) token = randomBytes(8).readBigUInt64LE();
    const pipes: ProcessPipes = {
      token,
      mask,
      attached: new Set(),
      ...(mask & (1 << StdioStream.StdIn) ? { stdin: new InputPipe() } : {}),
      ...(mask & (1 << StdioStream.StdOut) ? { stdout: new OutputPipe() } : {}),
      ...(mask & (1 << StdioStream.StdErr) ? { stderr: new OutputPipe() } : {}),
    };
    this.byToken.set(token, pipes);
    return pipes;
  }

  /** Attaches a stdio connection; false for an unknown token, a stream not made, or a second attach. */
  attach(token: bigint, stream: number, socket: Socket, rest: Buffer, acknowledge: () => void): boolean {
    const pipes = this.byToken.get(token);
    if (!pipes || !(pipes.mask & (1 << stream)) || pipes.attached.has(stream)) return false;
    pipes.attached.add(stream);
    acknowledge();
    if (stream === StdioStream.StdIn) pipes.stdin?.attach(socket, rest);
    else (stream === StdioStream.StdOut ? pipes.stdout : pipes.stderr)?.attach(socket);
    if (pipes.attached.size === popcount(pipes.mask)) this.byToken.delete(token); // nothing left to attach
    return true;
  }

  /**
   * The streams of a process nobody has attached yet, as a RESPONSE stdio trailer: what
   * HcsGetProcessInfo hands out when the HcsCreateProcess result carried no handles (the WS2022
   * spurious wait failure, hcsshim internal/hcs/v2/system.go createProcess recovers "via
   * HcsGetProcessInfo" and uses its HCS_PROCESS_INFORMATION's std handles; [MSDOCS]
   * HcsCreateProcess.md: the handles "can still get this through a call to HcsGetProcessInfo").
   * A stream is handed out once: whether Windows duplicates handles on a second call is
   * UNVERIFIED, so the emulator gives none (INVALID_HANDLE_VALUE-like "not present").
   */
  unattached(pipes: ProcessPipes): { token: bigint; mask: number } | undefined {
    if (!this.byToken.has(pipes.token)) return undefined;
    let mask = pipes.mask;
    for (const s of pipes.attached) mask &= ~(1 << s);
    return mask === 0 ? undefined : { token: pipes.token, mask };
  }

  /**
   * The process exited: its pipe ends close. Streams not attached yet stay attachable for
   * UNATTACHED_GRACE_MS (a quick process can exit before its creator got the RESPONSE), with
   * their output kept, like bytes left in a pipe whose writer has exited.
   */
  exited(pipes: ProcessPipes): void {
    pipes.stdout?.end();
    pipes.stderr?.end();
    pipes.stdin?.end();
    if (!this.byToken.has(pipes.token)) return;
    setTimeout(() => this.byToken.delete(pipes.token), UNATTACHED_GRACE_MS).unref();
  }
}

function popcount(mask: number): number {
  let n = 0;
  for (let m = mask; m !== 0; m &= m - 1) n++;
  return n;
}
