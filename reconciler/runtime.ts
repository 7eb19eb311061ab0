/**
 * What the controller remembers about a manifest name between passes, and the only code that
 * changes it: pure reducers `(runtime, outcome) -> runtime`. The executor and the HCS event
 * handlers produce outcomes; the controller folds them in at one call site (`#record`).
 */
import { nextRetryAt, RETRY_FLOOR_MS } from './backoff.ts';
import type { ActionNode } from './graph.ts';
import { parseSystemId, shortHash } from './identity.ts';
import type { ExitInfo } from './reasons.ts';
import type { DesiredSystem } from './ports.ts';

/** The runtime state of one name. */
export interface RuntimeInfo {
  /** Restarts since the last reset (kubelet's restart count). */
  restarts: number;
  /** Clock time before which nothing may be (re)created or started: the backoff window. */
  nextRetryAt?: number;
  /** Why the backoff window is open. */
  backoffAfter?: { kind: 'exit'; exit?: ExitInfo } | { kind: 'failure'; op: string; message: string };
  /** The last run of this hash ended unexpectedly and is to be restarted. */
  lastExit?: { hash: string; exit?: ExitInfo };
  /** A permanent failure for this config hash: shown in status, not retried until the spec changes. */
  failed?: { hash: string; message: string };
  /** The run of this hash ended and the restart policy says not to restart it. */
  completed?: { hash: string; message: string };
  /** The entrypoint of the running container exited: the container must be shut down. */
  entrypointExited?: { hash: string; exitCode: number };
  /** The entrypoint of this hash is known to be running (started or found again). */
  entrypointRunning?: string;
  /** Id of a container this controller created whose entrypoint was not started yet. */
  awaitingEntrypoint?: string;
  /**
   * Ids this controller knows to be running, with the clock time their run began (one or two: the
   * main part and a utility VM). An array of runs, not an object keyed by id: such an object had
   * a hidden class of its own per system (its key is the id), 1000 of them for 1000 systems.
   */
  live?: readonly LiveRun[];
  /** Ids being stopped on purpose: their exit is not an unexpected one. */
  stopping?: readonly string[];
  /** The latest error of a step, cleared by the next step that succeeds. */
  lastError?: string;
  /** Clock time the current run was created or adopted (AGE). */
  since?: number;
  /** The last pull of this name's image that succeeded (when `Always` resolved it last). */
  imagePulled?: { reference: string; digest: string; at: number };
}

/** Runtime of a name nothing happened to yet. */
export const NO_RUNTIME: RuntimeInfo = { restarts: 0 };

/**
 * How the executor classifies a failed node (from the adapter's HcsFailure fields). `superseded`:
 * the node was planned from a rendering that a pull has just replaced; it is not run, and the
 * next plan is made from the new rendering (no backoff, no error).
 */
export type FailureClass = 'permanent' | 'gone' | 'transient' | 'superseded';

/** Something that happened to a name, as the reducers understand it. */
export type Outcome =
  | { type: 'nodeStarted'; node: ActionNode; at: number }
  | { type: 'created'; id: string; main: boolean; at: number }
  | { type: 'started'; id: string; at: number }
  | { type: 'stopped'; node: ActionNode & { op: 'stop' }; how: 'shut down' | 'terminated' }
  | { type: 'processStarted'; hash: string; id: string; pid?: number; commandLine?: string; found?: boolean }
  | { type: 'processMissing'; hash: string; id: string }
  | { type: 'adopted'; id: string; running: boolean; at: number }
  | { type: 'exited'; id: string; exit: ExitInfo; at: number; pid?: number }
  | { type: 'done'; node: ActionNode }
  | { type: 'imagePulled'; reference: string; digest: string; changed: boolean; at: number }
  | { type: 'failed'; node: ActionNode; failure: FailureClass; message: string; at: number; hresult?: string };

/** What a reducer may read besides the runtime: the name's desired spec. */
export interface ReduceEnv {
  desired?: DesiredSystem;
}

