/**
 * What the handle classes (system.ts, process.ts) share with the client: the native library, the
 * operation runner, the event router, handle tracking, listener sets, and openHandle for the few
 * calls that block a pool thread and yield a new handle (HcsOpen*).
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
  /** True once client.close() began: no new handle may be wrapped (see openHandle). */
  isClosing(): boolean;
  /** Registers an in-flight Open (never rejects) so client.close() waits for it. */
  opening(done: Promise<void>): void;
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

/** What an HcsOpen* (run on a pool thread) produced. */
export interface OpenResult<H> {
  hr: number;
  handle: H | null;
}

/** The three steps of {@link openHandle}. */
export interface OpenSteps<H, T> {
  /** Starts the native Open (on a pool thread). */
  open(): Promise<OpenResult<H>>;
  /** Closes a raw handle that will not be handed out (on a pool thread). */
  close(handle: H): Promise<void>;
  /** Wraps the handle into its object, which subscribes it to the client's event callbacks. */
  wrap(handle: H): T;
}

/**
 * Runs an HcsOpenComputeSystem / HcsOpenProcess and turns the new handle into a handle object,
 * deciding its fate exactly once, when the native call returns:
 *  - the client is open and the caller still waits: `wrap` (subscribe, track, hand out);
 *  - the client began closing meanwhile: `close` it, reject with E_HANDLE. It must never be
 *    wrapped: close() releases the koffi registrations of the event callbacks, and a handle left
 *    carrying one makes the library call a freed trampoline (V8 fatal error on its thread);
 *  - the caller gave up (timeoutMs/signal, which reject at once): `close` it;
 *  - the Open failed but still produced a handle: `close` it.
 * The whole step is registered with the client (`ctx.opening`), so close() waits for it.
 */
export function openHandle<H, T>(
  ctx: ClientContext,
  what: { op: string; systemId?: string },
  opts: CallOptions,
  steps: OpenSteps<H, T>,
): Promise<T> {
  if (ctx.isClosing()) return Promise.reject(new HcsError({ ...what, hresult: HRESULTS.E_HANDLE }));
  if (opts.signal?.aborted) return Promise.reject(new HcsError({ ...what, hresult: HRESULTS.E_ABORT, cause: opts.signal.reason }));
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const giveUp = (hresult: number, cause?: unknown): void => settle(() => reject(new HcsError({ ...what, hresult, cause })));
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => giveUp(HRESULTS.HCS_E_OPERATION_TIMEOUT), opts.timeoutMs);
    const onAbort = (): void => giveUp(HRESULTS.E_ABORT, opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // The native Open runs to its end whatever the caller does; its handle is decided here.
    const decided = (async () => {
      const r = await steps.open();
      if (r.handle !== null && r.hr >= 0 && !settled && !ctx.isClosing()) {
        let object: T;
        try {
          object = steps.wrap(r.handle); // synchronous with the isClosing() check: no window
        } catch (err) {
          await steps.close(r.handle);
          throw err;
        }
        settle(() => resolve(object));
        return;
      }
      if (r.handle !== null) await steps.close(r.handle);
      giveUp(r.hr < 0 ? r.hr : HRESULTS.E_HANDLE);
    })().catch((err: unknown) => settle(() => reject(err)));
    ctx.opening(decided);
  });
}
