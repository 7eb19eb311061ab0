/**
 * Bounded, in-memory event history per system (kubectl describe-style "Events"): created,
 * started, exited with ExitType, backoff, re-created because the hash changed, pruned, errors.
 */

/** Kind of a recorded event. */
export type HistoryKind =
  | 'created'
  | 'started'
  | 'adopted'
  | 'paused'
  | 'resumed'
  | 'stopped'
  | 'exited'
  | 'backoff'
  | 'recreated'
  | 'pruned'
  | 'process-started'
  | 'process-exited'
  | 'error'
  | 'manifest-error'
  | 'guard'
  | 'pulled';

/** One entry of the history. */
export interface HistoryEvent {
  seq: number;
  /** Clock time in ms. */
  at: number;
  system: string;
  kind: HistoryKind;
  message: string;
  id?: string;
  hresult?: string;
}

/** Ring buffers of events per system with a global cap, plus live subscribers. */
export class EventHistory {
  #seq = 0;
  #perSystem = new Map<string, HistoryEvent[]>();
  /** Every kept event in record order, from `#head` on (some already dropped per system). */
  #order: HistoryEvent[] = [];
  #head = 0;
  #total = 0;
  #listeners = new Set<(e: HistoryEvent) => void>();

  constructor(
    private readonly now: () => number,
    private readonly perSystemLimit = 100,
    private readonly totalLimit = 5000,
  ) {}

  /** Append an event; oldest events are dropped past the limits. */
  record(system: string, kind: HistoryKind, message: string, extra: { id?: string; hresult?: string } = {}): HistoryEvent {
    const event: HistoryEvent = { seq: ++this.#seq, at: this.now(), system, kind, message, ...extra };
    const list = this.#perSystem.get(system) ?? [];
    list.push(event);
    this.#perSystem.set(system, list);
    this.#order.push(event);
    this.#total++;
    if (list.length > this.perSystemLimit) this.#drop(list);
    while (this.#total > this.totalLimit) this.#dropOldest();
    if (this.#order.length - this.#head > 2 * this.totalLimit + 1024) this.#compact();
    for (const listener of this.#listeners) listener(event);
    return event;
  }

  /** Events of one system, or all of them, oldest first. */
  list(system?: string): HistoryEvent[] {
    if (system !== undefined) return [...(this.#perSystem.get(system) ?? [])];
    return [...this.#perSystem.values()].flat().sort((a, b) => a.seq - b.seq);
  }

  /** The oldest event still kept for one system (no copy, unlike `list`). */
  first(system: string): HistoryEvent | undefined {
    return this.#perSystem.get(system)?.[0];
  }

  /** Follow new events. */
  subscribe(listener: (e: HistoryEvent) => void): { dispose(): void } {
    this.#listeners.add(listener);
    return { dispose: () => void this.#listeners.delete(listener) };
  }

  #drop(list: HistoryEvent[]): void {
    list.shift();
    this.#total--;
  }

  /**
   * Drops the oldest event overall. The record order is kept in `#order`, so this is O(1)
   * amortised instead of a scan over every system per event (1000 systems past the cap made each
   * record cost 1000 comparisons). An entry already dropped by its system's own limit is skipped:
   * a system drops its oldest first, so the global oldest is either its system's first or gone.
   */
  #dropOldest(): void {
    while (this.#head < this.#order.length) {
      const event = this.#order[this.#head++]!;
      const list = this.#perSystem.get(event.system);
      if (list?.[0] === event) {
        this.#drop(list);
        break;
      }
    }
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) this.#compact();
  }

  /** Forgets the order entries of dropped events (a system's list is a suffix of its records). */
  #compact(): void {
    this.#order = this.#order.slice(this.#head).filter((e) => e.seq >= (this.#perSystem.get(e.system)?.[0]?.seq ?? Infinity));
    this.#head = 0;
  }
}
