/**
 * The stdio pipes of an HCS process (HCS_PROCESS_INFORMATION.StdInput/StdOutput/StdError, D16)
 * as Node streams.
 *
 * The values are raw Win32 pipe HANDLEs owned by the caller of HcsCreateProcess ([MSDOCS]
 * HcsCreateProcess.md Remarks; hcsshim wraps the same three in internal/hcs/v2/utils.go
 * makeOpenFiles). Node cannot wrap a raw HANDLE (nodejs/node#57288: fs streams want CRT fds), so
 * each opened handle gets a worker thread (stdio-worker.mjs) that calls kernel32's ReadFile or
 * WriteFile synchronously and posts the bytes; the libuv pool is never held by a blocked read.
 * On Linux the same code calls the emulator's libkernel32-emu.so, which has the kernel32 ABI.
 *
 * Ownership, so every handle is closed exactly once: a handle is either handed to one stream
 * (its worker closes it when the stream ends) or closed by {@link ProcessStdio.close} if no
 * stream took it. A reader ends when the process's end closes (the process exited); it cannot be
 * interrupted earlier (closing a handle another thread is blocked on is undefined on Windows):
 * terminate the process instead.
 */
import { dirname, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import koffi, { type LibraryHandle } from 'koffi';
import { system32Path, type StdHandleValues } from './ffi.ts';

/** INVALID_HANDLE_VALUE as a pointer-sized unsigned value. */
const INVALID_HANDLE_VALUE = 0xffffffffffffffffn;
const WORKER_URL = new URL('./stdio-worker.mjs', import.meta.url);
/** Bytes per ReadFile, and chunks a reader may have unread before it stops reading. */
const CHUNK_BYTES = 64 * 1024;
const READ_CREDITS = 16;

/**
 * Where ReadFile/WriteFile/CloseHandle come from: kernel32.dll on Windows, else env
 * HCS_KERNEL32_LIBRARY, else libkernel32-emu.so next to the HCS library (the emulator's).
 */
export function kernel32LibraryPath(hcsLibraryPath: string): string {
  if (process.platform === 'win32') return system32Path('kernel32.dll'); // by full path, like every Windows DLL here (D22)
  return process.env.HCS_KERNEL32_LIBRARY ?? join(dirname(hcsLibraryPath), 'libkernel32-emu.so');
}

/** A HANDLE value that means "no pipe". */
export function isNoHandle(value: bigint | null | undefined): boolean {
  return value === null || value === undefined || value === 0n || BigInt.asUintN(64, value) === INVALID_HANDLE_VALUE;
}

/**
 * Where a reader's blocking ReadFile runs. `worker` (default): a worker thread per pipe, so the
 * libuv pool is never held (the controller and `exec` need their pool for HCS calls). `pool`: koffi
 * `.async` on a libuv pool thread, one blocked pool thread per pipe and no second V8 isolate
 * (a worker costs its own heap and start-up): for a process that does nothing else, the log relay.
 */
export type ReaderThread = 'worker' | 'pool';

interface Kernel32 {
  ReadFile: ReturnType<LibraryHandle['func']>;
  CloseHandle: ReturnType<LibraryHandle['func']>;
}
const kernel32s = new Map<string, Kernel32>();

/** The kernel32 functions the main thread calls (fileapi.h / handleapi.h; BOOL = int32, DWORD = uint32). */
function kernel32(libraryPath: string): Kernel32 {
  let k = kernel32s.get(libraryPath);
  if (!k) {
    const lib = koffi.load(libraryPath);
    k = {
      ReadFile: lib.func('int32_t __stdcall ReadFile(void *hFile, void *lpBuffer, uint32_t nNumberOfBytesToRead, _Out_ uint32_t *lpNumberOfBytesRead, void *lpOverlapped)'),
      CloseHandle: lib.func('int32_t __stdcall CloseHandle(void *hObject)'),
    };
    kernel32s.set(libraryPath, k);
  }
  return k;
}

/** Calls CloseHandle on the main thread (never blocks on a pipe). */
function closeHandleNow(libraryPath: string, handle: bigint): boolean {
  return (kernel32(libraryPath).CloseHandle(handle) as number) !== 0;
}

/** A pipe that failed (the stream's error). */
export class PipeError extends Error {
  constructor(readonly stream: string, readonly win32Error: number) {
    super(`${stream}: pipe failed (Win32 error ${win32Error})`);
  }
}

/** The stdio pipes of one process; each present handle is closed exactly once. */
export class ProcessStdio {
  private readonly owned: Map<'stdin' | 'stdout' | 'stderr', bigint>;

  constructor(private readonly libraryPath: string, values: StdHandleValues) {
    this.owned = new Map();
    if (!isNoHandle(values.stdInput)) this.owned.set('stdin', values.stdInput as bigint);
    if (!isNoHandle(values.stdOutput)) this.owned.set('stdout', values.stdOutput as bigint);
    if (!isNoHandle(values.stdError)) this.owned.set('stderr', values.stdError as bigint);
  }

  /** Which pipes exist and have not been taken or closed. */
  has(which: 'stdin' | 'stdout' | 'stderr'): boolean {
    return this.owned.has(which);
  }

  /**
   * Takes stdout or stderr as a Readable (once); undefined when that pipe does not exist.
   * `thread: 'pool'` reads on a libuv pool thread instead of a worker (see {@link ReaderThread}).
   */
  reader(which: 'stdout' | 'stderr', opts: { thread?: ReaderThread } = {}): Readable | undefined {
    const handle = this.take(which);
    if (handle === undefined) return undefined;
    return opts.thread === 'pool' ? poolReader(this.libraryPath, handle, which) : pipeReader(this.libraryPath, handle, which);
  }

  /** Takes stdin as a Writable (once); `end()` closes the pipe (the process sees end of input). */
  writer(): Writable | undefined {
    const handle = this.take('stdin');
    return handle === undefined ? undefined : pipeWriter(this.libraryPath, handle);
  }

  /** Closes every handle no stream took. Idempotent. */
  close(): void {
    for (const which of [...this.owned.keys()]) {
      const handle = this.take(which);
      if (handle !== undefined) closeHandleNow(this.libraryPath, handle);
    }
  }

  private take(which: 'stdin' | 'stdout' | 'stderr'): bigint | undefined {
    const handle = this.owned.get(which);
    this.owned.delete(which);
    return handle;
  }
}

function startWorker(libraryPath: string, handle: bigint, mode: 'read' | 'write', credits?: SharedArrayBuffer): Worker {
  return new Worker(WORKER_URL, { workerData: { libraryPath, handle, mode, chunkBytes: CHUNK_BYTES, credits } });
}

/** A Readable over a pipe HANDLE; the worker closes the handle at end of stream. */
function pipeReader(libraryPath: string, handle: bigint, name: string): Readable {
  const credits = new SharedArrayBuffer(4);
  const flow = new Int32Array(credits);
  Atomics.store(flow, 0, READ_CREDITS);
  const worker = startWorker(libraryPath, handle, 'read', credits);
  let ended = false;
  const stream = new Readable({
    read() {
      // One more chunk may be read for every chunk consumed.
      if (Atomics.load(flow, 0) < READ_CREDITS) {
        Atomics.add(flow, 0, 1);
        Atomics.notify(flow, 0);
      }
    },
  });
  worker.on('message', (msg: { chunk?: Uint8Array; end?: boolean; error?: number }) => {
    if (msg.chunk) stream.push(Buffer.from(msg.chunk.buffer, msg.chunk.byteOffset, msg.chunk.byteLength));
    else if (msg.end && !ended) {
      ended = true;
      stream.push(null); // ERROR_BROKEN_PIPE (109) is the normal end: the writer closed
    }
  });
  worker.on('error', (err) => stream.destroy(err));
  worker.on('exit', () => {
    if (!ended) stream.destroy(new PipeError(name, -1));
  });
  return stream;
}

/**
 * A Readable over a pipe HANDLE whose ReadFile calls run on the libuv pool (koffi `.async`), one at
 * a time: the next read is issued only while the stream wants data (back-pressure, as with the
 * worker's credits). The handle is closed once, on the main thread, when a read fails (the
 * process's end closed: ERROR_BROKEN_PIPE, the normal end) or koffi reports an error. Destroying
 * the stream early does not interrupt a blocked read (undefined on Windows): the close then
 * happens when that read returns.
 */
function poolReader(libraryPath: string, handle: bigint, name: string): Readable {
  const { ReadFile } = kernel32(libraryPath);
  const buf = Buffer.alloc(CHUNK_BYTES);
  let reading = false;
  let finished = false;
  const finish = (err?: Error): void => {
    if (finished) return;
    finished = true;
    closeHandleNow(libraryPath, handle);
    if (err) stream.destroy(err);
    else stream.push(null);
  };
  const issue = (): void => {
    reading = true;
    const read = [0];
    ReadFile.async(handle, buf, buf.length, read, null, (err: unknown, ok: number) => {
      reading = false;
      if (err) return finish(new PipeError(name, -1));
      if (!ok) return finish(); // the writer closed (ERROR_BROKEN_PIPE) or the pipe failed: end of stream
      if (stream.destroyed) return finish();
      const n = read[0] ?? 0;
      if (n === 0 || stream.push(Buffer.from(buf.subarray(0, n)))) issue();
    });
  };
  const stream = new Readable({
    highWaterMark: READ_CREDITS * CHUNK_BYTES,
    read() {
      if (!reading && !finished) issue();
    },
    destroy(err, cb) {
      if (!reading) finish();
      cb(err);
    },
  });
  return stream;
}

/** A Writable over a pipe HANDLE; end() or destroy() closes the handle (in the worker). */
function pipeWriter(libraryPath: string, handle: bigint): Writable {
  const worker = startWorker(libraryPath, handle, 'write');
  let nextId = 1;
  const waiting = new Map<number, (err?: Error | null) => void>();
  // Who waits for the close (final, then perhaps destroy): each called once, whether the worker's
  // `closed` or its exit comes first (both come; calling a stream callback twice throws).
  const onClosed: Array<() => void> = [];
  const closed = (): void => {
    for (const done of onClosed.splice(0)) done();
  };
  let exited = false;
  worker.on('message', (msg: { id?: number; error?: number; closed?: boolean }) => {
    if (msg.closed) return closed();
    const cb = msg.id === undefined ? undefined : waiting.get(msg.id);
    if (msg.id !== undefined) waiting.delete(msg.id);
    cb?.(msg.error ? new PipeError('stdin', msg.error) : null);
  });
  worker.on('exit', () => {
    exited = true;
    for (const cb of waiting.values()) cb(new PipeError('stdin', -1));
    waiting.clear();
    closed();
  });
  const close = (done: () => void): void => {
    if (exited) return done();
    onClosed.push(done);
    if (onClosed.length === 1) worker.postMessage({ close: true });
  };
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (exited) return cb(new PipeError('stdin', -1));
      const id = nextId++;
      waiting.set(id, cb);
      const data = new Uint8Array(chunk.byteLength);
      data.set(chunk);
      worker.postMessage({ id, data }, [data.buffer]);
    },
    final(cb) {
      close(() => cb());
    },
    destroy(err, cb) {
      close(() => cb(err));
    },
  });
}

/** Emulator only: pipe HANDLEs libkernel32-emu.so has open (undefined with the real kernel32.dll). */
export function emulatorOpenPipeHandles(kernel32Path: string): number | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    return koffi.load(kernel32Path).func('uint32_t Kernel32EmuOpenHandleCount(void)')() as number;
  } catch {
    return undefined;
  }
}
