/**
 * The pure planner: `plan(desired, observed)` returns the ordered actions that move HCS towards
 * the manifests, each with a cause, like `docker compose up --dry-run`. It never performs I/O;
 * `hcs-reconciler plan` prints exactly this, and the controller executes it.
 */
import { backoffDelay, DEFAULT_BACKOFF, formatDelay } from './backoff.ts';
import { shortHash } from './identity.ts';
import { isLive, type ObservedGroup, type ObservedPart, type ObservedState } from './observed.ts';
import type { DesiredSystem, ExitType, RenderedPart } from './ports.ts';

/** What the controller remembers about a name between passes (restarts, failures, exits). */
export interface RuntimeInfo {
  /** Restarts since the last reset (kubelet's restart count). */
  restarts: number;
  /** Clock time before which the next (re)creation must wait. */
  nextRetryAt?: number;
  /** A permanent failure for this config hash: shown in status, not retried until the spec changes. */
  failed?: { hash: string; message: string };
  /** The run of this hash ended and the restart policy says not to restart it. */
  completed?: { hash: string; message: string };
  /** The entrypoint of the running container exited: the container must be shut down. */
  entrypointExited?: { hash: string; exitCode: number };
  /** The entrypoint of this hash is known to be running (started or found again). */
  entrypointRunning?: string;
}

/** Why an action is blocked (wait actions only). */
export type WaitReason = 'backoff' | 'dependency' | 'failed' | 'completed' | 'suspended';

/** One step of a plan. Actions of one name are executed in order by that name's actor. */
export type PlanAction =
  | { kind: 'create'; name: string; id: string; part: RenderedPart; cause: string }
  | { kind: 'start'; name: string; id: string; cause: string }
  | { kind: 'startProcess'; name: string; id: string; cause: string }
  | { kind: 'ensureProcess'; name: string; id: string; cause: string }
  | { kind: 'pause'; name: string; id: string; cause: string }
  | { kind: 'resume'; name: string; id: string; cause: string }
  | { kind: 'stop'; name: string; id: string; cause: string; stopTimeoutMs: number; exit?: boolean }
  | { kind: 'wait'; name: string; reason: WaitReason; cause: string };

/** Input of {@link plan}. */
export interface PlanInput {
  desired: readonly DesiredSystem[];
  observed: ObservedState;
  runtime?: ReadonlyMap<string, RuntimeInfo>;
  /** Clock time (ms), for backoff windows. */
  now?: number;
  /** False while the prune guard holds (folder missing/empty): removed manifests are kept. */
  allowPrune?: boolean;
  /** Global suspend: observe and report, change nothing. */
  suspended?: boolean;
  /** Stop timeout for systems whose manifest is gone (their own is unknown). */
  defaultStopTimeoutMs?: number;
}

/** Result of {@link plan}. */
export interface Plan {
  actions: PlanAction[];
  /** True when nothing is left to do and nothing waits on a backoff or a dependency. */
  converged: boolean;
}

const NO_RUNTIME: RuntimeInfo = { restarts: 0 };

/** Compute the actions that converge HCS to the desired state. Pure. */
export function plan(input: PlanInput): Plan {
  const runtime = input.runtime ?? new Map<string, RuntimeInfo>();
  const ctx: PlanContext = {
    input,
    runtime,
    now: input.now ?? 0,
    desiredByName: new Map(input.desired.map((d) => [d.name, d] as const)),
  };
  const actions: PlanAction[] = [];
  if (input.suspended) {
    for (const d of input.desired) actions.push(wait(d.name, 'suspended', 'controller suspended'));
    return { actions, converged: true };
  }
  for (const d of topologicalOrder(input.desired)) actions.push(...planDesired(ctx, d));
  if (input.allowPrune !== false) actions.push(...planPrune(ctx));
  return { actions, converged: isConverged(actions) };
}

interface PlanContext {
  input: PlanInput;
  runtime: ReadonlyMap<string, RuntimeInfo>;
  now: number;
  desiredByName: Map<string, DesiredSystem>;
}

/**
 * Converged when only parked waits remain. `ensureProcess` is a verification (find the entrypoint
 * of an adopted container in its ProcessList), not a change, so it does not count as pending.
 */
function isConverged(actions: readonly PlanAction[]): boolean {
  return actions.every((a) => a.kind === 'ensureProcess' || (a.kind === 'wait' && (a.reason === 'failed' || a.reason === 'completed' || a.reason === 'suspended')));
}

function wait(name: string, reason: WaitReason, cause: string): PlanAction {
  return { kind: 'wait', name, reason, cause };
}

