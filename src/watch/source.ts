/**
 * The manifest folder source: watcher hints → debounced full rescan → changed snapshot.
 *
 * Why full rescans instead of applying events: chokidar misses an atomic symlink swap and merges
 * or drops events during bursts (libs.md §3). A rescan with a per-file stat/hash cache costs a
 * stat per file when nothing changed, and it cannot be wrong in the ways an event stream can.
 * Snapshots are only emitted when their fingerprint (per-file content hashes + folder state)
 * differs from the last one, so relists and no-op editor probes emit nothing.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import type { Disposable, Logger, ManifestSnapshot } from '../../reconciler/ports.ts';
import { resolveChain, type PathChain } from './resolve.ts';
import { lightScan, newScanContext, scanFolder, type FolderScanFailed, type FolderScanOk, type ScanContext } from './scan.ts';
import * as schedule from './schedule.ts';
import type { FileResult, ManifestParser, ManifestSource, ManifestSourceOptions, SourceStats, Timers } from './types.ts';
import { WatcherSet } from './watcher-set.ts';
import type { PollSettings } from './watchers.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const globalTimers: Required<Timers> = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
  now: () => Date.now(),
};

/** A scan retries when the path was re-pointed while it read (git-sync swap mid-scan). */
const MAX_SCAN_ATTEMPTS = 4;

type FolderScan = FolderScanOk | FolderScanFailed;

/** Validates and fills in defaults. */
function settings(opts: ManifestSourceOptions) {
  const settleMs = opts.settleMs ?? 150;
  const depth = opts.depth ?? 1;
  if (!Number.isInteger(depth) || depth < 0 || depth > 8) throw new RangeError(`depth must be an integer 0..8 (got ${depth})`);
  if (!(settleMs >= 0)) throw new RangeError(`settleMs must be >= 0 (got ${settleMs})`);
  return {
    settleMs,
    depth,
    maxSettleMs: opts.maxSettleMs ?? Math.max(5000, 20 * settleMs),
    resyncMs: opts.resyncMs ?? 30_000,
    fullResyncMs: opts.fullResyncMs ?? 10 * (opts.resyncMs ?? 30_000),
    maxReadBytes: opts.maxReadBytes ?? 16 * 1024 * 1024,
    noisyAfterMs: opts.noisyAfterMs ?? Math.max(500, 3 * settleMs),
    poll: { poll: opts.poll ?? false, intervalMs: opts.pollIntervalMs ?? 1000 } satisfies PollSettings,
  };
}

/** What was last published (and the last good desired state, kept while the folder is gone). */
interface Published {
  snapshot: ManifestSnapshot;
  lastGood: ManifestSnapshot;
  fingerprint: string;
}

/** Handles of armed timers and scans in flight (the decisions are in `sched`). */
interface Pending {
  settleTimer?: unknown;
  resyncTimer?: unknown;
  scanChain: Promise<unknown>;
  queued?: Promise<ManifestSnapshot>;
  /** A reparse was asked for: the next scan to start forgets the parse cache and the published fingerprint. */
  reparse?: boolean;
  /** Some request of the queued scan was not the periodic timer's: it must be a full scan. */
  full?: boolean;
}

class FolderSource implements ManifestSource {
  private readonly display: string;
  private readonly parser: ManifestParser;
  private readonly log: Logger;
  /** The one clock: timers and now. */
  private readonly clock: Required<Timers>;
  private readonly cfg: ReturnType<typeof settings>;
  private readonly ctx: ScanContext;
  private readonly listeners = new Set<(s: ManifestSnapshot) => void>();
  private readonly counters = { scans: 0, snapshotsEmitted: 0, watcherErrors: 0, watcherStarts: 0, lastScanMs: 0, resolvedPath: '' };
  /** Scheduling state, changed only through schedule.ts. */
  private sched = schedule.initialSchedule();
  private published: Published;
  /** The scan object last published (or found equal to it): a light relist returning it publishes nothing. */
  private publishedScan?: FolderScan;
  /** The fingerprint lines of the last published ok scan: an equal list is an equal snapshot (no join, no hash). */
  private publishedLines?: readonly string[];
  /** Clock time when the last full scan started (light relists until fullResyncMs after it). */
  private lastFullAt = Number.NEGATIVE_INFINITY;
  private readonly watchers: WatcherSet;
  private readonly pending: Pending = { scanChain: Promise.resolve() };
  /** Per path: first and last event of its current run of events (noisy-file detection). */
  private readonly hintSpans = new Map<string, { since: number; last: number }>();

