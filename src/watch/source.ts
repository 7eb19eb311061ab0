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
import type { FSWatcher } from 'chokidar';
import type { Disposable, Logger, ManifestSnapshot } from '../../reconciler/ports.ts';
import { anchorKey, resolveChain, type PathChain } from './resolve.ts';
import { newScanContext, scanFolder, type FolderScanFailed, type FolderScanOk, type ScanContext } from './scan.ts';
import type { FileResult, ManifestParser, ManifestSource, ManifestSourceOptions, SourceStats, Timers } from './types.ts';
import { watchAnchors, watchContent, type PollSettings, type StartedWatcher } from './watchers.ts';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

const globalTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/** Watcher errors after which the content watcher is re-created (it may have died). */
const FATAL_WATCH_CODES = new Set(['EPERM', 'EBUSY', 'ENOENT', 'EINVAL']);
/** Minimum gap between two re-creations of the content watcher (avoids an error/restart loop). */
const RESTART_GAP_MS = 1000;
/** How long start() waits for chokidar's initial walk before scanning anyway. */
const READY_TIMEOUT_MS = 10_000;
/** A scan retries when the path was re-pointed while it read (git-sync swap mid-scan). */
const MAX_SCAN_ATTEMPTS = 4;

interface Content extends StartedWatcher {
  real: string;
  rootId?: string;
}

interface Anchor extends StartedWatcher {
  key: string;
}

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
    maxReadBytes: opts.maxReadBytes ?? 16 * 1024 * 1024,
    poll: { poll: opts.poll ?? false, intervalMs: opts.pollIntervalMs ?? 1000 } satisfies PollSettings,
  };
}

class FolderSource implements ManifestSource {
  private readonly display: string;
  private readonly parser: ManifestParser;
  private readonly log: Logger;
  private readonly timers: Timers;
  private readonly cfg: ReturnType<typeof settings>;
  private readonly ctx: ScanContext;
  private readonly listeners = new Set<(s: ManifestSnapshot) => void>();
  private readonly counters = { scans: 0, snapshotsEmitted: 0, watcherErrors: 0, watcherStarts: 0, lastScanMs: 0, resolvedPath: '' };
  private snapshot: ManifestSnapshot;
  private lastGood: ManifestSnapshot;
  private lastFingerprint = '';
  private content?: Content;
  private anchor?: Anchor;
  private suspect = false;
  private lastRestart = -Infinity;
  private settleTimer: unknown;
  private pendingSince?: number;
  private resyncTimer: unknown;
  private scanChain: Promise<unknown> = Promise.resolve();
  private queued?: Promise<ManifestSnapshot>;
  private readonly closing = new Set<Promise<void>>();
  private disposed = false;
  /** Set once start() is done; before that, initialScan() does the follow-ups itself. */
  private started = false;
  /** From the last scan: some file had not settled, look again after this many ms. */
  private retryInMs?: number;
  /** Since when publication has been held back for unsettled files. */
  private deferredSince?: number;

  constructor(opts: ManifestSourceOptions) {
    this.display = resolve(opts.path);
    this.parser = opts.parser;
    this.log = opts.logger ?? silent;
    this.timers = opts.timers ?? globalTimers;
    this.cfg = settings(opts);
    this.ctx = newScanContext({ parser: this.parser, depth: this.cfg.depth, settleMs: this.cfg.settleMs, maxSettleMs: this.cfg.maxSettleMs, maxReadBytes: this.cfg.maxReadBytes, now: Date.now });
    this.lastGood = { ...this.parser.combineSnapshot([]), folderOk: true };
    this.snapshot = this.lastGood;
  }

  /** Starts the watchers, waits for their initial walk, then scans (no event can fall in between). */
  async start(): Promise<void> {
    const chain = await resolveChain(this.display);
    this.syncWatchers(chain, chain.real !== undefined, undefined, false);
    await this.waitReady();
    await this.initialScan();
    this.started = true;
    if (this.cfg.resyncMs > 0 && !this.disposed) {
      this.resyncTimer = this.timers.setInterval(() => void this.requestScan(), this.cfg.resyncMs);
    }
  }

