/**
 * What the handle classes (system.ts, process.ts) share with the client: the native library, the
 * operation runner, the event router, handle tracking, listener sets and the deadline helper for
 * the few calls that block a pool thread (HcsOpen*).
 */
import type { CallOptions, Disposable } from '../../reconciler/ports.ts';
import { HcsError, HRESULTS } from './errors.ts';
import type { EventRouter } from './events.ts';
import type { HcsNative } from './ffi.ts';
import type { OperationRunner } from './operation.ts';

/** Something holding a native handle. */
export interface Closable {
  close(): Promise<void>;
}

/** The client internals a handle object uses. */
export interface ClientContext {
  readonly native: HcsNative;
  readonly runner: OperationRunner;
  readonly events: EventRouter;
  /** Registers an open handle so client.close() closes it. */
  track(handle: Closable): void;
  untrack(handle: Closable): void;
}

/**
 * Listeners of one handle's events. An exit happens once per handle, so a listener that subscribes
 * after it was delivered still gets it (asynchronously): subscribing late cannot miss the exit.
 */
export class ExitListeners<E> {
  private readonly listeners = new Set<(event: E) => void>();
  private exit?: E;

  add(listener: (event: E) => void): Disposable {
    this.listeners.add(listener);
    const exit = this.exit;
    if (exit !== undefined) queueMicrotask(() => this.listeners.has(listener) && listener(exit));
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /** Delivers to every listener; `isExit` remembers it for late subscribers. */
  emit(event: E, isExit: boolean): void {
    if (isExit) this.exit = event;
    for (const l of [...this.listeners]) l(event);
  }

  clear(): void {
    this.listeners.clear();
  }
}

/**
 * Honours timeoutMs/signal for a native call that blocks a pool thread (HcsOpen*): the promise
 * rejects on time, and when the native call finishes later `onLate` gets its result (to close
 * the handle nobody will use).
 */
export function withDeadline<T>(
  work: Promise<T>,
  what: { op: string; systemId?: string },
  opts: CallOptions,
  onLate: (value: T) => void,
): Promise<T> {
  if (opts.timeoutMs === undefined && !opts.signal) return work;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const giveUp = (hresult: number, cause?: unknown): void => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(new HcsError({ ...what, hresult, cause }));
    };
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => giveUp(HRESULTS.HCS_E_OPERATION_TIMEOUT), opts.timeoutMs);
    const onAbort = (): void => giveUp(HRESULTS.E_ABORT, opts.signal?.reason);
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        if (settled) onLate(value); // we already gave up: release what it made
        else {
          settled = true;
          cleanup();
          resolve(value);
        }
      },
      (err: unknown) => {
        if (!settled) {
          settled = true;
          cleanup();
          reject(err);
        }
      },
    );
  });
}