  constructor(opts: ManifestSourceOptions) {
    this.display = resolve(opts.path);
    this.parser = opts.parser;
    this.log = opts.logger ?? silent;
    this.clock = { ...globalTimers, ...opts.timers, now: opts.timers?.now?.bind(opts.timers) ?? globalTimers.now };
    this.cfg = settings(opts);
    this.ctx = newScanContext({
      parser: this.parser, depth: this.cfg.depth, settleMs: this.cfg.settleMs, maxSettleMs: this.cfg.maxSettleMs,
      maxReadBytes: this.cfg.maxReadBytes, noisyAfterMs: this.cfg.noisyAfterMs, now: this.clock.now,
    });
    this.watchers = new WatcherSet({
      display: this.display, depth: this.cfg.depth, poll: this.cfg.poll, isManifestFileName: (name) => this.parser.isManifestFileName(name),
      clock: this.clock, log: this.log, counters: this.counters, isDisposed: () => this.disposed,
      hint: (path) => this.hint(path), followUp: (ms) => this.followUp(ms),
    });
    const empty = { ...this.parser.combineSnapshot([]), folderOk: true };
    this.published = { snapshot: empty, lastGood: empty, fingerprint: '' };
  }

  private get disposed(): boolean {
    return this.sched.phase === 'disposed';
  }

  /** Starts the watchers, waits for their initial walk, then scans (no event can fall in between). */
  async start(): Promise<void> {
    const chain = await resolveChain(this.display);
    this.watchers.sync(chain, chain.real !== undefined, undefined, false);
    await this.watchers.waitReady();
    await this.initialScan();
    this.sched = schedule.onStarted(this.sched);
    if (this.cfg.resyncMs > 0 && !this.disposed) {
      this.pending.resyncTimer = this.clock.setInterval(() => void this.requestScan(true), this.cfg.resyncMs);
    }
  }

  /**
   * The first scan, repeated while files are still being written (up to maxSettleMs), so that
   * current() after start already holds a settled folder rather than one missing a file that a
   * deployment tool is copying right now.
   */
  private async initialScan(): Promise<void> {
    await this.requestScan();
    while (schedule.initialScanPending(this.sched)) {
      await this.delay(this.sched.retryInMs ?? this.cfg.settleMs);
      await this.requestScan();
    }
  }

  private delay(ms: number): Promise<void> {
    return new Promise((done) => this.clock.setTimeout(done, ms));
  }

  current(): ManifestSnapshot {
    return this.published.snapshot;
  }

