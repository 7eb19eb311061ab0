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

  /** Effective desired systems, sorted by name. */
  list(): DesiredSystem[] {
    return [...this.#systems.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): DesiredSystem | undefined {
    return this.#systems.get(name);
  }

  /** Manifest errors of the latest snapshot (plus the folder problem, if any). */
  errors(): readonly ManifestError[] {
    return this.#errors;
  }

  /** Why pruning is currently held back, or undefined when pruning is allowed. */
  pruneHold(): string | undefined {
    return this.#pruneHold;
  }

  /** Whether `name` runs on a last-known-good spec because its file is invalid now. */
  isLastKnownGood(name: string): boolean {
    return this.#lastKnownGood.has(name);
  }

  /** Fold a new snapshot into the desired state. */
  apply(snapshot: ManifestSnapshot, opts: { allowEmpty?: boolean } = {}): DesiredUpdate {
    this.#errors = [...snapshot.errors];
    if (!snapshot.folderOk) {
      this.#pruneHold = `manifests folder unavailable: ${snapshot.folderError ?? 'unknown error'}`;
      return { changed: false, keptLastKnownGood: [], removed: [] };
    }
    if (snapshot.files.length === 0 && this.#systems.size > 0 && !opts.allowEmpty) {
      this.#pruneHold = `manifests folder is empty; keeping ${this.#systems.size} system(s) (run with --allow-empty to prune)`;
      return { changed: false, keptLastKnownGood: [], removed: [] };
    }
    this.#pruneHold = undefined;
    return this.#replace(snapshot);
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
    this.#lastKnownGood = new Set(kept);
    return { changed, keptLastKnownGood: kept, removed };
  }

  /** An error names it, or its file is still there but failed as a whole (unreadable, half-written). */
  #stillDeclaredButInvalid(name: string, old: DesiredSystem, snapshot: ManifestSnapshot): boolean {
    if (snapshot.errors.some((e) => e.name === name)) return true;
    const file = old.source.file;
    return snapshot.files.includes(file) && snapshot.errors.some((e) => e.file === file && e.name === undefined);
  }
}
