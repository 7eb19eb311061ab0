/**
 * Fault injection: failing, hanging and slowed-down operations, configured through CONTROL
 * commands. Counts are taken when a request *arrives*, so "the next N calls" follows arrival order
 * even when many requests are in flight.
 */
import type { OpName } from '../protocol.ts';

/** `fault`: fail the next `remaining` calls of `op` (optionally only for system `id`). */
export interface FailRule {
  op: OpName | '*';
  hresult: number;
  remaining: number;
  id?: string;
  resultDocument?: string;
  /**
   * The op takes effect first and only its result reports `hresult`: the WS2022 HcsCreateProcess
   * "wait spuriously fails (e.g. E_INVALIDARG) even though HCS handed back a valid process handle"
   * (hcsshim internal/hcs/v2/system.go, audit D6).
   */
  afterEffect?: boolean;
}

/** `hang`: the next `remaining` calls of `op` never complete until `clearFaults` or stop. */
export interface HangRule {
  op: OpName | '*';
  remaining: number;
  id?: string;
}

/** What the arrival check decided for one call. */
export interface Verdict {
  fail?: FailRule;
  /**
   * Set when the call hangs: resolves at its release. Taken on arrival, not after the injected
   * latency, so a `clearFaults` that comes while the call still waits out its latency releases it
   * too (it used to hang forever: chaos seed 42 sequence 18, `latency Create` then `hang Create`).
   */
  hang?: Promise<void>;
}

type Rule = { op: OpName | '*'; remaining: number; id?: string };

function matches(rule: Rule, op: OpName, id: string | undefined): boolean {
  return rule.remaining > 0 && (rule.op === '*' || rule.op === op) && (rule.id === undefined || rule.id === id);
}

/** Takes one use of the first matching rule; spent rules are removed. */
function take<R extends Rule>(rules: R[], op: OpName, id: string | undefined): R | undefined {
  const rule = rules.find((r) => matches(r, op, id));
  if (!rule) return undefined;
  rule.remaining -= 1;
  if (rule.remaining === 0) rules.splice(rules.indexOf(rule), 1);
  return rule;
}

/** The fault configuration of one service. */
export class FaultTable {
  private failRules: FailRule[] = [];
  private hangRules: HangRule[] = [];
  private readonly latencies = new Map<OpName | '*', number>();
  private hung = new Set<() => void>();

  /** Adds a `fault` rule. */
  addFail(rule: FailRule): void {
    this.failRules.push(rule);
  }

  /** Adds a `hang` rule. */
  addHang(rule: HangRule): void {
    this.hangRules.push(rule);
  }

  /** Sets the latency of one op or of all (`'*'`); 0 removes it. A per-op value beats `'*'`. */
  setLatency(op: OpName | '*', ms: number): void {
    if (ms > 0) this.latencies.set(op, ms);
    else this.latencies.delete(op);
  }

  /** The injected latency of an op in ms. */
  latencyFor(op: OpName): number {
    return this.latencies.get(op) ?? this.latencies.get('*') ?? 0;
  }

  /** Decides on arrival whether this call fails and/or hangs. */
  onArrival(op: OpName, id: string | undefined): Verdict {
    const hang = take(this.hangRules, op, id) !== undefined ? this.waitReleased() : undefined;
    return { hang, fail: take(this.failRules, op, id) };
  }

  /** Resolves when the hung call is released (clearFaults or service stop). */
  private waitReleased(): Promise<void> {
    return new Promise((resolve) => {
      this.hung.add(resolve);
    });
  }

  /** Number of calls currently hung. */
  get hungCount(): number {
    return this.hung.size;
  }

  /** Removes every rule and latency and releases hung calls (they then execute normally). */
  clear(): void {
    this.failRules = [];
    this.hangRules = [];
    this.latencies.clear();
    const waiting = this.hung;
    this.hung = new Set();
    for (const release of waiting) release();
  }

  /** A JSON-friendly description for `status`. */
  describe(): Record<string, unknown> {
    return {
      fail: this.failRules.map((r) => ({ ...r })),
      hang: this.hangRules.map((r) => ({ ...r })),
      latency: Object.fromEntries(this.latencies),
      hung: this.hung.size,
    };
  }
}
