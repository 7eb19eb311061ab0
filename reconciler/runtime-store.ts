/**
 * The runtime state of every manifest name and its single writer. Everything that happens (node
 * results, HCS events, adoption, missed exits) reaches it as an outcome through {@link
 * RuntimeStore.record}, which folds it in with the pure reducer (runtime.ts), applies the hard
 * restart cap (restart-cap.ts) and records the history line the change gives.
 */
import type { EventHistory } from './history.ts';
import { historyLine } from './events.ts';
import { parseSystemId } from './identity.ts';
import type { DesiredSystem, Logger } from './ports.ts';
import type { ExitInfo } from './reasons.ts';
import { countRestart, type RestartWindow } from './restart-cap.ts';
import { NO_RUNTIME, reduceRuntime, type Outcome, type RuntimeInfo } from './runtime.ts';

/** What the store needs. */
export interface RuntimeStoreDeps {
  history: EventHistory;
  logger: Logger;
  now(): number;
  desired(name: string): DesiredSystem | undefined;
  /** Called after every change, with the record before and after it. */
  onChange(before: RuntimeInfo, after: RuntimeInfo): void;
}

/** Runtime records by name; changed only by {@link RuntimeStore.record}. */
export class RuntimeStore {
  readonly #records = new Map<string, RuntimeInfo>();
  readonly #restartWindows = new Map<string, RestartWindow>();
  #version = 0;

  constructor(private readonly deps: RuntimeStoreDeps) {}

  /** The records (read-only view for the planner, status and the relist). */
  get records(): ReadonlyMap<string, RuntimeInfo> {
    return this.#records;
  }

  /** Bumped by every change (the planner's memo compares it). */
  get version(): number {
    return this.#version;
  }

  info(name: string): RuntimeInfo {
    return this.#records.get(name) ?? NO_RUNTIME;
  }

  /** Fold an outcome in and record the history line it gives. */
  record(name: string, outcome: Outcome): void {
    const before = this.info(name);
    let after = reduceRuntime(before, outcome, { desired: this.deps.desired(name) });
    // A counted restart also goes through the hard cap (restart-cap.ts), whatever the backoff.
    if (outcome.type === 'exited' && after.restarts > before.restarts && after.lastExit) after = this.#capRestart(name, after.lastExit.hash, outcome.at, after);
    if (after !== before) {
      this.#records.set(name, after);
      this.#version++;
      this.deps.onChange(before, after);
    }
    const line = historyLine(outcome, before, after, this.deps.now());
    if (line) this.deps.history.record(name, line.kind, line.message, { ...(line.id ? { id: line.id } : {}), ...(line.hresult ? { hresult: line.hresult } : {}) });
  }

  /** A run ended (event or missed): the reducer counts it once, or not at all for a deliberate stop. */
  exit(id: string, exit: ExitInfo, pid?: number): void {
    const name = parseSystemId(id)?.name;
    if (!name) return;
    this.record(name, { type: 'exited', id, exit, at: this.deps.now(), ...(pid !== undefined ? { pid } : {}) });
  }

  /** The hard restart cap (restart-cap.ts): over it, the system is parked as failed for this hash. */
  #capRestart(name: string, hash: string, now: number, info: RuntimeInfo): RuntimeInfo {
    const decision = countRestart(this.#restartWindows.get(name), hash, now);
    this.#restartWindows.set(name, decision.window);
    if (!decision.parked) return info;
    this.deps.history.record(name, 'error', decision.parked);
    this.deps.logger.warn('system parked: restart cap', { system: name, reason: decision.parked });
    return { ...info, failed: { hash, message: decision.parked } };
  }
}
