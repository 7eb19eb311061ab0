/**
 * The observation step of a pass: list HCS (and the provisioned objects), group what is ours,
 * then act on what the listing alone reveals before anything is planned: runs that ended without
 * an event (missed exits), handles of stopped systems to close, live systems of ours to adopt.
 * The controller facade (controller.ts) owns the runtime state; this step changes it only
 * through the `record`/`exit` callbacks it is given.
 *
 * Allocation-free when nothing changed: the binding hands back the same array for an unchanged
 * enumerate answer, {@link ObservedCache} then the same state, the provisioned lists are shared
 * when equal, and the checks below walk the state without copying it. An idle controller relists
 * every 30 s; with 1000 systems the per-system garbage of that walk was most of its idle CPU (GC).
 */
import type { DesiredStore } from './desired.ts';
import type { HandleRegistry } from './handles.ts';
import { matchesShortHash } from './identity.ts';
import type { Limiter } from './limiter.ts';
import { isLive, ObservedCache, type ObservedGroup, type ObservedPart, type ObservedState } from './observed.ts';
import type { Clock, ImagePort, Logger, ObservedImage, ObservedProvisioned, ProvisionKind, ResourcePorts } from './ports.ts';
import type { ExitInfo } from './reasons.ts';
import { liveSince, type Outcome, type RuntimeInfo } from './runtime.ts';

/** What the observation step needs from the controller. */
export interface RelistDeps {
  owner: string;
  ports: ResourcePorts;
  handles: HandleRegistry;
  limiter: Limiter;
  desired: DesiredStore;
  runtime: ReadonlyMap<string, RuntimeInfo>;
  /** Whether provisioned objects are observed (a provisioning adapter is wired). */
  provision: boolean;
  /** The image store, when images are wired: the references desired systems name are observed. */
  images?: ImagePort;
  clock: Clock;
  logger: Logger;
  /** Fold an outcome into the runtime state (the controller's single writer). */
  record(name: string, outcome: Outcome): void;
  /** A run of `id` ended. */
  exit(id: string, exit: ExitInfo): void;
}

type Provisioned = NonNullable<ObservedState['provisioned']>;

/** Lists HCS for a pass; one per controller. */
export class Relister {
  readonly #groups = new ObservedCache();
  #provisioned: Provisioned | undefined;
  #images: ObservedImage[] | undefined;
  #combined: { grouped: ObservedState; provisioned?: Provisioned; images?: ObservedImage[]; state: ObservedState } | undefined;
  #listing = false;
  /** Ids that became live while a listing was in flight: its answer cannot judge them. */
  readonly #liveSinceListStart = new Set<string>();
  /**
   * Ids whose run ended while a listing was in flight. The answer may predate the exit (HCS runs
   * completions and events on its thread pool, so an enumerate answered before a crash can reach
   * us after its SystemExited): a Running there is stale, and adopting it would count the one crash
   * again at the next relist.
   */
  readonly #endedSinceListStart = new Set<string>();

  constructor(private readonly deps: RelistDeps) {}

  /** Times the enumerate answer was grouped afresh (unchanged answers reuse the last grouping). */
  get regrouped(): number {
    return this.#groups.regrouped;
  }

  /** Tell the step about every runtime change (from the controller's single writer). */
  noteRuntime(before: RuntimeInfo, after: RuntimeInfo): void {
    if (!this.#listing || after.live === before.live) return;
    const { live } = after;
    if (live) for (let i = 0; i < live.length; i++) if (liveSince(before, live[i]!.id) === undefined) this.#liveSinceListStart.add(live[i]!.id);
    const was = before.live;
    if (was) for (let i = 0; i < was.length; i++) if (liveSince(after, was[i]!.id) === undefined) this.#endedSinceListStart.add(was[i]!.id);
  }

  /** List, group, then handle missed exits, stopped handles and adoption. */
  async observe(): Promise<ObservedState> {
    this.#listing = true;
    this.#liveSinceListStart.clear();
    this.#endedSinceListStart.clear();
    try {
      // Provisioned objects are observed before the enumerate, so the enumerate stays the freshest
      // input of the plan (a name with nodes in flight replans after them anyway).
      const provisioned = this.deps.provision ? await this.#observeProvisioned() : undefined;
      const all = await this.deps.ports.computeSystem.observe({ kind: 'computeSystem', name: '*' });
      const images = this.deps.images ? await this.#observeImages(this.deps.images) : undefined;
      const observed = this.#withExtras(this.#groups.group(all, this.deps.owner), provisioned, images);
      this.#detectMissedExits(observed);
      await this.#releaseStopped(observed);
      await this.#adopt(observed);
      return observed;
    } finally {
      this.#listing = false;
    }
  }

  async #observeProvisioned(): Promise<Provisioned> {
    const { ports } = this.deps;
    const prev = this.#provisioned;
    const next: Provisioned = {
      scratch: sharedList(prev?.scratch, await ports.scratch.observe({ kind: 'scratch', name: '*' })),
      endpoint: sharedList(prev?.endpoint, await ports.endpoint.observe({ kind: 'endpoint', name: '*' })),
      namespace: sharedList(prev?.namespace, await ports.namespace.observe({ kind: 'namespace', name: '*' })),
    };
    const same = prev && (Object.keys(next) as ProvisionKind[]).every((k) => next[k] === prev[k]);
    this.#provisioned = same ? prev : next;
    return this.#provisioned;
  }

