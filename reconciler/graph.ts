/**
 * The plan as a graph of typed resource actions, like Compose's `pkg/compose/plan.go`: every node
 * is one call on one resource, with its reason and the nodes it waits for. `runGraph` executes a
 * graph: ready nodes run with bounded concurrency, a failed node stops its branch (every node
 * that depends on it, directly or not, is skipped), independent branches go on.
 *
 * A new resource kind (image, scratch layer, network, endpoint) adds a member to
 * {@link ResourceKind}, its node variants to {@link PlanNode}, a driver (see drivers.ts) and the
 * port its adapter implements (ports.ts). The executor and the graph runner do not change.
 */
import { causeOf, type Reason, type Why } from './reasons.ts';
import type { ImagePullPolicy, ProvisionKind, RenderedPart } from './ports.ts';

/** Kinds of host resource the core manages. */
export type ResourceKind = 'computeSystem' | 'process' | ProvisionKind | 'image';

/** The resource a node acts on: its kind, the manifest name it belongs to, its HCS id if known. */
export interface ResourceRef {
  kind: ResourceKind;
  name: string;
  hcsId?: string;
  /** For `image` nodes: the image reference as written in the manifest. */
  image?: string;
}

interface NodeBase {
  /** Unique within a plan: `<op>:<hcsId or name>`. */
  id: string;
  resource: ResourceRef;
  reason: Reason;
  /** Human form of `reason`, rendered by reasons.ts `causeOf`. */
  cause: string;
  /** Ids of the nodes that must succeed first. */
  deps: string[];
  /** Typed details of the reason. */
  why: Why;
}

/** A compute system node. */
export type ComputeSystemNode = NodeBase & { resource: ResourceRef & { kind: 'computeSystem'; hcsId: string } } & (
  | { op: 'create'; part: RenderedPart }
  | { op: 'start' | 'pause' | 'resume' }
  | { op: 'stop'; stopTimeoutMs: number }
);

/** The entrypoint process of a container (`hcsId` is the container's). */
export type ProcessNode = NodeBase & { resource: ResourceRef & { kind: 'process'; hcsId: string } } & { op: 'startProcess' | 'ensureProcess' };

/** A provisioned object (`hcsId` is the object's id, RenderedPart.provisionIds): made before its system, removed after it. */
type ProvisionNodeOf<K extends ProvisionKind> = NodeBase & { resource: ResourceRef & { kind: K; hcsId: string } } & ({ op: 'create'; part: RenderedPart } | { op: 'remove' });

/** A scratch, endpoint or namespace node. */
export type ProvisionNode = ProvisionNodeOf<'scratch'> | ProvisionNodeOf<'endpoint'> | ProvisionNodeOf<'namespace'>;

/** Pull an image a system of `name` needs (one node per reference in a plan; `image` is the reference). */
export type ImageNode = NodeBase & { resource: ResourceRef & { kind: 'image'; image: string } } & { op: 'pull'; policy: ImagePullPolicy };

/** Nothing is done for this name now; `reason` says why (backoff, dependency, failed, ...). */
export type WaitNode = NodeBase & { op: 'wait' };

/** One node of a plan. */
export type PlanNode = ComputeSystemNode | ProcessNode | ProvisionNode | ImageNode | WaitNode;

/** A node that calls HCS (everything but `wait`). */
export type ActionNode = ComputeSystemNode | ProcessNode | ProvisionNode | ImageNode;

/** The operation of a node. */
export type NodeOp = PlanNode['op'];

/** The `plan -o json` form of a node (a contract). */
export interface NodeJson {
  id: string;
  resource: ResourceRef;
  op: NodeOp;
  reason: Reason;
  cause: string;
  deps: string[];
}

/** The fields of a node its builder supplies (the derived ones left out), per variant. */
export type NodeInit<N extends PlanNode, Extra extends string = never> = N extends unknown ? Omit<N, 'id' | 'reason' | 'cause' | 'deps' | Extra> & { deps?: string[] } : never;

/** Build a node: the cause is rendered from the reason here, once. */
export function node<N extends PlanNode>(fields: NodeInit<N>): N {
  // Every caller passes a fresh object literal, so it is completed in place: the rest/spread copy
  // this replaces was most of the first pass of a 1000-system converge (cold code, ~5 µs a node).
  const n = fields as unknown as { -readonly [K in keyof PlanNode]: PlanNode[K] };
  const r = n.resource;
  const target = r.hcsId ?? r.image ?? r.name;
  // A provisioned object carries its system's id: its kind keeps the node id unique.
  const kind = r.kind === 'computeSystem' || r.kind === 'process' ? '' : `${r.kind}:`;
  n.id = `${n.op}:${kind}${target}`;
  n.reason = n.why.reason;
  n.cause = causeOf(n.why);
  n.deps ??= [];
  return n as unknown as N;
}