/** Fold one outcome into a name's runtime. Pure. */
/** A run this controller knows to be going on: the id and the clock time it began. */
export interface LiveRun {
  readonly id: string;
  readonly at: number;
}

/** When the known run of `id` began, if one is known. */
export function liveSince(info: RuntimeInfo, id: string): number | undefined {
  const live = info.live;
  if (live) for (let i = 0; i < live.length; i++) if (live[i]!.id === id) return live[i]!.at;
  return undefined;
}

export function reduceRuntime(info: RuntimeInfo, outcome: Outcome, env: ReduceEnv = {}): RuntimeInfo {
  switch (outcome.type) {
    case 'nodeStarted': {
      const id = outcome.node.resource.hcsId;
      if (id === undefined) return info; // an image pull: no system involved
      if (outcome.node.op === 'stop') return { ...info, stopping: withId(info.stopping, id) };
      // A run begins when its Start is sent: an exit that arrives before the call returns counts.
      if (outcome.node.op === 'start') return { ...info, live: withRun(info.live, id, outcome.at) };
      return info;
    }
    case 'created': {
      // A new run: what was recorded for the previous run no longer applies.
      const { entrypointExited: _e, entrypointRunning: _r, lastExit: _x, ...rest } = info;
      return { ...rest, since: outcome.at, ...(outcome.main ? { awaitingEntrypoint: outcome.id } : {}) };
    }
    case 'started':
      return { ...info, live: withRun(info.live, outcome.id, outcome.at) };
    case 'stopped':
      return stopped(info, outcome.node);
    case 'processStarted':
    case 'processMissing': {
      const { awaitingEntrypoint: _a, ...rest } = info;
      return outcome.type === 'processStarted'
        ? { ...rest, entrypointRunning: outcome.hash }
        : { ...rest, entrypointExited: { hash: outcome.hash, exitCode: -1 } };
    }
    case 'adopted':
      if (!outcome.running || liveSince(info, outcome.id) !== undefined) return info;
      return { ...info, live: withRun(info.live, outcome.id, outcome.at), since: info.since ?? outcome.at };
    case 'exited':
      return exited(info, outcome, env.desired);
    case 'done': {
      if (info.lastError === undefined) return info;
      const { lastError: _l, ...rest } = info;
      return rest;
    }
    case 'imagePulled':
      return { ...info, imagePulled: { reference: outcome.reference, digest: outcome.digest, at: outcome.at } };
    case 'failed':
      return failed(info, outcome, env.desired);
  }
}

/** Whether an exit of this id is one the controller asked for. */
export function isExpectedExit(info: RuntimeInfo, id: string): boolean {
  return info.stopping?.includes(id) === true;
}

function stopped(info: RuntimeInfo, n: ActionNode & { op: 'stop' }): RuntimeInfo {
  const id = n.resource.hcsId;
  const next: RuntimeInfo = compact({ ...info, live: withoutKey(info.live, id), stopping: withoutId(info.stopping, id) });
  if (next.awaitingEntrypoint === id) delete next.awaitingEntrypoint;
  if (n.reason === 'entrypointExited') {
    delete next.entrypointExited;
    delete next.entrypointRunning;
  }
  // Stopped on purpose: the next start is a fresh one, not a restart after a crash.
  if (n.reason === 'desiredStopped' || n.reason === 'manifestRemoved') {
    return compact({ restarts: 0, live: next.live, stopping: next.stopping });
  }
  return next;
}

/**
 * Count the end of a run once. A crash can report twice (the entrypoint's ProcessExited, then
 * SystemExited; or a utility VM and its hosted container): only the first report of a live run of
 * the main part of the current hash counts; the others change nothing. Exits of systems being
 * stopped on purpose never count.
 */