  /** The images the desired systems name, as the store has them (for the image rule, plan-images.ts); the last array while unchanged. */
  async #observeImages(port: ImagePort): Promise<ObservedImage[]> {
    const references = new Set<string>();
    const desired = this.deps.desired.list();
    for (let i = 0; i < desired.length; i++) if (desired[i]!.image) references.add(desired[i]!.image!.reference);
    const next = references.size > 0 ? await port.observe([...references]) : [];
    const prev = this.#images;
    this.#images = prev && sameImages(prev, next) ? prev : next;
    return this.#images;
  }

  /** The grouped state with the provisioned objects and images, the same object while none changed. */
  #withExtras(grouped: ObservedState, provisioned: Provisioned | undefined, images: ObservedImage[] | undefined): ObservedState {
    if (!provisioned && !images) return grouped;
    const c = this.#combined;
    if (c && c.grouped === grouped && c.provisioned === provisioned && c.images === images) return c.state;
    const state: ObservedState = { ...grouped, ...(provisioned ? { provisioned } : {}), ...(images ? { images } : {}) };
    this.#combined = { grouped, provisioned, images, state };
    return state;
  }

  /** Systems we knew running that are now gone or stopped, without an event (missed, or controller was disconnected). */
  #detectMissedExits(observed: ObservedState): void {
    let ended: Array<[string, ExitInfo]> | undefined;
    // forEach and index loops: this runs twice a minute, in unoptimized code, where each step of
    // a for-of allocates an iterator result (about half of an idle relist's garbage).
    this.deps.runtime.forEach((info, name) => {
      const live = info.live;
      if (!live) return;
      for (let i = 0; i < live.length; i++) {
        const id = live[i]!.id;
        // Only runs known before the enumerate was sent can be judged by its answer: one that
        // began while it was in flight may be missing from it without having exited.
        if (this.#liveSinceListStart.has(id)) continue;
        const part = findPart(observed.groups.get(name), id);
        if (part && isLive(part)) continue;
        (ended ??= []).push([id, { exitType: part?.exitType ?? 'Unknown' }]);
      }
    });
    if (ended) for (let i = 0; i < ended.length; i++) this.deps.exit(ended[i]![0], ended[i]![1]);
  }

  /**
   * HCS keeps a stopped system, and its id, while any handle to it is open. Close ours before
   * planning, so that re-creating it (same id when the config is unchanged) does not fail with
   * "already exists". The close reaches HCS before any later create on the same connection.
   */
  async #releaseStopped(observed: ObservedState): Promise<void> {
    let stopped: string[] | undefined;
    observed.groups.forEach((group) => {
      const parts = group.parts;
      for (let i = 0; i < parts.length; i++) if (!isLive(parts[i]!) && this.deps.handles.holds(parts[i]!.id)) (stopped ??= []).push(parts[i]!.id);
    });
    if (stopped) await Promise.all(stopped.map((id) => this.deps.handles.release(id).catch(() => undefined)));
  }

  /** Open a handle (for SystemExited) on live systems of ours that match their manifest. */
  async #adopt(observed: ObservedState): Promise<void> {
    let work: Promise<void>[] | undefined;
    const desired = this.deps.desired.list();
    for (let i = 0; i < desired.length; i++) {
      const d = desired[i]!;
      const group = observed.groups.get(d.name);
      if (!group) continue;
      for (let j = 0; j < group.parts.length; j++) {
        const part = group.parts[j]!;
        if (!matchesShortHash(d.configHash, part.hash) || !isLive(part) || this.deps.handles.has(part.id) || this.#endedSinceListStart.has(part.id)) continue;
        (work ??= []).push(this.#adoptOne(d.name, part.id, part.state === 'Running' || part.state === 'Paused'));
      }
    }
    if (work) await Promise.all(work);
  }

  async #adoptOne(name: string, id: string, running: boolean): Promise<void> {
    try {
      await this.deps.limiter.run(() => this.deps.handles.get(id));
      this.deps.record(name, { type: 'adopted', id, running, at: this.deps.clock.now() });
    } catch (err) {
      this.deps.logger.warn('adopt failed', { system: name, id, err: String(err) });
    }
  }
}

function findPart(group: ObservedGroup | undefined, id: string): ObservedPart | undefined {
  if (!group) return undefined;
  const parts = group.parts;
  for (let i = 0; i < parts.length; i++) if (parts[i]!.id === id) return parts[i];
  return undefined;
}

/** `next`, or `prev` when both hold the same objects in the same order. */
function sharedList(prev: ObservedProvisioned[] | undefined, next: ObservedProvisioned[]): ObservedProvisioned[] {
  if (!prev || prev.length !== next.length) return next;
  for (let i = 0; i < next.length; i++) if (prev[i]!.id !== next[i]!.id || prev[i]!.ready !== next[i]!.ready) return next;
  return prev;
}

/** Whether two image observations say the same (a pull's progress counts: status shows it). */
function sameImages(prev: ObservedImage[], next: ObservedImage[]): boolean {
  if (prev.length !== next.length) return false;
  for (let i = 0; i < next.length; i++) {
    const a = prev[i]!;
    const b = next[i]!;
    if (a.reference !== b.reference || a.present !== b.present || a.digest !== b.digest || a.osVersion !== b.osVersion) return false;
    if (a.pulling?.doneBytes !== b.pulling?.doneBytes || a.pulling?.totalBytes !== b.pulling?.totalBytes) return false;
  }
  return true;
}
