/**
 * Routing of HCS events to handle objects: one registered system-event callback and one
 * process-event callback for the whole client, each called with an integer context key
 * (never a JS object pointer, as hcsshim does). koffi runs them on the JS main thread.
 */
import type { CallbackPointer, HcsNative, NativeEvent } from './ffi.ts';

/** HCS_EVENT_TYPE values the binding decodes (hcs-api.md §1.1). */
export const HcsEventType = {
  SystemExited: 0x00000001,
  ProcessExited: 0x00010000,
  OperationCallback: 0x01000000,
  ServiceDisconnect: 0x02000000,
} as const;

type Sink = (event: NativeEvent) => void;

/** Owns the two shared event callbacks and the key -> handle table. */
export class EventRouter {
  readonly systemCallback: CallbackPointer;
  readonly processCallback: CallbackPointer;
  private readonly sinks = new Map<number, Sink>();
  private nextKey = 1;
  private released = false;

  constructor(private readonly native: HcsNative) {
    const route = (event: NativeEvent, ctx: bigint): void => this.route(event, ctx);
    this.systemCallback = native.registerEventCallback(route);
    this.processCallback = native.registerEventCallback(route);
  }

  /** Reserves a context key whose events go to `sink`. */
  attach(sink: Sink): number {
    const key = this.nextKey++;
    this.sinks.set(key, sink);
    return key;
  }

  /** Forgets a key; call only after the handle using it is closed (no callback can follow). */
  detach(key: number): void {
    this.sinks.delete(key);
  }

  /** Handles still attached. */
  get size(): number {
    return this.sinks.size;
  }

  /** Unregisters both callbacks. Only once every handle that used them is closed. */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.native.unregisterCallback(this.systemCallback);
    this.native.unregisterCallback(this.processCallback);
  }

  private route(event: NativeEvent, ctx: bigint): void {
    const sink = this.sinks.get(Number(ctx));
    if (!sink) return;
    try {
      sink(event);
    } catch (err) {
      // A throwing listener must not make koffi return garbage to HCS; surface it like an emitter would.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