function planDesired(ctx: PlanContext, d: DesiredSystem): PlanAction[] {
  const group = ctx.input.observed.groups.get(d.name);
  const hash = shortHash(d.configHash);
  const current = (group?.parts ?? []).filter((p) => p.hash === hash);
  const stale = (group?.parts ?? []).filter((p) => p.hash !== hash && isLive(p));
  if (d.suspend) return [wait(d.name, 'suspended', 'spec.suspend is true')];
  if (d.state === 'Stopped') return stopParts(d.name, [...current, ...stale], 'desired state Stopped', d.stopTimeoutMs);
  const info = ctx.runtime.get(d.name) ?? NO_RUNTIME;
  const blocked = blockedBy(ctx, d, info, current);
  if (blocked) return [blocked];
  return planRunning(ctx, d, info, current, stale);
}

/** Waits that apply before anything is (re)created: failure, completion, dependencies. */
function blockedBy(ctx: PlanContext, d: DesiredSystem, info: RuntimeInfo, current: ObservedPart[]): PlanAction | undefined {
  if (info.failed?.hash === d.configHash) return wait(d.name, 'failed', `failed: ${info.failed.message}`);
  const allRunning = d.parts.every((p) => current.some((o) => o.id === p.id && (o.state === 'Running' || o.state === 'Paused')));
  if (info.completed?.hash === d.configHash && !allRunning) return wait(d.name, 'completed', info.completed.message);
  if (allRunning) return undefined;
  const notReady = d.dependsOn.filter((dep) => !isRunning(ctx, dep));
  if (notReady.length > 0) return wait(d.name, 'dependency', `waiting for dependency ${notReady.join(', ')}`);
  return undefined;
}

function isRunning(ctx: PlanContext, name: string): boolean {
  const d = ctx.desiredByName.get(name);
  const group = ctx.input.observed.groups.get(name);
  if (!d || !group) return false;
  const main = d.parts.find((p) => p.role === 'main');
  return group.parts.some((o) => o.id === main?.id && (o.state === 'Running' || o.state === 'Paused'));
}

function planRunning(ctx: PlanContext, d: DesiredSystem, info: RuntimeInfo, current: ObservedPart[], stale: ObservedPart[]): PlanAction[] {
  const actions: PlanAction[] = [];
  const hashChange = stale.length > 0 ? `config hash changed ${stale[0]!.hash}→${shortHash(d.configHash)}` : undefined;
  // The entrypoint exited: shut the container down first (the system may also be gone already,
  // e.g. after a crash, and then there is nothing left to stop).
  const live = current.filter(isLive);
  if (info.entrypointExited?.hash === d.configHash && live.length > 0) {
    const cause = `entrypoint exited with code ${info.entrypointExited.exitCode}`;
    return stopParts(d.name, live, cause, d.stopTimeoutMs, true);
  }
  const replaceLater = d.updateStrategy === 'CreateBeforeStop';
  if (hashChange && !replaceLater) actions.push(...stopParts(d.name, stale, hashChange, d.stopTimeoutMs));
  const bring = bringUp(ctx, d, info, current, hashChange);
  actions.push(...bring);
  const blockedOnBackoff = bring.some((a) => a.kind === 'wait');
  if (hashChange && replaceLater && !blockedOnBackoff) actions.push(...stopParts(d.name, stale, `replaced by ${shortHash(d.configHash)} (CreateBeforeStop)`, d.stopTimeoutMs));
  return actions;
}

/** Create/start/resume/pause each part in creation order; then make sure the entrypoint runs. */
function bringUp(ctx: PlanContext, d: DesiredSystem, info: RuntimeInfo, current: ObservedPart[], hashChange?: string): PlanAction[] {
  const actions: PlanAction[] = [];
  const pausable = pausablePart(d);
  let started = false;
  for (const part of d.parts) {
    const seen = current.find((o) => o.id === part.id);
    if (!seen || !isLive(seen)) {
      const retryIn = (info.nextRetryAt ?? 0) - ctx.now;
      if (info.restarts > 0 && retryIn > 0) {
        return [wait(d.name, 'backoff', `exited unexpectedly (restart ${info.restarts}, backoff ${formatDelay(retryIn)})`)];
      }
      const cause = hashChange ?? (info.restarts > 0 ? `exited unexpectedly (restart ${info.restarts})` : 'not found');
      actions.push({ kind: 'create', name: d.name, id: part.id, part, cause });
      actions.push({ kind: 'start', name: d.name, id: part.id, cause: 'created' });
      started = true;
    } else if (seen.state === 'Created' || seen.state === '') {
      actions.push({ kind: 'start', name: d.name, id: part.id, cause: 'created but not started' });
      started = true;
    } else if (seen.state === 'Paused' && !(d.state === 'Paused' && part.id === pausable?.id)) {
      actions.push({ kind: 'resume', name: d.name, id: part.id, cause: 'desired state Running' });
    }
  }
  actions.push(...entrypointActions(d, info, started));
  if (d.state === 'Paused' && pausable) {
    const seen = current.find((o) => o.id === pausable.id);
    if (seen?.state !== 'Paused') actions.push({ kind: 'pause', name: d.name, id: pausable.id, cause: 'desired state Paused' });
  }
  return actions;
}

