/**
 * The pure planner: `plan(desired, observed, runtime)` returns the graph of resource actions that
 * moves HCS towards the manifests, each node with a typed reason (like `docker compose up
 * --dry-run`). It never performs I/O; `hcs-reconciler plan` prints exactly this, and the
 * controller executes it. The backoff window is enforced here and nowhere else.
 */
import { chain, node, topoSort, type ComputeSystemNode, type NodeInit, type PlanNode, type ProcessNode, type WaitNode } from './graph.ts';
import { shortHash } from './identity.ts';
import { isLive, type ObservedGroup, type ObservedPart, type ObservedState } from './observed.ts';
import type { DesiredSystem, RenderedPart } from './ports.ts';
import { lostObjects, objectsOf, orphans, provisionFor, releaseFor } from './provision-plan.ts';
import type { Why } from './reasons.ts';
import { NO_RUNTIME, type RuntimeInfo } from './runtime.ts';
import { imagePlanContext, withImage } from './plan-images.ts';
import { compareText } from './order.ts';

/** Runtime state as the planner reads it (defined with its reducers in runtime.ts). */
export type { RuntimeInfo } from './runtime.ts';

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
  /** `Always` images of running systems are resolved again this often (absent: only before a create; plan-images.ts). */
  alwaysResolveMs?: number;
}

/** Result of {@link plan}. */
export interface Plan {
  /** In dependency order: every node after the nodes it depends on. */
  nodes: PlanNode[];
  /** True when nothing is left to do and nothing waits on a backoff or a dependency. */
  converged: boolean;
}