  /**
   * The first scan, repeated while files are still being written (up to maxSettleMs), so that
   * current() after start already holds a settled folder rather than one missing a file that a
   * deployment tool is copying right now.
   */
  private async initialScan(): Promise<void> {
    await this.requestScan();
    while (this.deferredSince !== undefined && !this.disposed) {
      await this.delay(this.retryInMs ?? this.cfg.settleMs);
      await this.requestScan();
    }
  }

  private delay(ms: number): Promise<void> {
    return new Promise((done) => this.timers.setTimeout(done, ms));
  }

  current(): ManifestSnapshot {
    return this.snapshot;
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
    this.ctx.cache.clear();
    this.lastFingerprint = '';
    return this.requestScan();
  }

  stats(): SourceStats {
    return { ...this.counters, ...this.ctx.counters };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.listeners.clear();
    this.clearSettleTimer();
    if (this.resyncTimer !== undefined) this.timers.clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    this.closeWatcher(this.content?.watcher);
    this.closeWatcher(this.anchor?.watcher);
    this.content = this.anchor = undefined;
    await this.scanChain;
    await Promise.all([...this.closing]);
  }

  // ---- scheduling --------------------------------------------------------------------------

  /** A watcher event: (re)start the settle window, but never postpone a scan past maxSettleMs. */
  private hint(): void {
    if (this.disposed) return;
    const now = Date.now();
    this.pendingSince ??= now;
    this.clearSettleTimer();
    const delay = Math.min(this.cfg.settleMs, Math.max(0, this.pendingSince + this.cfg.maxSettleMs - now));
    this.settleTimer = this.timers.setTimeout(() => this.fire(), delay);
  }

  /** A scan found unsettled files: look again later, unless a scan is already scheduled. */
  private followUp(ms: number): void {
    if (this.disposed || this.settleTimer !== undefined) return;
    this.settleTimer = this.timers.setTimeout(() => this.fire(), ms);
  }

  private fire(): void {
    this.settleTimer = undefined;
    this.pendingSince = undefined;
    void this.requestScan();
  }

  private clearSettleTimer(): void {
    if (this.settleTimer !== undefined) this.timers.clearTimeout(this.settleTimer);
    this.settleTimer = undefined;
  }

  /**
   * Scans run one at a time. A request made while a scan runs gets a new scan that starts after
   * it (so it sees the caller's changes); requests made before that one starts share it.
   */
  private requestScan(): Promise<ManifestSnapshot> {
    if (this.queued) return this.queued;
    const next = this.scanChain.then(() => {
      this.queued = undefined;
      return this.scanNow().catch((err: unknown) => {
        this.log.error('manifest scan failed', { error: String(err), path: this.display });
        return this.snapshot;
      });
    });
    this.queued = next;
    this.scanChain = next;
    return next;
  }

  // ---- scanning ----------------------------------------------------------------------------

  private async scanNow(): Promise<ManifestSnapshot> {
    if (this.disposed) return this.snapshot;
    const t0 = performance.now();
    const { chain, scan } = await this.scanResolved();
    this.counters.scans++;
    this.counters.lastScanMs = performance.now() - t0;
    this.counters.resolvedPath = chain.real ?? '';
    if (this.disposed) return this.snapshot;
    this.syncWatchers(chain, scan.ok, scan.ok ? scan.rootId : undefined, true);
    this.retryInMs = scan.ok ? scan.retryInMs : undefined;
    if (this.retryInMs !== undefined && this.started) this.followUp(this.retryInMs);
    if (!this.deferPublish()) this.publish(scan);
    return this.snapshot;
  }

  /**
   * A snapshot is published only once every file in it has settled, so that a set of files
   * published together (a git-sync swap, a `cp -r`) is never seen half-old, half-new. A file
   * that keeps changing may delay publication by at most maxSettleMs.
   */
  private deferPublish(): boolean {
    if (this.retryInMs === undefined) {
      this.deferredSince = undefined;
      return false;
    }
    const now = Date.now();
    this.deferredSince ??= now;
    if (now - this.deferredSince < this.cfg.maxSettleMs) return true;
    this.deferredSince = undefined;
    return false;
  }

