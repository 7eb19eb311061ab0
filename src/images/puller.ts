/**
 * The image adapter the controller drives: `ensure(reference, policy)` makes an image present
 * according to its pull policy (one pull per reference at a time, however many systems need it),
 * and `observe()` reports what is present and what is being pulled with bytes done / total (the
 * `Pulling` status). Retry timing is the core's (one backoff rule); this adapter only says whether
 * a failure is permanent: a platform mismatch, a digest mismatch, a malformed reference, or a
 * missing image under `Never`.
 */
import { formatReference, parseReference, RegistryError, type RegistryClient } from '../registry/index.ts';
import type { ImageRecord, ImageStore, LayerProgress } from './store.ts';

/** `IfNotPresent` (default), `Always`, `Never`, as in the manifest. */
export type PullPolicy = 'IfNotPresent' | 'Always' | 'Never';

/** What the adapter knows about one reference. */
export interface ImageObservation {
  reference: string;
  state: 'Present' | 'Pulling' | 'Missing';
  digest?: string;
  osVersion?: string;
  doneBytes?: number;
  totalBytes?: number;
}

/** The outcome of `ensure`. */
export type EnsureResult = { ok: true; record: ImageRecord; pulled: boolean } | { ok: false; error: string; permanent: boolean };

/** Options of the puller. */
export interface PullerOptions {
  /** Host build for messages (the registry client selects by it). */
  hostOsVersion: string;
  /** Called after a pull changed the store (the composition root re-reads the manifests). */
  onStoreChanged?: (reference: string) => void;
}

interface Pull {
  promise: Promise<EnsureResult>;
  progress: Map<string, { done: number; total: number }>;
}

/** Pulls into one store with one registry client. */
export class ImagePuller {
  private readonly pulls = new Map<string, Pull>();
  constructor(
    private readonly store: ImageStore,
    private readonly client: RegistryClient,
    private readonly opts: PullerOptions,
  ) {}

  /** Makes `reference` present per `policy`; concurrent calls for one reference share one pull. */
  ensure(reference: string, policy: PullPolicy = 'IfNotPresent'): Promise<EnsureResult> {
    let key: string;
    try {
      key = formatReference(parseReference(reference));
    } catch (err) {
      return Promise.resolve({ ok: false, error: (err as Error).message, permanent: true });
    }
    const running = this.pulls.get(key);
    if (running) return running.promise;
    const progress = new Map<string, { done: number; total: number }>();
    const promise = this.run(key, policy, progress).finally(() => this.pulls.delete(key));
    this.pulls.set(key, { promise, progress });
    return promise;
  }

  private async run(key: string, policy: PullPolicy, progress: Pull['progress']): Promise<EnsureResult> {
    const existing = await this.store.get(key);
    if (existing && policy !== 'Always') return { ok: true, record: existing, pulled: false };
    if (policy === 'Never') {
      return { ok: false, permanent: true, error: `image ${key} is not in the local image store and imagePullPolicy is Never (host build ${this.opts.hostOsVersion})` };
    }
    try {
      const record = await this.store.pull(key, {
        client: this.client,
        onProgress: (p: LayerProgress) => progress.set(p.digest, { done: p.done, total: p.total }),
      });
      const changed = !existing || existing.digest !== record.digest;
      if (changed) this.opts.onStoreChanged?.(key);
      return { ok: true, record, pulled: changed };
    } catch (err) {
      const permanent = err instanceof RegistryError ? err.permanent : false;
      return { ok: false, permanent, error: (err as Error).message }; // names the reference already
    }
  }

  /** Bytes done / total of the pull of `reference` in flight, if one is (synchronous, for status). */
  progress(reference: string): { doneBytes: number; totalBytes: number } | undefined {
    let key: string;
    try {
      key = formatReference(parseReference(reference));
    } catch {
      return undefined;
    }
    const pull = this.pulls.get(key);
    if (!pull) return undefined;
    let doneBytes = 0;
    let totalBytes = 0;
    for (const p of pull.progress.values()) {
      doneBytes += p.done;
      totalBytes += p.total;
    }
    return { doneBytes, totalBytes };
  }

  /** What is present or being pulled, for the given references. */
  async observe(references: readonly string[]): Promise<ImageObservation[]> {
    const out: ImageObservation[] = [];
    for (const reference of references) {
      let key: string;
      try {
        key = formatReference(parseReference(reference));
      } catch {
        out.push({ reference, state: 'Missing' });
        continue;
      }
      const pulling = this.progress(key);
      if (pulling) {
        out.push({ reference, state: 'Pulling', ...pulling });
        continue;
      }
      const r = await this.store.get(key);
      out.push(r ? { reference, state: 'Present', digest: r.digest, ...(r.osVersion ? { osVersion: r.osVersion } : {}) } : { reference, state: 'Missing' });
    }
    return out;
  }
}
