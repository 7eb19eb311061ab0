/**
 * Observed state: the enumerate result, reduced to the systems we own and grouped by manifest
 * name. Anything whose Owner is not ours is dropped here, before the planner sees it, so the
 * rest of the core cannot even name a foreign system.
 */
import { parseSystemId, type PartRole } from './identity.ts';
import type { ExitType, HcsState, ObservedImage, ObservedProvisioned, ObservedSystem, ProvisionKind } from './ports.ts';

/** One observed compute system of ours. */
export interface ObservedPart {
  id: string;
  name: string;
  role: PartRole;
  /** 12-hex-digit config hash prefix from the id. */
  hash: string;
  state: HcsState;
  exitType?: ExitType;
}

/** Systems of one manifest name, possibly of several config hashes during an update. */
export interface ObservedGroup {
  name: string;
  parts: ObservedPart[];
}

/** Result of {@link groupObserved}. */
export interface ObservedState {
  groups: Map<string, ObservedGroup>;
  /** Systems with our Owner whose id we did not make (left alone, reported). */
  unrecognised: ObservedSystem[];
  /** Our scratches, endpoints and namespaces by system id (absent: not observed, e.g. `plan` without the adapter). */
  provisioned?: Record<ProvisionKind, ObservedProvisioned[]>;
  /** The images desired systems name, as the image store sees them (absent: not observed). */
  images?: ObservedImage[];
}

/** Owner comparison is case-insensitive, as hcsshim does (HCS's own rule is UNVERIFIED). */
export function isOwnedBy(system: ObservedSystem, owner: string): boolean {
  return system.owner.toLowerCase() === owner.toLowerCase();
}

/** Keep our systems only and group them by the manifest name encoded in their id. */
export function groupObserved(systems: readonly ObservedSystem[], owner: string): ObservedState {
  return groupWith(systems, owner, toPart);
}

/** The part of one of our systems, or undefined when its id is not one we make. */
function toPart(system: ObservedSystem): ObservedPart | undefined {
  const parsed = parseSystemId(system.id);
  if (!parsed) return undefined;
  return {
    id: system.id,
    name: parsed.name,
    role: parsed.role,
    hash: parsed.hash,
    state: system.stopped ? 'Stopped' : system.state,
    ...(system.exitType ? { exitType: system.exitType } : {}),
  };
}

function groupWith(systems: readonly ObservedSystem[], owner: string, partOf: (s: ObservedSystem) => ObservedPart | undefined): ObservedState {
  const groups = new Map<string, ObservedGroup>();
  const unrecognised: ObservedSystem[] = [];
  for (const system of systems) {
    if (!isOwnedBy(system, owner)) continue;
    const part = partOf(system);
    if (!part) {
      unrecognised.push(system);
      continue;
    }
    const group = groups.get(part.name);
    if (group) group.parts.push(part);
    else groups.set(part.name, { name: part.name, parts: [part] });
  }
  return { groups, unrecognised };
}

/** True when the part is alive in HCS (created, running or paused). */
export function isLive(part: ObservedPart): boolean {
  return part.state !== 'Stopped' && part.state !== 'Unknown';
}

/**
 * {@link groupObserved} with structural sharing between relists. The same `systems` array (the
 * HCS binding returns the same array for an unchanged enumerate answer) gives the same state
 * object, so an unchanged relist allocates nothing here and the planner can tell "nothing
 * changed" by identity. A changed answer is grouped again, but a system object seen before keeps
 * its part object, and a group whose parts are all unchanged keeps its group object.
 * The states it returns are shared: callers must not mutate them.
 */
export class ObservedCache {
  #input: readonly ObservedSystem[] | undefined;
  #owner: string | undefined;
  #state: ObservedState | undefined;
  #parts = new WeakMap<ObservedSystem, ObservedPart | null>();
  /** Times the systems were grouped afresh (a counter for tests and diagnostics). */
  regrouped = 0;

  /** The grouped state of `systems`, shared with the previous call where nothing changed. */
  group(systems: readonly ObservedSystem[], owner: string): ObservedState {
    if (systems === this.#input && owner === this.#owner && this.#state) return this.#state;
    this.regrouped++;
    if (owner !== this.#owner) this.#parts = new WeakMap();
    const fresh = groupWith(systems, owner, (s) => this.#partOf(s));
    const before = this.#state?.groups;
    for (const [name, group] of fresh.groups) {
      const old = before?.get(name);
      if (old && sameItems(old.parts, group.parts)) fresh.groups.set(name, old);
    }
    this.#input = systems;
    this.#owner = owner;
    this.#state = fresh;
    return fresh;
  }

  #partOf(system: ObservedSystem): ObservedPart | undefined {
    const known = this.#parts.get(system);
    if (known !== undefined) return known ?? undefined;
    const part = toPart(system);
    this.#parts.set(system, part ?? null);
    return part;
  }
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
