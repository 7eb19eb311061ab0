/**
 * Bounded concurrency for HCS operations: at most `limit` calls run at once, the rest queue FIFO.
 *
 * Hand-off style (as src/hcs/pool.ts): a finishing call passes its slot directly to the next
 * waiter instead of freeing it. Freeing first and letting the waiter take it on its next tick let
 * a caller arriving in between (one microtask after the release) take the slot too, so a limit
 * of 1 ran 2 calls at once.
 */
import type { Clock } from './ports.ts';

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

  /**
   * Run `fn` when a slot is free. With `wait`, give up waiting for a slot after `wait.ms` (on the
   * injected clock) and reject with `wait.onTimeout()`, leaving the queue as if it had never asked.
   */
  async run<T>(fn: () => Promise<T>, wait?: SlotWait): Promise<T> {
    if (this.#running < this.limit) this.#running++;
    else await this.#waitForSlot(wait); // the slot is handed over
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next) next();
      else this.#running--;
    }
  }

  #waitForSlot(wait: SlotWait | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: unknown;
      const take = (): void => {
        if (timer !== undefined) wait?.clock.clearTimeout(timer);
        resolve();
      };
      this.#queue.push(take);
      if (!wait) return;
      timer = wait.clock.setTimeout(() => {
        const at = this.#queue.indexOf(take);
        if (at < 0) return; // the slot was handed over first
        this.#queue.splice(at, 1);
        reject(wait.onTimeout());
      }, wait.ms);
    });
  }
}

/** How long a caller waits for a slot, on which clock, and the error it gets past that. */
export interface SlotWait {
  ms: number;
  clock: Clock;
  onTimeout: () => Error;
}
