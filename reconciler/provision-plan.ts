/**
 * The planner's rules for provisioned objects (scratch, endpoint, namespace), kept apart from
 * plan.ts. Each object has its own id (RenderedPart.provisionIds, hashed from that object's inputs
 * only), so a config change re-creates exactly the objects whose inputs changed plus the system
 * that uses them: a ports-only change makes a new endpoint and namespace and a new system, and the
 * new system re-attaches the old scratch (Docker re-mounts a container's writable layer for each
 * new HCS system it starts: [MOBY] daemon/start.go containerStart → conditionalMountOnStart).
 */
import { node, type NodeInit, type PlanNode, type ProvisionNode } from './graph.ts';
import { parseSystemId } from './identity.ts';
import { isLive, type ObservedPart, type ObservedState } from './observed.ts';
import type { DesiredSystem, ObservedProvisioned, ProvisionKind, ProvisionPort, RenderedPart } from './ports.ts';
import type { Why } from './reasons.ts';

/** The provisioning order before a system's create: scratch, endpoint, then the namespace holding it. */
const CREATE_ORDER: readonly ProvisionKind[] = ['scratch', 'endpoint', 'namespace'];
/** The removal order after its stop: namespace (releases the endpoint), endpoint, scratch. */
const REMOVE_ORDER: readonly ProvisionKind[] = ['namespace', 'endpoint', 'scratch'];

/**
 * The objects a part uses, by kind (the namespace shares the endpoint's id: it holds only that
 * endpoint). A Hyper-V container has no namespace: its endpoint goes into the schema 1.0
 * document's EndpointList ([MOBY] libcontainerd local_windows.go createWindows).
 */
export function objectsOf(part: RenderedPart): Partial<Record<ProvisionKind, string>> {
  const req = part.provision;
  if (!req) return {};
  const ids = part.provisionIds;
  const network = ids?.network ?? part.id;
  return {
    ...(req.scratch !== undefined ? { scratch: ids?.scratch ?? part.id } : {}),
    ...(req.network !== undefined ? { endpoint: network, ...(req.isolation === 'hyperv' ? {} : { namespace: network }) } : {}),
  };
}

/** Every object id that desired systems use (all kinds), except those of manifests desired Stopped. */
export function wantedObjects(desired: readonly DesiredSystem[]): Set<string> {
  const out = new Set<string>();
  for (const d of desired) {
    if (d.state === 'Stopped' && !d.suspend) continue;
    for (const p of d.parts) for (const id of Object.values(objectsOf(p))) out.add(id);
  }
  return out;
}

/** The manifest name an object id belongs to (`<name>-<hash12>`, or a system id). */
const nameOf = (id: string) => parseSystemId(id)?.name ?? id;

/** The observed objects of the names `keep` selects (prune holds: a held name's objects are left alone). */
export function provisionedOf(p: NonNullable<ObservedState['provisioned']>, keep: (name: string) => boolean): NonNullable<ObservedState['provisioned']> {
  const only = (list: readonly ObservedProvisioned[]) => list.filter((o) => keep(nameOf(o.id)));
  return { scratch: only(p.scratch), endpoint: only(p.endpoint), namespace: only(p.namespace) };
}

/** Observes every provisioned kind through the adapter port, as the controller's list step does. */
export async function observeProvisioned(port: ProvisionPort, signal?: AbortSignal): Promise<NonNullable<ObservedState['provisioned']>> {
  return { scratch: await port.observe('scratch', signal), endpoint: await port.observe('endpoint', signal), namespace: await port.observe('namespace', signal) };
}

const isReady = (observed: ObservedState, kind: ProvisionKind, id: string) => observed.provisioned?.[kind].some((o) => o.id === id && o.ready) ?? false;

/**
 * The kinds a live system's part lost (deleted behind the controller's back, e.g. its endpoint):
 * the system must be re-created on new ones. Empty when nothing was observed.
 */
export function lostObjects(observed: ObservedState, part: RenderedPart): ProvisionKind[] {
  if (!observed.provisioned) return [];
  return (Object.entries(objectsOf(part)) as Array<[ProvisionKind, string]>).filter(([kind, id]) => !isReady(observed, kind, id)).map(([kind]) => kind);
}

function provisionNode(kind: ProvisionKind, name: string, id: string, fields: { op: 'create'; part: RenderedPart } | { op: 'remove' }, why: Why): ProvisionNode {
  return node<ProvisionNode>({ ...fields, resource: { kind, name, hcsId: id }, why } as NodeInit<ProvisionNode>);
}

/**
 * Create nodes for what a part uses and is not ready (a leftover of ours is re-used or cleaned by
 * its create). A namespace is made again whenever its endpoint is: it holds only that endpoint.
 */
export function provisionFor(observed: ObservedState, name: string, part: RenderedPart): ProvisionNode[] {
  const objects = objectsOf(part);
  const missing = CREATE_ORDER.filter((kind) => objects[kind] !== undefined && !isReady(observed, kind, objects[kind]!));
  if (missing.includes('endpoint') && objects.namespace !== undefined && !missing.includes('namespace')) missing.push('namespace');
  return missing.map((kind) => provisionNode(kind, name, objects[kind]!, { op: 'create', part }, { reason: 'neededBy', systemId: part.id }));
}


/**
 * Remove nodes, after the stop of a name's systems, for the observed objects of that name that
 * `remove` selects (those the name's new rendering does not use; all when the name goes or stops).
 */
export function releaseFor(observed: ObservedState, name: string, remove: (id: string) => boolean, why: Why): ProvisionNode[] {
  const p = observed.provisioned;
  if (!p) return [];
  const nodes: ProvisionNode[] = [];
  const ids = [...new Set(REMOVE_ORDER.flatMap((kind) => p[kind].map((o) => o.id)))].filter((id) => nameOf(id) === name && remove(id)).sort();
  for (const id of ids) {
    for (const kind of REMOVE_ORDER) if (p[kind].some((o) => o.id === id)) nodes.push(provisionNode(kind, name, id, { op: 'remove' }, why));
  }
  return nodes;
}

/**
 * Objects of ours that nothing uses: not wanted by a desired system, and no live system of their
 * name is left to stop first (its stop releases them). Left by a re-create, a reboot, a deleted
 * manifest or a controller killed between creating a scratch and creating its system.
 * Returned as one chain per name.
 */
export function orphans(observed: ObservedState, desired: readonly DesiredSystem[], planned: readonly PlanNode[]): ProvisionNode[][] {
  const p = observed.provisioned;
  if (!p) return [];
  const wanted = wantedObjects(desired);
  const handled = new Set(planned.filter((n) => n.op === 'remove').map((n) => n.resource.hcsId));
  // A live system that no manifest wants any more is stopped first, and its stop releases its objects.
  const parts = new Set(desired.flatMap((d) => d.parts.map((part) => part.id)));
  const liveNames = new Set<string>();
  for (const g of observed.groups.values()) if (g.parts.some((part: ObservedPart) => isLive(part) && !parts.has(part.id))) liveNames.add(g.name);
  const byName = new Map<string, Set<string>>();
  for (const list of Object.values(p)) {
    for (const o of list) {
      if (wanted.has(o.id) || handled.has(o.id) || liveNames.has(nameOf(o.id))) continue;
      (byName.get(nameOf(o.id)) ?? byName.set(nameOf(o.id), new Set()).get(nameOf(o.id))!).add(o.id);
    }
  }
  return [...byName.keys()].sort().map((name) => releaseFor(observed, name, (id) => byName.get(name)!.has(id), { reason: 'systemGone' }));
}
