/**
 * Which pruning an invalid manifest file holds back (issue 12, finding 12). A file that is
 * invalid and was never valid in this controller's life may declare systems that run now (the
 * controller restarted while it was broken, or it was saved as UTF-16). Holding *all* pruning
 * for it let one broken file stop every deletion. Instead it holds only the names it could have
 * declared: the names its errors carry (its last valid names, or what src/manifest's text scan
 * found). Only a file that names nothing at all still holds all pruning.
 *
 * Pure functions; DesiredStore calls {@link pruneHoldsOf}, the planner's callers apply
 * {@link withoutHeld} to what they observe.
 */
import type { ObservedState } from './observed.ts';
import { provisionedOf } from './provision-plan.ts';
import type { ManifestSnapshot } from './ports.ts';
import { compareText } from './order.ts';

/** What is held and why. */
export interface PruneHolds {
  /** Set when all pruning is held: why. */
  all?: string;
  /** Names whose systems must not be pruned, each with the file that holds it. */
  names: Map<string, string>;
}

/** No holds. */
export const NO_HOLDS: PruneHolds = { names: new Map() };

/**
 * The holds of a snapshot. `desired` are the names desired now (kept on last-known-good where
 * invalid: those are not pruned anyway); `seenValid` the files that held a valid manifest since
 * start.
 */
export function pruneHoldsOf(snapshot: ManifestSnapshot, desired: ReadonlySet<string>, seenValid: ReadonlySet<string>): PruneHolds {
  const names = new Map<string, string>();
  const files = new Set(snapshot.files);
  const namelessNeverValid = new Set<string>();
  for (const e of snapshot.errors) {
    if (e.name !== undefined) {
      if (!desired.has(e.name) && !names.has(e.name)) names.set(e.name, e.file);
    } else if (!seenValid.has(e.file) && files.has(e.file)) {
      namelessNeverValid.add(e.file);
    }
  }
  // A never-valid file whose errors name something holds those names only.
  const naming = new Set(snapshot.errors.filter((e) => e.name !== undefined).map((e) => e.file));
  for (const file of [...namelessNeverValid]) if (naming.has(file)) namelessNeverValid.delete(file);
  // An existing file that declares nothing (empty, being written) and was never valid since start.
  // (Sets of the files with errors, ignored documents and manifests: per-file .some() scans made
  // this O(files x manifests), ~20 ms per snapshot at 1000 files.)
  const withErrors = new Set(snapshot.errors.map((e) => e.file));
  const withIgnored = new Set(snapshot.ignored.map((i) => i.source.file));
  const declaring = new Set(snapshot.manifests.map((m) => m.source.file));
  for (const f of snapshot.files) {
    if (seenValid.has(f) || withErrors.has(f) || withIgnored.has(f)) continue;
    if (!declaring.has(f)) namelessNeverValid.add(f);
  }
  if (namelessNeverValid.size === 0) return { names };
  const list = [...namelessNeverValid].sort();
  return {
    names,
    all: `${list.join(', ')} ${list.length === 1 ? 'is' : 'are'} invalid or empty, names nothing readable, and no valid version was seen since start; not pruning until fixed or removed`,
  };
}

/** The status line for holds, or undefined when nothing is held. */
export function describeHolds(h: PruneHolds): string | undefined {
  const named = [...h.names].sort(([a], [b]) => compareText(a, b)).map(([name, file]) => `${name} (declared by invalid ${file})`);
  const parts = [...(h.all ? [h.all] : []), ...(named.length > 0 ? [`not pruning ${named.join(', ')} until the file is fixed or removed`] : [])];
  return parts.length > 0 ? parts.join('; ') : undefined;
}

/** `observed` without the groups of held names: the planner never prunes what it does not see. */
export function withoutHeld(observed: ObservedState, holds: PruneHolds, desired: ReadonlySet<string>): ObservedState {
  if (holds.names.size === 0) return observed;
  const kept = (name: string) => desired.has(name) || !holds.names.has(name);
  const groups = new Map([...observed.groups].filter(([name]) => kept(name)));
  // A held name's scratch, endpoint and namespace are not pruned either.
  return { ...observed, groups, ...(observed.provisioned ? { provisioned: provisionedOf(observed.provisioned, kept) } : {}) };
}
