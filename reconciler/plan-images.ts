/**
 * The planner's rule for `image` nodes (issue 14): a system rendered from an image needs that
 * image in the local store before anything of it is created, so its steps get a `pull` node in
 * front (image -> scratch -> system -> entrypoint, chained by the caller). One pull node per
 * reference in a plan: another name that needs the same reference while it is pulled waits.
 *
 * A manifest whose image is not stored renders as a placeholder (`DesiredSystem.image` without a
 * digest, see ports.ts): its nodes are shown, but only the pull runs; the executor refuses the
 * rest (executor.ts `supersededBy`) and the plan after the pull is made from the rendering of the
 * stored image. Pure.
 */
import { node, type ImageNode, type PlanNode, type WaitNode } from './graph.ts';
import type { DesiredSystem, ObservedImage } from './ports.ts';
import type { Why } from './reasons.ts';
import type { RuntimeInfo } from './runtime.ts';

/** What the rule reads, shared by the names of one plan. */
export interface ImagePlanContext {
  images: readonly ObservedImage[] | undefined;
  runtime: ReadonlyMap<string, RuntimeInfo>;
  now: number;
  /** `Always` images of running systems are resolved again this often (absent: only before a create). */
  alwaysResolveMs?: number;
  /** References that already have a pull node in this plan, with the name it was planned for. */
  claimed: Map<string, string>;
}

/** A fresh context for one plan. */
export function imagePlanContext(images: readonly ObservedImage[] | undefined, runtime: ReadonlyMap<string, RuntimeInfo>, now: number, alwaysResolveMs?: number): ImagePlanContext {
  return { images, runtime, now, claimed: new Map(), ...(alwaysResolveMs !== undefined ? { alwaysResolveMs } : {}) };
}

/** The nodes of one name with the pull of its image in front, when it needs one. */
export function withImage(ctx: ImagePlanContext, d: DesiredSystem, nodes: PlanNode[]): PlanNode[] {
  const image = d.image;
  if (!image || d.state === 'Stopped') return nodes;
  // A placeholder parked (a missing image under `Never`) whose image the store now has, e.g. from
  // `image pull`: the park was for a rendering the store has overtaken. The pull node (which
  // finds the image stored) renders the manifest again, and the next plan uses that rendering.
  const reopened = image.digest === undefined && isParked(nodes) && ctx.images?.some((o) => o.reference === image.reference && o.present);
  // Parked, backing off (a failed pull included), waiting for a dependency, suspended, or being
  // stopped: nothing is created, so nothing is pulled.
  if (!reopened && nodes.some((n) => n.op === 'wait')) return nodes;
  const why = pullReason(ctx, d, reopened ? [] : nodes);
  if (!why) return nodes;
  const owner = ctx.claimed.get(image.reference);
  if (owner !== undefined) {
    // Pulled for another name in this plan: a placeholder rendering waits for it; a system
    // rendered from a stored image goes on (the other name's pull may move it, then it re-renders).
    if (image.digest !== undefined && why.reason !== 'imageNotStored') return nodes;
    return [node<WaitNode>({ op: 'wait', resource: { kind: 'computeSystem', name: d.name }, why: { reason: 'waitingForImage', reference: image.reference, pulledFor: owner } })];
  }
  ctx.claimed.set(image.reference, d.name);
  const pull = node<ImageNode>({ op: 'pull', policy: image.pullPolicy, resource: { kind: 'image', name: d.name, image: image.reference }, why });
  return reopened ? [pull] : [pull, ...nodes];
}

/** The name's plan is the `failed` wait (parked for its config hash). */
const isParked = (nodes: readonly PlanNode[]): boolean => nodes.length === 1 && nodes[0]!.op === 'wait' && (nodes[0] as WaitNode).reason === 'failed';

function pullReason(ctx: ImagePlanContext, d: DesiredSystem, nodes: readonly PlanNode[]): Why | undefined {
  const image = d.image!;
  const seen = ctx.images?.find((o) => o.reference === image.reference);
  const creates = nodes.some((n) => n.resource.kind === 'computeSystem' && n.op === 'create');
  if (image.digest === undefined) {
    return seen?.present ? { reason: 'imageNotRendered', reference: image.reference } : { reason: 'imageNotStored', reference: image.reference, policy: image.pullPolicy };
  }
  if (seen && !seen.present && creates) return { reason: 'imageNotStored', reference: image.reference, policy: image.pullPolicy };
  if (image.pullPolicy !== 'Always') return undefined;
  if (creates || resolveDue(ctx, image.reference)) return { reason: 'alwaysPull', reference: image.reference };
  return undefined;
}

/** `Always` for a running system: due when the controller has not resolved the tag for `alwaysResolveMs`. */
function resolveDue(ctx: ImagePlanContext, reference: string): boolean {
  if (ctx.alwaysResolveMs === undefined) return false;
  let last: number | undefined;
  for (const info of ctx.runtime.values()) {
    if (info.imagePulled?.reference === reference && (last === undefined || info.imagePulled.at > last)) last = info.imagePulled.at;
  }
  return last === undefined || ctx.now - last >= ctx.alwaysResolveMs;
}
