/**
 * Desired state with last-known-good semantics.
 *
 * Unlike kubelet (which drops the object of a file that turns invalid on its next relist), an
 * invalid, half-written or unreadable file never makes a system stop: the last valid spec of that
 * name stays desired and the error is reported. Only a manifest whose file is gone (or whose file
 * is valid and no longer declares the name) is removed. A vanished or unreadable folder, or one that
 * suddenly holds no files while systems are desired, holds pruning until it recovers (unless
 * allowEmpty).
 */
import type { DesiredSystem, ManifestError, ManifestSnapshot } from './ports.ts';
import { describeHolds, NO_HOLDS, pruneHoldsOf, type PruneHolds } from './prune-holds.ts';
import { compareText } from './order.ts';

/** Result of applying one snapshot. */
export interface DesiredUpdate {
  /** Whether the set of desired systems (or any spec) changed. */
  changed: boolean;
  /** Names kept on their last valid spec because their file is currently invalid. */
  keptLastKnownGood: string[];
  /** Names that left the desired set (their systems will be pruned). */
  removed: string[];
}

/** Holds the effective desired state the planner works from. */
export class DesiredStore {
  #systems = new Map<string, DesiredSystem>();
  #lastKnownGood = new Set<string>();
  #errors: ManifestError[] = [];
  #pruneHold: string | undefined;
  /** What invalid files hold back (prune-holds.ts); folder-level holds live in #pruneHold alone. */
  #holds: PruneHolds = NO_HOLDS;
  /** Files that held a valid manifest at some point since start. */
  #seenValidFiles = new Set<string>();
  #sorted: readonly DesiredSystem[] | undefined;
  #version = 0;

  /**
   * Effective desired systems, sorted by name. The same (frozen) array until the next snapshot:
   * a relist or a status reads it without copying 1000 entries each time.
   */
  list(): readonly DesiredSystem[] {
    this.#sorted ??= Object.freeze([...this.#systems.values()].sort((a, b) => compareText(a.name, b.name)));
    return this.#sorted;
  }

  /** Changes whenever a snapshot was applied (what the planner and status read may have changed). */
  get version(): number {
    return this.#version;
  }

  get(name: string): DesiredSystem | undefined {
    return this.#systems.get(name);
  }

  /** Manifest errors of the latest snapshot (plus the folder problem, if any). */
  errors(): readonly ManifestError[] {
    return this.#errors;
  }

  /** What pruning is currently held back and why (all or some names), or undefined. */
  pruneHold(): string | undefined {
    return this.#pruneHold;
  }

  /** Whether all pruning is held (a folder problem, or an invalid file that names nothing). */
  holdsAllPruning(): boolean {
    return this.#pruneHold !== undefined && (this.#holds.all !== undefined || this.#holds.names.size === 0);
  }

  /** Names whose pruning is held by an invalid file (the planner must not see them as prunable). */
  heldNames(): PruneHolds {
    return this.#holds;
  }

  /** Whether `name` runs on a last-known-good spec because its file is invalid now. */
  isLastKnownGood(name: string): boolean {
    return this.#lastKnownGood.has(name);
  }

  /** Fold a new snapshot into the desired state. */
  apply(snapshot: ManifestSnapshot, opts: { allowEmpty?: boolean } = {}): DesiredUpdate {
    this.#version++;
    this.#errors = [...snapshot.errors];
    this.#holds = NO_HOLDS;
    if (!snapshot.folderOk) {
      this.#pruneHold = `manifests folder unavailable: ${snapshot.folderError ?? 'unknown error'}`;
      return { changed: false, keptLastKnownGood: [], removed: [] };
    }
    if (snapshot.files.length === 0 && !opts.allowEmpty) {
      // Also with nothing desired yet: a controller (re)started on an empty folder must not
      // prune the systems a previous run created (git-sync mid-swap, wrong mount, kill -9).
      this.#pruneHold = this.#systems.size > 0
        ? `manifests folder is empty; keeping ${this.#systems.size} system(s) (run with --allow-empty to prune)`
        : 'manifests folder is empty; not pruning existing systems (run with --allow-empty to prune)';
      return { changed: false, keptLastKnownGood: [], removed: [] };
    }
    const update = this.#replace(snapshot);
    // A Set, not manifests.some() per file: that was O(files x manifests), ~20 ms per snapshot at 1000.
    const declaring = new Set(snapshot.manifests.map((m) => m.source.file));
    for (const f of snapshot.files) if (declaring.has(f)) this.#seenValidFiles.add(f);
    for (const m of this.#systems.values()) this.#seenValidFiles.add(m.source.file);
    this.#holds = pruneHoldsOf(snapshot, new Set(this.#systems.keys()), this.#seenValidFiles);
    this.#pruneHold = describeHolds(this.#holds);
    return update;
  }

  #replace(snapshot: ManifestSnapshot): DesiredUpdate {
    const next = new Map(snapshot.manifests.map((m) => [m.name, m] as const));
    const kept: string[] = [];
    const removed: string[] = [];
    for (const [name, old] of this.#systems) {
      if (next.has(name)) continue;
      if (this.#stillDeclaredButInvalid(name, old, snapshot)) {
        next.set(name, old);
        kept.push(name);
      } else {
        removed.push(name);
      }
    }
    const changed = removed.length > 0 || [...next].some(([n, m]) => this.#systems.get(n)?.configHash !== m.configHash || this.#systems.get(n) !== m);
    this.#systems = next;
    this.#sorted = undefined;
    this.#lastKnownGood = new Set(kept);
    return { changed, keptLastKnownGood: kept, removed };
  }

  /** An error names it, or its file is still there but failed as a whole (unreadable, half-written). */
  #stillDeclaredButInvalid(name: string, old: DesiredSystem, snapshot: ManifestSnapshot): boolean {
    if (snapshot.errors.some((e) => e.name === name)) return true;
    const file = old.source.file;
    if (!snapshot.files.includes(file)) return false;
    if (snapshot.errors.some((e) => e.file === file && e.name === undefined)) return true;
    // A file that is there but declares nothing at all is being written (truncate, then write):
    // removing a manifest means deleting its file or its document, not emptying the file.
    return !snapshot.manifests.some((m) => m.source.file === file) && !snapshot.ignored.some((i) => i.source.file === file)
      && !snapshot.errors.some((e) => e.file === file);
  }
}
