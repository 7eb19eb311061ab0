/**
 * Automatic image garbage collection: an image no manifest uses is removed once it has been unused
 * for the grace period, oldest-unused first, together with the layers nothing else references.
 * Images in use are never removed. "Unused since" lives in memory: a controller restart starts the
 * grace period again (it errs towards keeping). The clock and the timer are injected.
 */
import { formatReference, parseReference } from '../registry/index.ts';
import type { ImageStore, PruneResult } from './store.ts';

/** Options of {@link ImageGc}. */
export interface ImageGcOptions {
  graceMs: number;
  now?: () => number;
}

/** Decides and runs automatic prunes; call `sweep` periodically (the composition root owns the timer). */
export class ImageGc {
  private readonly unusedSince = new Map<string, number>();
  private readonly now: () => number;
  constructor(private readonly store: ImageStore, private readonly opts: ImageGcOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Removes images unused for at least the grace period; `inUse` are references as manifests write them. */
  async sweep(inUse: Iterable<string>): Promise<PruneResult> {
    const used = new Set<string>();
    for (const r of inUse) {
      try {
        used.add(formatReference(parseReference(r)));
      } catch {
        // an invalid reference in a manifest protects nothing
      }
    }
    const now = this.now();
    const records = await this.store.list();
    for (const r of records) {
      if (used.has(r.reference)) this.unusedSince.delete(r.reference);
      else if (!this.unusedSince.has(r.reference)) this.unusedSince.set(r.reference, now);
    }
    for (const ref of [...this.unusedSince.keys()]) if (!records.some((r) => r.reference === ref)) this.unusedSince.delete(ref);
    const expired = new Set([...this.unusedSince].filter(([, since]) => now - since >= this.opts.graceMs).map(([ref]) => ref));
    const result = await this.store.prune((r) => !expired.has(r.reference));
    for (const ref of result.images) this.unusedSince.delete(ref);
    return result;
  }
}