function entrypointActions(d: DesiredSystem, info: RuntimeInfo, started: boolean): PlanAction[] {
  if (!d.process) return [];
  const main = d.parts.find((p) => p.role === 'main');
  if (!main) return [];
  if (started) return [{ kind: 'startProcess', name: d.name, id: main.id, cause: `entrypoint ${d.process.commandLine}` }];
  if (info.entrypointRunning === d.configHash) return [];
  return [{ kind: 'ensureProcess', name: d.name, id: main.id, cause: 'entrypoint not yet tracked' }];
}

/** The part that `Paused` applies to: the VM itself, or the utility VM of a Hyper-V container. */
export function pausablePart(d: DesiredSystem): RenderedPart | undefined {
  const uvm = d.parts.find((p) => p.role === 'utilityVm');
  if (uvm) return uvm;
  const main = d.parts.find((p) => p.role === 'main');
  return main?.systemType === 'VirtualMachine' ? main : undefined;
}

/** Stop live parts: hosted containers before their utility VM. */
function stopParts(name: string, parts: ObservedPart[], cause: string, stopTimeoutMs: number, exit = false): PlanAction[] {
  return parts
    .filter(isLive)
    .sort((a, b) => (a.role === b.role ? a.id.localeCompare(b.id) : a.role === 'main' ? -1 : 1))
    .map((p) => ({ kind: 'stop' as const, name, id: p.id, cause, stopTimeoutMs, ...(exit ? { exit } : {}) }));
}

/** Systems of ours whose manifest is gone: stop them, dependents first where known. */
function planPrune(ctx: PlanContext): PlanAction[] {
  const actions: PlanAction[] = [];
  const timeout = ctx.input.defaultStopTimeoutMs ?? 30_000;
  for (const group of sortedGroups(ctx.input.observed.groups)) {
    if (ctx.desiredByName.has(group.name)) continue;
    actions.push(...stopParts(group.name, group.parts, 'manifest removed', timeout));
  }
  return actions;
}

function sortedGroups(groups: ReadonlyMap<string, ObservedGroup>): ObservedGroup[] {
  return [...groups.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Order desired systems so dependencies come first (cycles are rejected at validation). */
export function topologicalOrder(desired: readonly DesiredSystem[]): DesiredSystem[] {
  const byName = new Map(desired.map((d) => [d.name, d] as const));
  const done = new Set<string>();
  const out: DesiredSystem[] = [];
  const visit = (d: DesiredSystem, path: Set<string>): void => {
    if (done.has(d.name) || path.has(d.name)) return;
    path.add(d.name);
    for (const dep of d.dependsOn) {
      const target = byName.get(dep);
      if (target) visit(target, path);
    }
    path.delete(d.name);
    done.add(d.name);
    out.push(d);
  };
  for (const d of [...desired].sort((a, b) => a.name.localeCompare(b.name))) visit(d, new Set());
  return out;
}

/** Record an exit in the runtime info and return the updated info (pure). */
export function recordExit(
  info: RuntimeInfo,
  d: DesiredSystem,
  exit: { at: number; exitType?: ExitType; exitCode?: number; ranMs: number },
): RuntimeInfo {
  const policy = d.backoff ?? DEFAULT_BACKOFF;
  const success = exit.exitCode !== undefined ? exit.exitCode === 0 : exit.exitType === 'GracefulExit';
  const what = exit.exitCode !== undefined ? `exit code ${exit.exitCode}` : `ExitType ${exit.exitType ?? 'Unknown'}`;
  const { entrypointExited: _gone, entrypointRunning: _running, ...rest } = info;
  if (d.restartPolicy === 'Never' || (d.restartPolicy === 'OnFailure' && success)) {
    return { ...rest, completed: { hash: d.configHash, message: `exited (${what}), restartPolicy ${d.restartPolicy}` } };
  }
  const base = exit.ranMs >= policy.resetAfterMs ? 0 : info.restarts;
  const restarts = base + 1;
  return { ...rest, restarts, nextRetryAt: exit.at + backoffDelay(restarts, policy) };
}