  onSnapshot(listener: (s: ManifestSnapshot) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  rescan(): Promise<ManifestSnapshot> {
    return this.requestScan();
  }

  /** The parser's other inputs changed (the image store): parse every file again and publish. */
  reparse(): Promise<ManifestSnapshot> {
    // Done when the next scan starts, not now: a scan in flight may still store a parse made
    // with the old inputs into the cache after this call (then the re-parse found it cached and
    // published nothing new).
    this.pending.reparse = true;
    return this.requestScan();
  }

  stats(): SourceStats {
    return { ...this.counters, ...this.ctx.counters };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.sched = schedule.onDisposed(this.sched);
    this.listeners.clear();
    this.clearSettleTimer();
    if (this.pending.resyncTimer !== undefined) this.clock.clearInterval(this.pending.resyncTimer);
    this.pending.resyncTimer = undefined;
    this.watchers.closeAll();
    await this.pending.scanChain;
    await this.watchers.closed();
  }

  // ---- scheduling --------------------------------------------------------------------------

  /** A watcher event: a scan settleMs after the first event of a burst (schedule.ts). */
  private hint(path?: string): void {
    const noisy = path !== undefined && this.noteHint(resolve(path));
    const { state, delayMs } = schedule.onHint(this.sched, this.clock.now(), this.cfg, noisy);
    if (delayMs === undefined) return void (this.sched = state);
    this.clearSettleTimer();
    this.sched = state;
    this.pending.settleTimer = this.clock.setTimeout(() => this.fire(), delayMs);
  }

  /**
   * Records an event about `path`; true when that path is noisy: its events have kept coming,
   * each less than settleMs after the previous one, for noisyAfterMs or more (or a scan found
   * it unsettled that long). The scan then treats it as noisy too (it no longer holds others).
   */
  private noteHint(path: string): boolean {
    const now = this.clock.now();
    const h = this.hintSpans.get(path);
    if (!h || now - h.last > this.cfg.settleMs) {
      this.hintSpans.set(path, { since: now, last: now });
      this.ctx.noisy.delete(path);
      return false;
    }
    h.last = now;
    if (now - h.since >= this.cfg.noisyAfterMs) this.ctx.noisy.add(path);
    return this.ctx.noisy.has(path);
  }

  /** Forgets event spans of paths that have gone quiet (bounds the map). */
  private forgetQuietHints(): void {
    const now = this.clock.now();
    for (const [path, h] of this.hintSpans) if (now - h.last > this.cfg.settleMs) this.hintSpans.delete(path);
  }

  /** A scan found unsettled files: look again later, unless a scan is already scheduled. */
  private followUp(ms: number): void {
    const { state, delayMs } = schedule.onFollowUp(this.sched, ms);
    this.sched = state;
    if (delayMs !== undefined) this.pending.settleTimer = this.clock.setTimeout(() => this.fire(), delayMs);
  }

  private fire(): void {
    this.forgetQuietHints();
    this.pending.settleTimer = undefined;
    this.sched = schedule.onTimerFired(this.sched);
    void this.requestScan();
  }

  private clearSettleTimer(): void {
    if (this.pending.settleTimer !== undefined) this.clock.clearTimeout(this.pending.settleTimer);
    this.pending.settleTimer = undefined;
    this.sched = { ...this.sched, timerArmed: false };
  }

  /**
   * Scans run one at a time. A request made while a scan runs gets a new scan that starts after
   * it (so it sees the caller's changes); requests made before that one starts share it.
   *
   * The periodic timer's request (`periodic`) may be answered by a light relist (one stat per
   * folder, scan.ts `lightScan`) until `fullResyncMs` after the last full scan; every other
   * request (a watcher hint, a follow-up, rescan()) is a full scan, even when it shares a scan
   * the timer queued.
   */
  private requestScan(periodic = false): Promise<ManifestSnapshot> {
    if (!periodic) this.pending.full = true;
    if (this.pending.queued) return this.pending.queued;
    const next = this.pending.scanChain.then(() => {
      this.pending.queued = undefined;
      const light = this.pending.full !== true && this.clock.now() - this.lastFullAt < this.cfg.fullResyncMs;
      this.pending.full = false;
      if (this.pending.reparse) {
        this.pending.reparse = false;
        this.ctx.cache.clear();
        this.ctx.quiet = undefined;
        // Forget what was published, so the re-parsed snapshot is emitted even if it looks the same.
        this.published = { ...this.published, fingerprint: '' };
        this.publishedScan = undefined;
        this.publishedLines = undefined;
      }
      return this.scanNow(light).catch((err: unknown) => {
        this.log.error('manifest scan failed', { error: String(err), path: this.display });
        return this.published.snapshot;
      });
    });
    this.pending.queued = next;
    this.pending.scanChain = next;
    return next;
  }

  // ---- scanning ----------------------------------------------------------------------------

  private async scanNow(light: boolean): Promise<ManifestSnapshot> {
    if (this.disposed) return this.published.snapshot;
    const t0 = performance.now();
    const { chain, scan } = await this.scanResolved(light);
    // After a failed scan no light relist may answer from what was read before it.
    if (!scan.ok) this.ctx.quiet = undefined;
    this.counters.scans++;
    this.counters.lastScanMs = performance.now() - t0;
    this.counters.resolvedPath = chain.real ?? '';
    if (this.disposed) return this.published.snapshot;
    this.watchers.sync(chain, scan.ok, scan.ok ? scan.rootId : undefined, true);
    // Publication waits for young unsettled files (a set written together is published
    // together) but not for noisy ones, and never longer than maxSettleMs: see schedule.ts.
    const settling = scan.ok ? { retryInMs: scan.retryInMs, holdPublish: scan.holdPublish } : { holdPublish: false };
    const { state, publish } = schedule.onScanned(this.sched, settling, this.clock.now(), this.cfg);
    this.sched = state;
    if (settling.retryInMs !== undefined) this.followUp(settling.retryInMs);
    if (publish) this.publish(scan);
    return this.published.snapshot;
  }

  /** Resolves the path, scans, and scans again if the path was re-pointed meanwhile. */
  private async scanResolved(light: boolean): Promise<{ chain: PathChain; scan: FolderScan }> {
    let chain = await resolveChain(this.display);
    if (light && chain.real !== undefined) {
      const quiet = await lightScan(chain.real, this.ctx);
      if (quiet) {
        const after = await resolveChain(this.display);
        if (after.real === chain.real) return { chain, scan: quiet };
        chain = after;
      }
    }
    this.lastFullAt = this.clock.now();
    for (let attempt = 1; ; attempt++) {
      const scan: FolderScan = chain.real !== undefined
        ? await scanFolder(chain.real, this.display, this.ctx)
        : { ok: false, code: chain.code ?? 'ENOENT', message: `manifests path ${this.display} does not resolve: ${chain.code ?? 'ENOENT'}` };
      const after = await resolveChain(this.display);
      // The old target vanishing mid-scan is a swap, not a missing folder: read the new one.
      if (after.real === chain.real || attempt >= MAX_SCAN_ATTEMPTS) return { chain, scan };
      chain = after;
    }
  }

  private publish(scan: FolderScan): void {
    if (scan === this.publishedScan) return; // a light relist: nothing changed since
    if (scan.ok && sameLines(scan.fingerprint, this.publishedLines)) return void (this.publishedScan = scan);
    const initial = this.sched.phase === 'starting';
    let snap: ManifestSnapshot;
    let fp: string;
    if (scan.ok) {
      fp = 'ok\n' + scan.fingerprint.join('\n');
    } else {
      fp = 'bad\n' + scan.message;
    }
    const digest = createHash('sha256').update(fp).digest('hex');
    // Equal fingerprints mean an equal snapshot (and, for an ok scan, lastGood is that snapshot
    // already): skip combineSnapshot, the largest cost of a relist that finds nothing new.
    if (digest === this.published.fingerprint) {
      this.publishedScan = scan;
      this.publishedLines = scan.ok ? scan.fingerprint : undefined;
      return;
    }
    let lastGood = this.published.lastGood;
    if (scan.ok) {
      const combined = this.parser.combineSnapshot(scan.results);
      snap = scan.dirErrors.length === 0 ? combined : { ...combined, errors: [...combined.errors, ...scan.dirErrors] };
      lastGood = snap;
    } else {
      // Keep the last good desired state: a vanished folder must never look like "delete all".
      snap = { ...lastGood, folderOk: false, folderError: scan.message };
    }
    this.logFolderState(scan);
    this.published = { snapshot: snap, lastGood, fingerprint: digest };
    this.publishedScan = scan;
    this.publishedLines = scan.ok ? scan.fingerprint : undefined;
    if (initial) return;
    this.counters.snapshotsEmitted++;
    for (const listener of [...this.listeners]) {
      try {
        listener(snap);
      } catch (err) {
        this.log.error('manifest snapshot listener threw', { error: String(err) });
      }
    }
  }

  private logFolderState(scan: FolderScan): void {
    if (!scan.ok) this.log.warn('manifests folder unavailable; keeping last desired state', { path: this.display, code: scan.code, error: scan.message });
    else if (!this.published.snapshot.folderOk && this.counters.scans > 1) this.log.info('manifests folder available again', { path: this.display });
  }
}

/** Element-wise equal (unchanged files push the very same cached line strings). */
function sameLines(a: readonly string[], b: readonly string[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Starts watching a manifests folder; resolves after the initial full scan. A missing folder is
 * not an error here: the source starts with a `folderOk: false` snapshot and recovers when the
 * folder appears.
 */
export async function watchManifests<R extends FileResult>(opts: ManifestSourceOptions<R>): Promise<ManifestSource> {
  // Results only ever travel from parseManifestFile back into combineSnapshot of the same parser.
  const source = new FolderSource({ ...opts, parser: opts.parser as ManifestParser });
  try {
    await source.start();
  } catch (err) {
    await source.dispose();
    throw err;
  }
  return source;
}
