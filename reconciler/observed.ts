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
  const groups = new Map<string, ObservedGroup>();
  const unrecognised: ObservedSystem[] = [];
  for (const system of systems) {
    if (!isOwnedBy(system, owner)) continue;
    const parsed = parseSystemId(system.id);
    if (!parsed) {
      unrecognised.push(system);
      continue;
    }
    const part: ObservedPart = {
      id: system.id,
      name: parsed.name,
      role: parsed.role,
      hash: parsed.hash,
      state: system.stopped ? 'Stopped' : system.state,
      ...(system.exitType ? { exitType: system.exitType } : {}),
    };
    const group = groups.get(parsed.name) ?? { name: parsed.name, parts: [] };
    group.parts.push(part);
    groups.set(parsed.name, group);
  }
  return { groups, unrecognised };
}

/** True when the part is alive in HCS (created, running or paused). */
export function isLive(part: ObservedPart): boolean {
  return part.state !== 'Stopped' && part.state !== 'Unknown';
}
