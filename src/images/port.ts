/**
 * The core's ImagePort (reconciler/ports.ts) on the puller and the store: what the reconciler's
 * image nodes call. A pull resolves only after the manifests were rendered again from the store
 * (`rerender`, supplied by the composition root), so the plan after it is made from the stored
 * image, never from the placeholder rendering of an image that was not stored.
 */
import type { ImagePort, ImagePullPolicy, ImagePullProgress, ObservedImage } from '../../reconciler/ports.ts';
import type { ImagePuller } from './puller.ts';

/** A pull failure as the core classifies it: `permanent` is never retried (reconciler/executor.ts). */
export class ImagePullError extends Error {
  constructor(message: string, readonly permanent: boolean) {
    super(message);
  }
}

/** Options of {@link StoreImagePort}. */
export interface StoreImagePortOptions {
  /** Re-render the manifests from the store as it is now (re-read the folder); resolves when the snapshot is applied. */
  rerender(): Promise<void>;
}

/** ImagePort of one store. */
export class StoreImagePort implements ImagePort {
  constructor(private readonly puller: ImagePuller, private readonly opts: StoreImagePortOptions) {}

  async observe(references: readonly string[]): Promise<ObservedImage[]> {
    return (await this.puller.observe(references)).map((o) => ({
      reference: o.reference,
      present: o.state === 'Present',
      ...(o.digest ? { digest: o.digest } : {}),
      ...(o.osVersion ? { osVersion: o.osVersion } : {}),
      ...(o.state === 'Pulling' ? { pulling: { doneBytes: o.doneBytes ?? 0, totalBytes: o.totalBytes ?? 0 } } : {}),
    }));
  }

  /**
   * Pull per policy. The registry's own error text is the message (it names the reference); a
   * platform mismatch names the host build and the image's os.version, `Never` the host build.
   * The manifests are rendered again after every pull: cheap next to a pull, and needed even
   * when nothing was downloaded (an image stored by `image pull` while the manifest waited).
   */
  async pull(reference: string, policy: ImagePullPolicy): Promise<{ digest: string; changed: boolean }> {
    const result = await this.puller.ensure(reference, policy);
    if (!result.ok) throw new ImagePullError(result.error, result.permanent);
    await this.opts.rerender();
    return { digest: result.record.digest, changed: result.pulled };
  }

  progress(reference: string): ImagePullProgress | undefined {
    return this.puller.progress(reference);
  }
}