function exited(info: RuntimeInfo, o: Extract<Outcome, { type: 'exited' }>, d: DesiredSystem | undefined): RuntimeInfo {
  const since = liveSince(info, o.id);
  const next: RuntimeInfo = compact({ ...info, live: withoutKey(info.live, o.id) });
  const parsed = parseSystemId(o.id);
  if (isExpectedExit(info, o.id) || since === undefined || parsed?.role !== 'main' || !d || shortHash(d.configHash) !== parsed.hash) return next;
  const { entrypointExited: _e, entrypointRunning: _r, ...rest } = next;
  const success = o.exit.exitCode !== undefined ? o.exit.exitCode === 0 : o.exit.exitType === 'GracefulExit';
  const withExit: RuntimeInfo = o.exit.exitCode !== undefined ? { ...rest, entrypointExited: { hash: d.configHash, exitCode: o.exit.exitCode } } : rest;
  if (d.restartPolicy === 'Never' || (d.restartPolicy === 'OnFailure' && success)) {
    const what = o.exit.exitCode !== undefined ? `exit code ${o.exit.exitCode}` : `ExitType ${o.exit.exitType ?? 'Unknown'}`;
    return { ...withExit, completed: { hash: d.configHash, message: `exited (${what}), restartPolicy ${d.restartPolicy}` } };
  }
  const retry = nextRetryAt(info.restarts, d.backoff, { at: o.at, ranMs: o.at - since });
  return { ...withExit, ...retry, backoffAfter: { kind: 'exit', exit: o.exit }, lastExit: { hash: d.configHash, exit: o.exit } };
}

/** Permanent errors park the hash; a system gone under a step counts once (its exit); others back off. */
function failed(info: RuntimeInfo, o: Extract<Outcome, { type: 'failed' }>, d: DesiredSystem | undefined): RuntimeInfo {
  if (o.failure === 'superseded') return info;
  const id = o.node.resource.hcsId ?? ''; // '' for an image pull, which has neither stop nor start
  const next: RuntimeInfo = compact({
    ...info,
    lastError: o.message,
    ...(o.node.op === 'stop' ? { stopping: withoutId(info.stopping, id) } : {}),
    // A Start that failed began no run; one that found the system gone did, and its exit counts.
    ...(o.node.op === 'start' && o.failure !== 'gone' ? { live: withoutKey(info.live, id) } : {}),
  });
  if (o.failure === 'permanent' && d) return { ...next, failed: { hash: d.configHash, message: o.message } };
  // The system stopped or vanished under this step (a crash mid-sequence): its exit is counted
  // by the exit outcome, so counting the failed step too would double the backoff.
  if (o.failure === 'gone') return next;
  const retry = nextRetryAt(info.restarts, d?.backoff, { at: o.at, floorMs: RETRY_FLOOR_MS });
  return { ...next, ...retry, backoffAfter: { kind: 'failure', op: o.node.op, message: o.message } };
}

function withId(list: readonly string[] | undefined, id: string): string[] {
  return list?.includes(id) ? [...list] : [...(list ?? []), id];
}

function withoutId(list: readonly string[] | undefined, id: string): string[] | undefined {
  const out = list?.filter((x) => x !== id);
  return out && out.length > 0 ? out : undefined;
}

/** `live` with the run of `id` beginning at `at` (replacing a known run of it). */
function withRun(live: readonly LiveRun[] | undefined, id: string, at: number): readonly LiveRun[] {
  const run: LiveRun = { id, at };
  return live ? [...withoutKey(live, id) ?? [], run] : [run];
}

/** `live` without the run of `id`; undefined once empty. */
function withoutKey(live: readonly LiveRun[] | undefined, id: string): readonly LiveRun[] | undefined {
  if (!live?.some((r) => r.id === id)) return live;
  const rest = live.filter((r) => r.id !== id);
  return rest.length > 0 ? rest : undefined;
}

/** Drop the optional collections that became empty (keeps runtimes comparable in tests). */
function compact(info: RuntimeInfo): RuntimeInfo {
  const out = { ...info };
  if (out.live === undefined) delete out.live;
  if (out.stopping === undefined) delete out.stopping;
  return out;
}
