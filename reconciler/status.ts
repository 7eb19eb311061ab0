/**
 * Status rows: one per manifest and per managed system, joining desired state, observed HCS state,
 * runtime (restarts, next retry, last error) and the pending plan. Served by `/status` and
 * `hcs-reconciler status`.
 */
import type { DesiredStore } from './desired.ts';
import type { EventHistory, HistoryEvent } from './history.ts';
import { shortHash } from './identity.ts';
import type { ObservedPart, ObservedState } from './observed.ts';
import type { Plan } from './plan.ts';
import type { RuntimeInfo } from './runtime.ts';
import type { DesiredSystem, IgnoredManifest, ImagePullProgress, ManifestError, ManifestSnapshot } from './ports.ts';

/** One row of `status`. */
export interface SystemStatus {
  name: string;
  /** Desired state, or `Absent` for a system whose manifest is gone (being pruned). */
  desired: 'Running' | 'Stopped' | 'Paused' | 'Absent';
  /** Observed state of the main part (`Absent` when HCS has none; `Pulling` while its image is pulled). */
  actual: string;
  /** While the image of a system not yet created is pulled: the reference and bytes done / total. */
  pull?: { reference: string } & ImagePullProgress;
  ids: string[];
  hash?: string;
  restarts: number;
  /** Clock time of the next retry, when backing off. */
  nextRetryAt?: number;
  /** What the system is doing: `idle`, `working`, `backoff` or `failed`. */
  phase: string;
  /** Causes of the pending actions (empty when converged). */
  pending: string[];
  lastError?: string;
  /** The manifest is invalid now and the last valid spec is used. */
  lastKnownGood: boolean;
  suspended: boolean;
  source?: string;
  /** Clock time the current run was created or adopted (else of the first event recorded). */
  since?: number;
}

/** The whole status document. */
export interface ControllerStatus {
  owner: string;
  ready: boolean;
  converged: boolean;
  passes: number;
  lastPassAt?: number;
  pruneHold?: string;
  listError?: string;
  suspended: boolean;
  systems: SystemStatus[];
  manifestErrors: ManifestError[];
  ignored: IgnoredManifest[];
  /** Systems with our Owner whose id we did not make: reported, never touched. */
  unrecognised: string[];
  /** Standing warnings about the controller's setup (e.g. a folder writable by non-administrators). */
  warnings: string[];
}

/** Inputs of {@link buildStatus}. */
export interface StatusInputs {
  owner: string;
  desired: DesiredStore;
  snapshot?: ManifestSnapshot;
  observed?: ObservedState;
  plan?: Plan;
  runtime: ReadonlyMap<string, RuntimeInfo>;
  /** `working`, `backoff` or `failed`; undefined when idle. */
  phase(name: string): string | undefined;
  history: EventHistory;
  passes: number;
  lastPassAt?: number;
  listError?: string;
  suspended: boolean;
  now: number;
  warnings?: readonly string[];
  /** The pull in flight of a name's image, if any. */
  pulling?(name: string): ImagePullProgress | undefined;
}

/** Join everything the controller knows into status rows (no memory between calls). */
export function buildStatus(inp: StatusInputs): ControllerStatus {
  return new StatusBuilder().build(inp);
}

const NO_PENDING: readonly string[] = Object.freeze([]);
const NO_PARTS: readonly ObservedPart[] = Object.freeze([]);
const NO_INFO: RuntimeInfo = Object.freeze({ restarts: 0 });
/** A memo's row before it is built (replaced at once). */
const NO_ROW = Object.freeze({}) as SystemStatus;

/** What one row was built from: the row is reused while every input is the same object. */
interface RowMemo {
  d: DesiredSystem | undefined;
  parts: readonly ObservedPart[];
  info: RuntimeInfo;
  pending: readonly string[];
  phase: string | undefined;
  lastKnownGood: boolean;
  suspended: boolean;
  stale: boolean;
  retrying: boolean;
  first: HistoryEvent | undefined;
  /** Bytes done / total of the pull in flight of its image (numbers, so an unchanged pull keeps the row). */
  pullDone: number | undefined;
  pullTotal: number | undefined;
  row: SystemStatus;
}

