/** FIFO gate that bounds the binding's koffi `.async` calls (used by ffi.ts). */

/**
 * Bounds the binding's koffi `.async` calls. koffi serves `.async` calls (queued or running) AND the
 * relay of every callback that arrives on a foreign thread from one set of `max_async_calls`
 * (default 256) memory slots. Past it, `.async` throws "Too many asynchronous calls are running", and
 * a callback from an HCS thread finds no slot: koffi then throws a JS error on that non-JS thread,
 * which aborts node ("Cannot create a handle without a HandleScope"). So pool calls never hold more
 * than half of the slots; further calls wait here, in order. Process-wide: the slots are koffi's.
 */
export class PoolGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private limit?: number;

  /** `limitOf` is read on first use (koffi's configured slot count, halved). */
  constructor(private readonly limitOf: () => number) {}

  /** Run `call` once a slot is free; slots are handed over in FIFO order. */
  async run<R>(call: () => Promise<R>): Promise<R> {
    this.limit ??= this.limitOf();
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    try {
      return await call();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
