/**
 * Status rows: one per manifest and per managed system, joining desired state, observed HCS state,
 * runtime (restarts, next retry, last error) and the pending plan. Served by `/status` and
 * `hcs-reconciler status`.
 */
import type { DesiredStore } from './desired.ts';
import type { EventHistory } from './history.ts';
import { shortHash } from './identity.ts';
import type { ObservedState } from './observed.ts';
import type { Plan } from './plan.ts';
import type { RuntimeInfo } from './runtime.ts';
import type { IgnoredManifest, ImagePullProgress, ManifestError, ManifestSnapshot } from './ports.ts';

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

/** Join everything the controller knows into status rows. */
export function buildStatus(inp: StatusInputs): ControllerStatus {
  const names = new Set<string>([...inp.desired.list().map((d) => d.name), ...(inp.observed?.groups.keys() ?? [])]);
  // Pending actions grouped once: filtering the whole plan per row made a status of N systems
  // with a large plan O(N x actions).
  const pending = new Map<string, string[]>();
  for (const n of inp.plan?.nodes ?? []) {
    const list = pending.get(n.resource.name);
    const cause = `${n.op}: ${n.cause}`;
    if (list) list.push(cause);
    else pending.set(n.resource.name, [cause]);
  }
  const systems = [...names].sort().map((name) => row(inp, name, pending.get(name) ?? []));
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
    unrecognised: inp.observed?.unrecognised.map((s) => s.id) ?? [],
    warnings: [...(inp.warnings ?? [])],
  };
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

function row(inp: StatusInputs, name: string, pending: string[]): SystemStatus {
  const d = inp.desired.get(name);
  const parts = inp.observed?.groups.get(name)?.parts ?? [];
  const info = inp.runtime.get(name) ?? { restarts: 0 };
  const hash = d ? shortHash(d.configHash) : undefined;
  const mainId = d?.parts.find((p) => p.role === 'main')?.id;
  const main = parts.find((p) => p.id === mainId) ?? parts.find((p) => p.role === 'main');
  const firstEvent = inp.history.list(name)[0];
  const since = info.since ?? firstEvent?.at;
  const lastError = info.failed?.hash === d?.configHash ? info.failed?.message : info.lastError;
  const progress = d?.image && !main ? inp.pulling?.(name) : undefined;
  return {
    name,
    desired: d ? d.state : 'Absent',
    // With HCS not answering, the last observation is stale: say so rather than show it.
    actual: inp.listError !== undefined ? 'Unknown' : main ? main.state || 'Created' : progress ? 'Pulling' : 'Absent',
    ...(progress && d?.image ? { pull: { reference: d.image.reference, doneBytes: progress.doneBytes, totalBytes: progress.totalBytes } } : {}),
    ids: parts.map((p) => p.id),
    ...(hash ? { hash } : {}),
    restarts: info.restarts,
    ...(info.nextRetryAt !== undefined && info.nextRetryAt > inp.now ? { nextRetryAt: info.nextRetryAt } : {}),
    phase: inp.phase(name) ?? 'idle',
    pending,
    ...(lastError !== undefined ? { lastError } : {}),
    lastKnownGood: inp.desired.isLastKnownGood(name),
    suspended: inp.suspended || d?.suspend === true,
    ...(d ? { source: `${d.source.file}:${d.source.line}` } : {}),
    ...(since !== undefined ? { since } : {}),
  };
}