/**
 * {@link buildStatus} with memory: a row is rebuilt only when one of its inputs changed (by
 * identity: the desired spec, the observed parts, the runtime record, the pending causes, the
 * phase, ...), and the systems array is the previous one when no row changed. So a status of
 * 1000 unchanged systems (the status page refetches it on every event, metrics on every scrape)
 * allocates nothing per system. Rows and arrays it returns are frozen and shared between calls.
 */
export class StatusBuilder {
  readonly #rows = new Map<string, RowMemo>();
  #names: { desired: readonly DesiredSystem[]; groups: ObservedState['groups'] | undefined; names: readonly string[] } | undefined;
  #pending: { plan: Plan | undefined; byName: Map<string, readonly string[]> } | undefined;
  #systems: readonly SystemStatus[] = Object.freeze([]);
  #unrecognised: { observed: ObservedState | undefined; ids: string[] } | undefined;
  /** Rows built since the builder was made (a counter for tests and diagnostics). */
  rowsBuilt = 0;

  build(inp: StatusInputs): ControllerStatus {
    const names = this.#sortedNames(inp);
    const pending = this.#pendingByName(inp.plan);
    const prev = this.#systems;
    let out: SystemStatus[] | undefined = names.length === prev.length ? undefined : [];
    for (let i = 0; i < names.length; i++) {
      const r = this.#row(inp, names[i]!, pending.get(names[i]!) ?? NO_PENDING);
      if (out === undefined && prev[i] === r) continue;
      out ??= prev.slice(0, i);
      out.push(r);
    }
    if (out) this.#systems = Object.freeze(out);
    const systems = this.#systems as SystemStatus[];
    return {
      owner: inp.owner,
      ready: inp.passes > 0,
      converged: isConverged(inp, systems),
      passes: inp.passes,
      ...(inp.lastPassAt !== undefined ? { lastPassAt: inp.lastPassAt } : {}),
      ...(inp.desired.pruneHold() ? { pruneHold: inp.desired.pruneHold() } : {}),
      ...(inp.listError ? { listError: inp.listError } : {}),
      suspended: inp.suspended,
      systems,
      manifestErrors: [...inp.desired.errors()],
      ignored: inp.snapshot?.ignored ?? [],
      unrecognised: this.#unrecognisedIds(inp.observed),
      warnings: [...(inp.warnings ?? [])],
    };
  }