/** Compute the nodes that converge HCS to the desired state. Pure. */
export function plan(input: PlanInput): Plan {
  const ctx: PlanContext = {
    input,
    runtime: input.runtime ?? new Map<string, RuntimeInfo>(),
    now: input.now ?? 0,
    desiredByName: new Map(input.desired.map((d) => [d.name, d] as const)),
  };
  if (input.suspended) {
    return { nodes: input.desired.map((d) => wait(d.name, { reason: 'suspended', scope: 'controller' })), converged: true };
  }
  const nodes: PlanNode[] = [];
  const images = imagePlanContext(input.observed.images, ctx.runtime, ctx.now, input.alwaysResolveMs);
  for (const d of topologicalOrder(input.desired)) nodes.push(...chain(withImage(images, d, planDesired(ctx, d))));
  if (input.allowPrune !== false) nodes.push(...planPrune(ctx));
  if (input.allowPrune !== false) nodes.push(...planOrphans(ctx, nodes));
  return { nodes, converged: isConverged(nodes) };
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
function isConverged(nodes: readonly PlanNode[]): boolean {
  return nodes.every((n) => n.op === 'ensureProcess' || (n.op === 'wait' && (n.reason === 'failed' || n.reason === 'completed' || n.reason === 'suspended')));
}

function wait(name: string, why: Why): WaitNode {
  return node<WaitNode>({ op: 'wait', resource: { kind: 'computeSystem', name }, why });
}

function system(name: string, id: string, fields: NodeInit<ComputeSystemNode, 'resource'>): ComputeSystemNode {
  // `fields` is the caller's fresh literal too (see node()): completed in place, not copied.
  const init = fields as NodeInit<ComputeSystemNode>;
  init.resource = { kind: 'computeSystem', name, hcsId: id };
  return node<ComputeSystemNode>(init);
}

function planDesired(ctx: PlanContext, d: DesiredSystem): PlanNode[] {
  const group = ctx.input.observed.groups.get(d.name);
  const hash = shortHash(d.configHash);
  const current = (group?.parts ?? []).filter((p) => p.hash === hash);
  const stale = (group?.parts ?? []).filter((p) => p.hash !== hash && isLive(p));
  if (d.suspend) return [wait(d.name, { reason: 'suspended', scope: 'manifest' })];
  if (d.state === 'Stopped') return stopParts(ctx, d.name, [...current, ...stale], { reason: 'desiredStopped' }, d.stopTimeoutMs, () => true);
  const info = ctx.runtime.get(d.name) ?? NO_RUNTIME;
  const blocked = blockedBy(ctx, d, info, current);
  if (blocked) return [blocked];
  return planRunning(ctx, d, info, current, stale);
}

/** Waits that apply before anything is (re)created: failure, completion, dependencies. */
function blockedBy(ctx: PlanContext, d: DesiredSystem, info: RuntimeInfo, current: ObservedPart[]): WaitNode | undefined {
  if (info.failed?.hash === d.configHash) return wait(d.name, { reason: 'failed', message: info.failed.message });
  const allRunning = d.parts.every((p) => current.some((o) => o.id === p.id && (o.state === 'Running' || o.state === 'Paused')));
  if (info.completed?.hash === d.configHash && !allRunning) return wait(d.name, { reason: 'completed', message: info.completed.message });
  if (allRunning) return undefined;
  const notReady = d.dependsOn.filter((dep) => !isRunning(ctx, dep));
  if (notReady.length > 0) return wait(d.name, { reason: 'dependency', waitingFor: notReady });
  return undefined;
}

function isRunning(ctx: PlanContext, name: string): boolean {
  const d = ctx.desiredByName.get(name);
  const group = ctx.input.observed.groups.get(name);
  if (!d || !group) return false;
  const main = d.parts.find((p) => p.role === 'main');
  return group.parts.some((o) => o.id === main?.id && (o.state === 'Running' || o.state === 'Paused'));
}

function planRunning(ctx: PlanContext, d: DesiredSystem, info: RuntimeInfo, current: ObservedPart[], stale: ObservedPart[]): PlanNode[] {
  const nodes: PlanNode[] = [];
  const hashChange: Why | undefined = stale.length > 0 ? { reason: 'configChanged', from: stale[0]!.hash, to: shortHash(d.configHash) } : undefined;
  // Objects the new rendering uses are kept (a ports-only change keeps the scratch); the others go after the stop.
  const uses = new Set(d.parts.flatMap((p) => Object.values(objectsOf(p))));
  // The entrypoint exited: shut the container down first (the system may also be gone already,
  // e.g. after a crash, and then there is nothing left to stop).
  const live = current.filter(isLive);
  if (info.entrypointExited?.hash === d.configHash && live.length > 0) {
    return stopParts(ctx, d.name, live, { reason: 'entrypointExited', exitCode: info.entrypointExited.exitCode }, d.stopTimeoutMs, (id) => !uses.has(id));
  }
  // A live system whose endpoint (or scratch) was deleted behind our back is re-created on new ones.
  const lost = lostParts(ctx, d, live);
  const lostIds = new Set(lost.flatMap((l) => l.ids));
  const now = current.filter((o) => !lost.some((l) => l.seen.id === o.id));
  const replaceLater = d.updateStrategy === 'CreateBeforeStop';
  if (hashChange && !replaceLater) nodes.push(...stopParts(ctx, d.name, [...lost.map((l) => l.seen), ...stale], hashChange, d.stopTimeoutMs, (id) => !uses.has(id) || lostIds.has(id)));
  else if (lost.length > 0) nodes.push(...stopParts(ctx, d.name, lost.map((l) => l.seen), lost[0]!.why, d.stopTimeoutMs, (id) => lostIds.has(id)));
  const bring = withBackoff(ctx, d.name, info, bringUp(ctx, d, info, now, hashChange ?? lost[0]?.why));
  nodes.push(...bring);
  const blockedOnBackoff = bring.some((n) => n.op === 'wait');
  if (hashChange && replaceLater && !blockedOnBackoff) nodes.push(...stopParts(ctx, d.name, stale, { reason: 'replaced', by: shortHash(d.configHash) }, d.stopTimeoutMs, (id) => !uses.has(id) && !lostIds.has(id)));
  return nodes;
}

/** Live parts of `d` that lost a provisioned object, with the ids lost and the reason to re-create. */
function lostParts(ctx: PlanContext, d: DesiredSystem, live: readonly ObservedPart[]): Array<{ seen: ObservedPart; ids: string[]; why: Why }> {
  const out: Array<{ seen: ObservedPart; ids: string[]; why: Why }> = [];
  for (const seen of live) {
    const part = d.parts.find((p) => p.id === seen.id);
    const kinds = part ? lostObjects(ctx.input.observed, part) : [];
    if (!part || kinds.length === 0) continue;
    const objects = objectsOf(part);
    const ids = [...new Set(kinds.map((k) => objects[k]!))];
    out.push({ seen, ids, why: { reason: 'provisionLost', kind: kinds[0]!, id: objects[kinds[0]!]! } });
  }
  return out;
}

/** The backoff window holds back every change of the name (a verification may still run). */
function withBackoff(ctx: PlanContext, name: string, info: RuntimeInfo, nodes: PlanNode[]): PlanNode[] {
  const retryInMs = (info.nextRetryAt ?? 0) - ctx.now;
  if (retryInMs <= 0 || !nodes.some((n) => n.op !== 'ensureProcess')) return nodes;
  const after = info.backoffAfter?.kind === 'failure'
    ? info.backoffAfter
    : { kind: 'exit' as const, restarts: info.restarts, ...(info.backoffAfter?.exit ? { exit: info.backoffAfter.exit } : {}) };
  return [wait(name, { reason: 'backoff', retryInMs, after })];
}

/** Create/start/resume/pause each part in creation order; then make sure the entrypoint runs. */
function bringUp(ctx: PlanContext, d: DesiredSystem, info: RuntimeInfo, current: ObservedPart[], hashChange?: Why): PlanNode[] {
  const nodes: PlanNode[] = [];
  const pausable = pausablePart(d);
  let started = false;
  for (const part of d.parts) {
    const seen = current.find((o) => o.id === part.id);
    if (!seen || !isLive(seen)) {
      const why: Why = hashChange
        ?? (info.lastExit?.hash === d.configHash ? { reason: 'exited', restarts: info.restarts, ...(info.lastExit.exit ? { exit: info.lastExit.exit } : {}) } : { reason: 'notFound' });
      nodes.push(...provisionFor(ctx.input.observed, d.name, part));
      nodes.push(system(d.name, part.id, { op: 'create', part, why }));
      nodes.push(system(d.name, part.id, { op: 'start', why: { reason: 'created' } }));
      started = true;
    } else if (seen.state === 'Created' || seen.state === '') {
      nodes.push(system(d.name, part.id, { op: 'start', why: { reason: 'notStarted' } }));
      started = true;
    } else if (seen.state === 'Paused' && !(d.state === 'Paused' && part.id === pausable?.id)) {
      nodes.push(system(d.name, part.id, { op: 'resume', why: { reason: 'desiredRunning' } }));
    }
  }
  nodes.push(...entrypointNodes(d, info, started));
  if (d.state === 'Paused' && pausable) {
    const seen = current.find((o) => o.id === pausable.id);
    if (seen?.state !== 'Paused') nodes.push(system(d.name, pausable.id, { op: 'pause', why: { reason: 'desiredPaused' } }));
  }
  return nodes;
}

function entrypointNodes(d: DesiredSystem, info: RuntimeInfo, started: boolean): ProcessNode[] {
  if (!d.process) return [];
  const main = d.parts.find((p) => p.role === 'main');
  if (!main) return [];
  const resource = { kind: 'process' as const, name: d.name, hcsId: main.id };
  if (started) return [node<ProcessNode>({ op: 'startProcess', resource, why: { reason: 'entrypoint', commandLine: d.process.commandLine } })];
  if (info.entrypointRunning === d.configHash) return [];
  return [node<ProcessNode>({ op: 'ensureProcess', resource, why: { reason: 'entrypointUntracked' } })];
}

/** The part that `Paused` applies to: the VM itself, or the utility VM of a Hyper-V container. */
export function pausablePart(d: DesiredSystem): RenderedPart | undefined {
  const uvm = d.parts.find((p) => p.role === 'utilityVm');
  if (uvm) return uvm;
  const main = d.parts.find((p) => p.role === 'main');
  return main?.systemType === 'VirtualMachine' ? main : undefined;
}

/**
 * Stop live parts: hosted containers before their utility VM; the stops are followed by the removal
 * of the name's provisioned objects that `remove` selects (a system is stopped before its scratch
 * and endpoint go).
 */
function stopParts(ctx: PlanContext, name: string, parts: ObservedPart[], why: Why, stopTimeoutMs: number, remove: (id: string) => boolean): PlanNode[] {
  const stops = parts
    .filter(isLive)
    .sort((a, b) => (a.role === b.role ? compareText(a.id, b.id) : a.role === 'main' ? -1 : 1))
    .map((p) => system(name, p.id, { op: 'stop', why, stopTimeoutMs }));
  const systemId = stops[0]?.resource.hcsId;
  return [...stops, ...releaseFor(ctx.input.observed, name, remove, { reason: 'systemGone', ...(systemId ? { systemId } : {}) })];
}

/** Provisioned objects nothing uses (see provision-plan.ts orphans), one chain per name. */
function planOrphans(ctx: PlanContext, planned: readonly PlanNode[]): PlanNode[] {
  return orphans(ctx.input.observed, ctx.input.desired, planned).flatMap((c) => chain(c));
}

/** Systems of ours whose manifest is gone: stop them, dependents first where known. */
function planPrune(ctx: PlanContext): PlanNode[] {
  const nodes: PlanNode[] = [];
  const timeout = ctx.input.defaultStopTimeoutMs ?? 30_000;
  for (const group of sortedGroups(ctx.input.observed.groups)) {
    if (ctx.desiredByName.has(group.name)) continue;
    nodes.push(...chain(stopParts(ctx, group.name, group.parts, { reason: 'manifestRemoved' }, timeout, () => true)));
  }
  return nodes;
}

function sortedGroups(groups: ReadonlyMap<string, ObservedGroup>): ObservedGroup[] {
  return [...groups.values()].sort((a, b) => compareText(a.name, b.name));
}

/** Order desired systems so dependencies come first (cycles are rejected at validation). */
export function topologicalOrder(desired: readonly DesiredSystem[]): DesiredSystem[] {
  return topoSort([...desired].sort((a, b) => compareText(a.name, b.name)), (d) => d.name, (d) => d.dependsOn);
}
