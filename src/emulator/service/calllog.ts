/**
 * The bounded log of completed calls, for tests that check call order (e.g. dependency order of
 * creates) and for `hcs-reconciler emulator calls`.
 */

/** One completed REQUEST. */
export interface CallLogEntry {
  /** Increasing per service process, never reset by clearCallLog (so gaps show dropped entries). */
  seq: number;
  /** Ms since service start when the call arrived. */
  at: number;
  clientPid: number;
  op: string;
  /** The compute system id the call was about ('' if none, e.g. Enumerate). */
  id: string;
  /** Process id for process ops. */
  pid?: number;
  /** Unsigned HRESULT. */
  hresult: number;
  durationMs: number;
}

/** Keeps the newest `capacity` entries. */
export class CallLog {
  private entries: CallLogEntry[] = [];
  private nextSeq = 1;

  constructor(private readonly capacity = 10_000) {}

  /** Appends an entry (seq assigned here). */
  add(entry: Omit<CallLogEntry, 'seq'>): void {
    this.entries.push({ seq: this.nextSeq++, ...entry });
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
  }

  /** All retained entries, oldest first. */
  list(): CallLogEntry[] {
    return [...this.entries];
  }

  /** Forgets all entries. */
  clear(): void {
    this.entries = [];
  }
}
