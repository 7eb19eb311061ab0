/**
 * The one helper that owns asynchronous completion of HCS operations.
 *
 * Each call gets an HCS_OPERATION created with the single registered completion callback; its
 * context is an integer key into `pending`. HCS calls the callback from its own thread; koffi
 * relays it to the JS main thread, where we read the result (HcsGetOperationResult*), free the
 * string (ffi.ts), close the operation (allowed from inside its callback) and settle the promise.
 *
 * Nothing here blocks: the JS thread never waits on native code, and no pool thread is parked on
 * a wait. On timeout or abort the promise rejects at once, HcsCancelOperation is tried (documented
 * as E_NOTIMPL), and the operation stays open until its callback arrives, because HCS may still
 * write to it; hcsshim saw access violations when in-flight calls were abandoned.
 */
import type { CallOptions } from '../../reconciler/ports.ts';
import { HcsError, HRESULTS, failed } from './errors.ts';
import type { CallbackPointer, HcsNative, OperationHandle, StdHandleValues } from './ffi.ts';
import { kernel32LibraryPath, ProcessStdio } from './stdio.ts';

/** One HCS call to run through an operation. */
export interface OperationCall {
  /** Short name for errors: `start`, `create`, `process.signal`, ... */
  op: string;
  systemId?: string;
  /** Makes the native call with the operation; returns its own HRESULT (did it start?). */
  start(operation: OperationHandle): number;
  /** Read the process id too (HcsGetOperationResultAndProcessInfo). */
  processInfo?: boolean;
}

/** What a successful operation produced. */
export interface OperationResult {
  document: string | null;
  processId: number;
  /** processInfo calls: the stdio HANDLEs of HCS_PROCESS_INFORMATION, now owned by the caller (D16). */
  stdio?: StdHandleValues;
}

interface Pending {
  call: OperationCall;
  operation: OperationHandle;
  resolve(r: OperationResult): void;
  reject(e: HcsError): void;
  /** Set once the promise settled early (timeout/abort); the callback then only cleans up. */
  settled: boolean;
  cleanup(): void;
}

/** Runs HCS calls to completion through operation callbacks. One per client. */
export class OperationRunner {
  private readonly pending = new Map<number, Pending>();
  private nextKey = 1;
  private readonly callback: CallbackPointer;
  /** Registered callbacks do not keep node alive (libs.md gotcha A): this ref'd timer does, while needed. */
  private readonly keepAlive: NodeJS.Timeout;
  private idleWaiters: Array<() => void> = [];
  private disposed = false;
  private released = false;

  constructor(private readonly native: HcsNative) {
    this.callback = native.registerCompletionCallback((op, ctx) => this.onComplete(op, ctx));
    this.keepAlive = setInterval(() => {}, 1 << 30);
    this.keepAlive.unref();
  }

  /** Operations whose callback has not arrived yet (including timed-out ones). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Runs one call; resolves with its result document, rejects with an HcsError. */
  run(call: OperationCall, opts: CallOptions = {}): Promise<OperationResult> {
    if (this.disposed) return Promise.reject(this.error(call, HRESULTS.E_HANDLE));
    if (opts.signal?.aborted) return Promise.reject(this.abortError(call, opts.signal));
    const key = this.nextKey++;
    const operation = this.native.createOperation(BigInt(key), this.callback);
    if (operation === null) return Promise.reject(this.error(call, HRESULTS.E_OUTOFMEMORY));
    return new Promise<OperationResult>((resolve, reject) => {
      const entry: Pending = { call, operation, resolve, reject, settled: false, cleanup: () => {} };
      this.pending.set(key, entry);
      this.keepAlive.ref();
      let hr: number;
      try {
        hr = call.start(operation);
      } catch (err) {
        // koffi rejected an argument before calling: nothing started.
        this.native.closeOperation(operation);
        this.forget(key);
        reject(this.error(call, HRESULTS.E_INVALIDARG, null, err));
        return;
      }
      if (failed(hr)) {
        this.failedToStart(key, entry, hr);
        return;
      }
      // HCS may complete synchronously inside the call (hcsshim saw it for HcsCreateProcess on
      // WS2022): then the entry is already settled and a deadline would be a stray timer (audit R2).
      if (!entry.settled) entry.cleanup = this.armDeadline(key, entry, opts);
    });
  }