  /** Desired and observed names, sorted; recomputed only when either side changed. */
  #sortedNames(inp: StatusInputs): readonly string[] {
    const desired = inp.desired.list();
    const groups = inp.observed?.groups;
    if (this.#names && this.#names.desired === desired && this.#names.groups === groups) return this.#names.names;
    const names = Object.freeze([...new Set<string>([...desired.map((d) => d.name), ...(groups?.keys() ?? [])])].sort());
    const keep = new Set(names);
    for (const name of this.#rows.keys()) if (!keep.has(name)) this.#rows.delete(name);
    this.#names = { desired, groups, names };
    return names;
  }

  /**
   * Pending causes grouped once per plan: filtering the whole plan per row made a status of N
   * systems with a large plan O(N x actions).
   */
  #pendingByName(plan: Plan | undefined): Map<string, readonly string[]> {
    if (this.#pending && this.#pending.plan === plan) return this.#pending.byName;
    const byName = new Map<string, string[]>();
    for (const n of plan?.nodes ?? []) {
      const list = byName.get(n.resource.name);
      const cause = `${n.op}: ${n.cause}`;
      if (list) list.push(cause);
      else byName.set(n.resource.name, [cause]);
    }
    for (const list of byName.values()) Object.freeze(list);
    this.#pending = { plan, byName };
    return byName;
  }

  #unrecognisedIds(observed: ObservedState | undefined): string[] {
    if (this.#unrecognised?.observed !== observed || !this.#unrecognised) {
      this.#unrecognised = { observed, ids: observed?.unrecognised.map((s) => s.id) ?? [] };
    }
    return [...this.#unrecognised.ids];
  }

  #row(inp: StatusInputs, name: string, pending: readonly string[]): SystemStatus {
    const d = inp.desired.get(name);
    const parts = inp.observed?.groups.get(name)?.parts ?? NO_PARTS;
    const info = inp.runtime.get(name) ?? NO_INFO;
    const phase = inp.phase(name);
    const lastKnownGood = inp.desired.isLastKnownGood(name);
    const suspended = inp.suspended || d?.suspend === true;
    const stale = inp.listError !== undefined;
    const retrying = info.nextRetryAt !== undefined && info.nextRetryAt > inp.now;
    const first = info.since === undefined ? inp.history.first(name) : undefined;
    const pull = d?.image ? inp.pulling?.(name) : undefined;
    const pullDone = pull?.doneBytes;
    const pullTotal = pull?.totalBytes;
    const m = this.#rows.get(name);
    if (m && m.d === d && m.parts === parts && m.info === info && m.pending === pending && m.phase === phase && m.lastKnownGood === lastKnownGood
      && m.suspended === suspended && m.stale === stale && m.retrying === retrying && m.first === first
      && m.pullDone === pullDone && m.pullTotal === pullTotal) return m.row;
    this.rowsBuilt++;
    // A literal, not a spread or Object.assign: V8 gave each memo made by `{ ...inputs, row }` and
    // then assigned to a map of its own (987 maps with their descriptor arrays for 1000 rows).
    const memo: RowMemo = { d, parts, info, pending, phase, lastKnownGood, suspended, stale, retrying, first, pullDone, pullTotal, row: NO_ROW };
    memo.row = Object.freeze(row(name, memo));
    this.#rows.set(name, memo);
    return memo.row;
  }
}

/**
 * Converged: the last plan had nothing to do, no system is still working (e.g. verifying an
 * adopted entrypoint, which the plan does not count as a change), HCS answered the last listing
 * (rows are not stale) and every desired Running system exists unless it is parked (failed,
 * completed, suspended).
 */
function isConverged(inp: StatusInputs, systems: readonly SystemStatus[]): boolean {
  if (!(inp.plan?.converged ?? false) || inp.listError !== undefined) return false;
  return systems.every((s) => {
    if (s.phase !== 'idle' && s.phase !== 'failed') return false;
    const d = inp.desired.get(s.name);
    if (!d || d.state === 'Stopped' || s.suspended || s.actual !== 'Absent' || s.phase === 'failed') return true;
    return inp.runtime.get(s.name)?.completed?.hash === d.configHash;
  });
}

function row(name: string, r: Omit<RowMemo, 'row'>): SystemStatus {
  const { d, parts, info } = r;
  const hash = d ? shortHash(d.configHash) : undefined;
  const mainId = d?.parts.find((p) => p.role === 'main')?.id;
  const main = parts.find((p) => p.id === mainId) ?? parts.find((p) => p.role === 'main');
  const since = info.since ?? r.first?.at;
  const lastError = info.failed?.hash === d?.configHash ? info.failed?.message : info.lastError;
  const progress = !main && r.pullDone !== undefined && r.pullTotal !== undefined ? { doneBytes: r.pullDone, totalBytes: r.pullTotal } : undefined;
  return {
    name,
    desired: d ? d.state : 'Absent',
    // With HCS not answering, the last observation is stale: say so rather than show it.
    actual: r.stale ? 'Unknown' : main ? main.state || 'Created' : progress ? 'Pulling' : 'Absent',
    ...(progress && d?.image ? { pull: { reference: d.image.reference, doneBytes: progress.doneBytes, totalBytes: progress.totalBytes } } : {}),
    ids: parts.map((p) => p.id),
    ...(hash ? { hash } : {}),
    restarts: info.restarts,
    ...(r.retrying ? { nextRetryAt: info.nextRetryAt } : {}),
    phase: r.phase ?? 'idle',
    pending: r.pending as string[],
    ...(lastError !== undefined ? { lastError } : {}),
    lastKnownGood: r.lastKnownGood,
    suspended: r.suspended,
    ...(d ? { source: `${d.source.file}:${d.source.line}` } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}