  /** Resolves the path, scans, and scans again if the path was re-pointed meanwhile. */
  private async scanResolved(): Promise<{ chain: PathChain; scan: FolderScan }> {
    let chain = await resolveChain(this.display);
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
    const initial = !this.started;
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
    if (digest === this.lastFingerprint) return;
    if (scan.ok) {
      const combined = this.parser.combineSnapshot(scan.results);
      snap = scan.dirErrors.length === 0 ? combined : { ...combined, errors: [...combined.errors, ...scan.dirErrors] };
      this.lastGood = snap;
    } else {
      // Keep the last good desired state: a vanished folder must never look like "delete all".
      snap = { ...this.lastGood, folderOk: false, folderError: scan.message };
    }
    this.logFolderState(scan);
    this.lastFingerprint = digest;
    this.snapshot = snap;
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
    else if (!this.snapshot.folderOk && this.counters.scans > 1) this.log.info('manifests folder available again', { path: this.display });
  }

  // ---- watchers ----------------------------------------------------------------------------

  /**
   * Makes the watchers match what the path resolves to now: re-creates the anchor watcher when
   * the chain of links changed, and the content watcher when the folder moved (symlink swap),
   * was re-created (new inode: the old watch is dead), vanished, or errored.
   */
  private syncWatchers(chain: PathChain, folderOk: boolean, rootId: string | undefined, hintOnReady: boolean): void {
    const key = anchorKey(chain.anchors);
    if (this.anchor?.key !== key) {
      this.closeWatcher(this.anchor?.watcher);
      this.anchor = { key, ...watchAnchors(chain.anchors, this.cfg.poll, this.hooks) };
    }
    const want = folderOk ? chain.real : undefined;
    const c = this.content;
    if (c && c.real === want && (c.rootId === undefined || c.rootId === rootId) && !this.restartDue()) {
      c.rootId ??= rootId;
      return;
    }
    if (!c && want === undefined) return;
    this.closeWatcher(c?.watcher);
    this.content = undefined;
    if (want === undefined) return;
    this.suspect = false;
    this.lastRestart = Date.now();
    this.counters.watcherStarts++;
    this.log.debug('watching manifests folder', { path: this.display, real: want });
    const started = watchContent(want, this.cfg.depth, this.cfg.poll, (name) => this.parser.isManifestFileName(name), this.hooks);
    this.content = { real: want, rootId, ...started };
    // Events between our readdir and the end of chokidar's walk would be lost: look once more.
    if (hintOnReady) void started.ready.then(() => this.hint());
  }

  /** True when a watcher error asked for a restart and the rate limit allows it now. */
  private restartDue(): boolean {
    if (!this.suspect) return false;
    const wait = this.lastRestart + RESTART_GAP_MS - Date.now();
    if (wait <= 0) return true;
    this.followUp(wait);
    return false;
  }

  private readonly hooks = {
    hint: () => this.hint(),
    error: (err: unknown, which: 'content' | 'anchor') => this.onWatcherError(err, which),
  };

  private onWatcherError(err: unknown, which: 'content' | 'anchor'): void {
    if (this.disposed) return;
    this.counters.watcherErrors++;
    const e = err as NodeJS.ErrnoException;
    this.log.warn('manifest watcher error; rescanning', { code: e?.code, error: e?.message, path: e?.path ?? this.display, watcher: which });
    if (which === 'content' && e?.code !== undefined && FATAL_WATCH_CODES.has(e.code)) this.suspect = true;
    this.hint();
  }

  private closeWatcher(w: FSWatcher | undefined): void {
    if (!w) return;
    const p: Promise<void> = w.close().catch((err: unknown) => this.log.debug('closing watcher failed', { error: String(err) }));
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }

  private async waitReady(): Promise<void> {
    let timer: unknown;
    const timeout = new Promise<void>((done) => (timer = this.timers.setTimeout(done, READY_TIMEOUT_MS)));
    const ready = Promise.all([this.content?.ready, this.anchor?.ready]).then(() => undefined);
    await Promise.race([ready, timeout]);
    this.timers.clearTimeout(timer);
  }
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