/** Whether a node removes its resource (its port's `remove`) rather than creating or changing it. */
export function isRemoval(n: ActionNode): boolean {
  return n.op === 'stop' || n.op === 'remove';
}

/** The contract fields of a node, in contract order. */
export function nodeJson(n: PlanNode): NodeJson {
  return { id: n.id, resource: { ...n.resource }, op: n.op, reason: n.reason, cause: n.cause, deps: [...n.deps] };
}

/** Make each node depend on the one before it (the steps of one system, in order). */
export function chain<N extends PlanNode>(nodes: N[], after?: string): N[] {
  let previous = after;
  for (const n of nodes) {
    if (previous !== undefined && !n.deps.includes(previous)) n.deps.push(previous);
    previous = n.id;
  }
  return nodes;
}

/**
 * Depth-first topological order: every item after the items it depends on, otherwise in input
 * order. Unknown deps are ignored; a cycle is broken where it is found (validation rejects them).
 */
export function topoSort<T>(items: readonly T[], key: (item: T) => string, depsOf: (item: T) => readonly string[]): T[] {
  const byKey = new Map(items.map((item) => [key(item), item] as const));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (item: T, path: Set<string>): void => {
    const k = key(item);
    if (done.has(k) || path.has(k)) return;
    path.add(k);
    for (const dep of depsOf(item)) {
      const target = byKey.get(dep);
      if (target !== undefined) visit(target, path);
    }
    path.delete(k);
    done.add(k);
    out.push(item);
  };
  for (const item of items) visit(item, new Set());
  return out;
}

/** Nodes ordered so that every node comes after its deps (stable for independent nodes). */
export function dependencyOrder<N extends PlanNode>(nodes: readonly N[]): N[] {
  return topoSort(nodes, (n) => n.id, (n) => n.deps);
}

/** What happened to one node of a run. */
export type NodeResult<N> = { node: N; status: 'done' } | { node: N; status: 'failed'; error: unknown } | { node: N; status: 'skipped'; blockedBy: string };

/** Options of {@link runGraph}. */
export interface RunGraphOptions<N extends PlanNode> {
  /** Nodes started at once at most. */
  concurrency: number;
  run(node: N, signal?: AbortSignal): Promise<void>;
  /** Called when a node is about to run (before its call reaches HCS). */
  onStart?(node: N): void;
  signal?: AbortSignal;
}

/**
 * Run every node once its deps are done, at most `concurrency` at a time. A node whose dep failed
 * (or was skipped) is skipped; deps outside the graph count as done. Never rejects: the results
 * say what happened to each node, in completion order.
 */
export async function runGraph<N extends PlanNode>(nodes: readonly N[], opts: RunGraphOptions<N>): Promise<NodeResult<N>[]> {
  const ids = new Set(nodes.map((n) => n.id));
  const state = new Map<string, 'pending' | 'running' | 'done' | 'failed' | 'skipped'>(nodes.map((n) => [n.id, 'pending'] as const));
  const results: NodeResult<N>[] = [];
  let running = 0;
  return new Promise((resolve) => {
    const pump = (): void => {
      // Skip what can no longer run, until nothing changes (a skipped node skips its dependents).
      for (let changed = true; changed;) {
        changed = false;
        for (const n of nodes) {
          if (state.get(n.id) !== 'pending') continue;
          const blocked = n.deps.find((d) => ids.has(d) && (state.get(d) === 'failed' || state.get(d) === 'skipped'));
          if (blocked === undefined && !opts.signal?.aborted) continue;
          state.set(n.id, 'skipped');
          results.push({ node: n, status: 'skipped', blockedBy: blocked ?? 'aborted' });
          changed = true;
        }
      }
      for (const n of nodes) {
        if (running >= opts.concurrency) break;
        if (state.get(n.id) !== 'pending' || !n.deps.every((d) => !ids.has(d) || state.get(d) === 'done')) continue;
        state.set(n.id, 'running');
        running++;
        opts.onStart?.(n);
        opts.run(n, opts.signal).then(
          () => finish(n, { node: n, status: 'done' }),
          (error: unknown) => finish(n, { node: n, status: 'failed', error }),
        );
      }
      if (running === 0) resolve(results);
    };
    const finish = (n: N, result: NodeResult<N>): void => {
      running--;
      state.set(n.id, result.status);
      results.push(result);
      pump();
    };
    pump();
  });
}
