/**
 * Bounded concurrency for HCS operations: at most `limit` calls run at once, the rest queue FIFO.
 *
 * Hand-off style (as src/hcs/pool.ts): a finishing call passes its slot directly to the next
 * waiter instead of freeing it. Freeing first and letting the waiter take it on its next tick let
 * a caller arriving in between (one microtask after the release) take the slot too, so a limit
 * of 1 ran 2 calls at once.
 */
export class Limiter {
  #running = 0;
  readonly #queue: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency must be a positive integer (got ${limit})`);
  }

  /** Calls in flight now. */
  get running(): number {
    return this.#running;
  }

  /** Calls waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Run `fn` when a slot is free. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running < this.limit) this.#running++;
    else await new Promise<void>((resolve) => this.#queue.push(resolve)); // the slot is handed over
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
