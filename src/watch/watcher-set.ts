/**
 * The lifecycle of a source's two chokidar watchers (started by watchers.ts): which folder and
 * which chain of links they watch, when they are re-created (symlink swap, folder re-created,
 * vanished, or a watcher error that may have killed it, rate-limited), and closing them.
 * source.ts owns the scheduling; this class only calls back `hint` (something may have changed)
 * and `followUp` (look again after a delay: a restart is due then).
 */
import type { FSWatcher } from 'chokidar';
import type { Logger } from '../../reconciler/ports.ts';
import { anchorKey, type PathChain } from './resolve.ts';
import type { Timers } from './types.ts';
import { watchAnchors, watchContent, type PollSettings, type StartedWatcher } from './watchers.ts';

/** Watcher errors after which the content watcher is re-created (it may have died). */
const FATAL_WATCH_CODES = new Set(['EPERM', 'EBUSY', 'ENOENT', 'EINVAL']);
/** Minimum gap between two re-creations of the content watcher (avoids an error/restart loop). */
const RESTART_GAP_MS = 1000;
/** How long start() waits for chokidar's initial walk before scanning anyway. */
const READY_TIMEOUT_MS = 10_000;

interface Content extends StartedWatcher {
  real: string;
  rootId?: string;
}

interface Anchor extends StartedWatcher {
  key: string;
}

/** What the watchers need from their source. */
export interface WatcherSetDeps {
  /** The configured manifests path (for logs). */
  display: string;
  depth: number;
  poll: PollSettings;
  isManifestFileName(name: string): boolean;
  clock: Pick<Required<Timers>, 'now' | 'setTimeout' | 'clearTimeout'>;
  log: Logger;
  /** The source's counters; this class counts watcher errors and starts there. */
  counters: { watcherErrors: number; watcherStarts: number };
  isDisposed(): boolean;
  /** Something may have changed (at `path`, when known): schedule a rescan. */
  hint(path?: string): void;
  /** Look again after `ms` (a watcher restart is rate-limited until then). */
  followUp(ms: number): void;
}

/** The content and anchor watchers of one source, and their restart bookkeeping. */
export class WatcherSet {
  private content?: Content;
  private anchor?: Anchor;
  /** A watcher error asked for the content watcher to be re-created. */
  private suspect = false;
  private lastRestart = -Infinity;
  private readonly closing = new Set<Promise<void>>();
  private readonly hooks = {
    hint: (path?: string) => this.deps.hint(path),
    error: (err: unknown, which: 'content' | 'anchor') => this.onWatcherError(err, which),
  };

  constructor(private readonly deps: WatcherSetDeps) {}

  /**
   * Makes the watchers match what the path resolves to now: re-creates the anchor watcher when
   * the chain of links changed, and the content watcher when the folder moved (symlink swap),
   * was re-created (new inode: the old watch is dead), vanished, or errored.
   */
  sync(chain: PathChain, folderOk: boolean, rootId: string | undefined, hintOnReady: boolean): void {
    const key = anchorKey(chain.anchors);
    if (this.anchor?.key !== key) {
      this.closeWatcher(this.anchor?.watcher);
      this.anchor = { key, ...watchAnchors(chain.anchors, this.deps.poll, this.hooks) };
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
    this.lastRestart = this.deps.clock.now();
    this.deps.counters.watcherStarts++;
    this.deps.log.debug('watching manifests folder', { path: this.deps.display, real: want });
    const started = watchContent(want, this.deps.depth, this.deps.poll, (name) => this.deps.isManifestFileName(name), this.hooks);
    this.content = { real: want, rootId, ...started };
    // Events between our readdir and the end of chokidar's walk would be lost: look once more.
    if (hintOnReady) void started.ready.then(() => this.deps.hint());
  }

  /** Waits for both watchers' initial walk, at most READY_TIMEOUT_MS. */
  async waitReady(): Promise<void> {
    let timer: unknown;
    const timeout = new Promise<void>((done) => (timer = this.deps.clock.setTimeout(done, READY_TIMEOUT_MS)));
    const ready = Promise.all([this.content?.ready, this.anchor?.ready]).then(() => undefined);
    await Promise.race([ready, timeout]);
    this.deps.clock.clearTimeout(timer);
  }

  /** Starts closing both watchers; {@link closed} waits for it. */
  closeAll(): void {
    this.closeWatcher(this.content?.watcher);
    this.closeWatcher(this.anchor?.watcher);
    this.content = this.anchor = undefined;
  }

  /** Resolves when every watcher closed so far has finished closing. */
  async closed(): Promise<void> {
    await Promise.all([...this.closing]);
  }

  /** True when a watcher error asked for a restart and the rate limit allows it now. */
  private restartDue(): boolean {
    if (!this.suspect) return false;
    const wait = this.lastRestart + RESTART_GAP_MS - this.deps.clock.now();
    if (wait <= 0) return true;
    this.deps.followUp(wait);
    return false;
  }

  private onWatcherError(err: unknown, which: 'content' | 'anchor'): void {
    if (this.deps.isDisposed()) return;
    this.deps.counters.watcherErrors++;
    const e = err as NodeJS.ErrnoException;
    this.deps.log.warn('manifest watcher error; rescanning', { code: e?.code, error: e?.message, path: e?.path ?? this.deps.display, watcher: which });
    if (which === 'content' && e?.code !== undefined && FATAL_WATCH_CODES.has(e.code)) this.suspect = true;
    this.deps.hint();
  }

  private closeWatcher(w: FSWatcher | undefined): void {
    if (!w) return;
    const p: Promise<void> = w.close().catch((err: unknown) => this.deps.log.debug('closing watcher failed', { error: String(err) }));
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }
}
