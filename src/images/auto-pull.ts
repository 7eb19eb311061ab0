/**
 * Pulls on demand for the running controller. The manifest loader reports a manifest whose image is
 * not stored (`want`); this starts the pull (one per reference), retries failures with backoff
 * (1 s doubling to 5 min), and gives the text the manifest's status shows meanwhile: `Pulling` with
 * bytes done / total, the registry's own error text with the next retry, or a permanent error
 * (platform mismatch, digest mismatch, `Never`) naming the host build. When the store changed, or a
 * retry is due, or (while pulling) every `refreshMs` for the progress text, `onChange` runs: the
 * composition root re-reads the manifests, which renders them from the store once the pull is done.
 * Timers come from the injected `setTimer`.
 */
import type { ImagePuller, PullPolicy } from './puller.ts';

/** Options of {@link AutoPuller}. */
export interface AutoPullerOptions {
  onChange: () => void;
  setTimer: (fn: () => void, ms: number) => { dispose(): void };
  now?: () => number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  refreshMs?: number;
  alwaysEveryMs?: number;
}

interface Want {
  policy: PullPolicy;
  pulling: boolean;
  attempts: number;
  error?: string;
  permanent?: boolean;
  retryAt?: number;
  timer?: { dispose(): void };
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** The controller's on-demand puller. Dispose to stop its timers. */
export class AutoPuller {
  private readonly wants = new Map<string, Want>();
  private refreshTimer: { dispose(): void } | undefined;
  private readonly now: () => number;
  constructor(private readonly puller: ImagePuller, private readonly opts: AutoPullerOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Called by the loader for a manifest whose image is missing; returns the manifest's status text. */
  want(reference: string, policy: PullPolicy): string {
    let w = this.wants.get(reference);
    if (!w || w.policy !== policy) {
      w?.timer?.dispose();
      w = { policy, pulling: false, attempts: 0 };
      this.wants.set(reference, w);
    }
    if (w.permanent) return `image ${reference}: ${w.error} (permanent; fix the manifest)`;
    if (!w.pulling && (w.retryAt === undefined || this.now() >= w.retryAt)) this.start(reference, w);
    if (w.pulling) return `Pulling ${reference}: ${this.progressText(reference)}`;
    const inS = Math.max(0, Math.ceil(((w.retryAt ?? 0) - this.now()) / 1000));
    return `image ${reference}: pull failed (attempt ${w.attempts}, retry in ${inS}s): ${w.error}`;
  }

  private readonly refreshedAt = new Map<string, number>();
  /**
   * `Always` for a stored image: re-resolve the tag at most every `alwaysEveryMs` (default 60 s),
   * in the background. A moved tag is pulled, and `onChange` re-renders the manifest with the new
   * layers, so the system is re-created. kubelet resolves at every container start; the controller
   * creates rarely, so it checks periodically instead.
   */
  refresh(reference: string): void {
    const last = this.refreshedAt.get(reference);
    if (last !== undefined && this.now() - last < (this.opts.alwaysEveryMs ?? 60_000)) return;
    this.refreshedAt.set(reference, this.now());
    void this.puller.ensure(reference, 'Always').then((res) => {
      if (res.ok && res.pulled) this.opts.onChange();
    });
  }

  /** References the loader asked for (pulling, failed or waiting): GC must keep their images. */
  wanted(): string[] {
    return [...this.wants.keys()];
  }

  private progress = new Map<string, string>();
  private progressText(reference: string): string {
    return this.progress.get(reference) ?? 'starting';
  }

  private start(reference: string, w: Want): void {
    w.pulling = true;
    w.attempts++;
    this.ensureRefresh();
    void this.puller.ensure(reference, w.policy).then((res) => {
      w.pulling = false;
      this.progress.delete(reference);
      if (res.ok) {
        this.wants.delete(reference);
      } else {
        w.error = res.error;
        w.permanent = res.permanent;
        if (!res.permanent) {
          const initial = this.opts.initialBackoffMs ?? 1000;
          const delay = Math.min(this.opts.maxBackoffMs ?? 300_000, initial * 2 ** (w.attempts - 1));
          w.retryAt = this.now() + delay;
          w.timer = this.opts.setTimer(() => this.opts.onChange(), delay);
        }
      }
      this.opts.onChange();
    });
  }

  private ensureRefresh(): void {
    if (this.refreshTimer) return;
    const tick = async () => {
      this.refreshTimer = undefined;
      const pulling = [...this.wants].filter(([, w]) => w.pulling).map(([r]) => r);
      if (pulling.length === 0) return;
      for (const o of await this.puller.observe(pulling)) {
        if (o.state === 'Pulling') this.progress.set(o.reference, `${mb(o.doneBytes ?? 0)} of ${mb(o.totalBytes ?? 0)} MB`);
      }
      this.opts.onChange();
      this.ensureRefresh();
    };
    this.refreshTimer = this.opts.setTimer(() => void tick(), this.opts.refreshMs ?? 2000);
  }

  /** Stops the timers (pulls in flight finish on their own). */
  dispose(): void {
    this.refreshTimer?.dispose();
    for (const w of this.wants.values()) w.timer?.dispose();
  }
}