  /** The call itself failed: the operation never started, so no callback will come. */
  private failedToStart(key: number, entry: Pending, hr: number): void {
    const { document } = this.native.getOperationResult(entry.operation); // hcsshim collects it too
    this.native.closeOperation(entry.operation);
    this.forget(key);
    entry.reject(this.error(entry.call, hr, document));
  }

  /** Timeout and abort: reject now, keep the operation until HCS calls back. Returns a disarm function. */
  private armDeadline(key: number, entry: Pending, opts: CallOptions): () => void {
    const giveUp = (err: HcsError): void => {
      if (entry.settled) return;
      entry.settled = true;
      entry.cleanup();
      this.native.cancelOperation(entry.operation); // E_NOTIMPL today; harmless, and right if HCS implements it
      entry.reject(err);
    };
    const timer = opts.timeoutMs === undefined
      ? undefined
      : setTimeout(() => giveUp(this.error(entry.call, HRESULTS.HCS_E_OPERATION_TIMEOUT)), opts.timeoutMs);
    const onAbort = (): void => giveUp(this.abortError(entry.call, opts.signal as AbortSignal));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
  }

  /** The single completion callback, on the JS main thread. Must not throw (koffi would return 0 to C). */
  private onComplete(operation: OperationHandle, context: bigint): void {
    const key = Number(context);
    const entry = this.pending.get(key);
    if (!entry) return;
    try {
      const { call } = entry;
      const r = call.processInfo
        ? this.native.getOperationResultAndProcessInfo(operation)
        : { ...this.native.getOperationResult(operation), processId: 0 };
      // Closed after this callback returned, not inside it: the HCS thread that called us is
      // blocked until we return, and nothing documents that a close from another thread does not
      // wait for it (audit R1; HcsCloseComputeSystem does wait for in-flight callbacks).
      // It stays pending (drain() waits for it) until the close ran. The deadline is disarmed
      // there too: `settled` below already makes it a no-op, and the callback thread (in the
      // emulator, every completion queued behind this one) waits until this callback returns.
      setImmediate(() => {
        entry.cleanup();
        this.native.closeOperation(operation);
        this.forget(key);
      });
      const stdio = 'stdio' in r ? r.stdio : undefined;
      if (entry.settled || failed(r.hr)) {
        // Nobody will take these pipes: close them, or they leak (and a writer blocks once full).
        if (stdio) new ProcessStdio(kernel32LibraryPath(this.native.libraryPath), stdio).close();
        if (entry.settled) return;
      }
      entry.settled = true;
      if (failed(r.hr)) entry.reject(new HcsError({ op: call.op, systemId: call.systemId, hresult: r.hr, resultDocument: r.document, fromResult: true }));
      else entry.resolve({ document: r.document, processId: r.processId, ...(stdio ? { stdio } : {}) });
    } catch (err) {
      if (!entry.settled) entry.reject(this.error(entry.call, HRESULTS.E_FAIL, null, err));
    }
  }

  private forget(key: number): void {
    this.pending.delete(key);
    if (this.pending.size > 0) return;
    this.keepAlive.unref();
    if (this.disposed) this.release();
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves true once no operation is in flight, or false after `timeoutMs`. */
  drain(timeoutMs = Infinity): Promise<boolean> {
    if (this.pending.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(() => resolve(false), timeoutMs) : undefined;
      this.idleWaiters.push(() => {
        if (timer) clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * Stops accepting calls and frees the callback registration, but only once nothing is in
   * flight: a callback HCS may still make must find valid code. Returns whether it was freed now.
   */
  dispose(): boolean {
    this.disposed = true;
    clearInterval(this.keepAlive); // a closed client must not hold the process open for a hung call
    if (this.pending.size > 0) return false; // freed by forget() when the last callback arrives
    this.release();
    return true;
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.native.unregisterCallback(this.callback);
  }

  private error(call: OperationCall, hr: number, document?: string | null, cause?: unknown): HcsError {
    return new HcsError({ op: call.op, systemId: call.systemId, hresult: hr, resultDocument: document, cause });
  }

  private abortError(call: OperationCall, signal: AbortSignal): HcsError {
    const reason: unknown = signal.reason;
    const isTimeout = (reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
    return this.error(call, isTimeout ? HRESULTS.HCS_E_OPERATION_TIMEOUT : HRESULTS.E_ABORT, null, reason);
  }
}
