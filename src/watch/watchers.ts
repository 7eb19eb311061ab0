/**
 * The two chokidar watchers of a manifest source. This folder is the only code that imports
 * chokidar. Their events are *hints* only: every one of them just schedules a debounced full
 * rescan, so a missed or merged event costs latency (until the periodic relist), never
 * correctness.
 */
import { watch, type FSWatcher } from 'chokidar';
import type { Stats } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';

/** Callbacks shared by both watchers. */
export interface WatchHooks {
  /** Something may have changed (at `path`, when known): schedule a rescan. */
  hint(path?: string): void;
  /** chokidar reported an error (EPERM/EBUSY on Windows when a watched folder goes away). */
  error(err: unknown, which: 'content' | 'anchor'): void;
}

/** Polling settings, for network shares where native change notifications are unreliable. */
export interface PollSettings {
  poll: boolean;
  intervalMs: number;
}

/** A started watcher, and a promise that settles once its initial walk is done. */
export interface StartedWatcher {
  watcher: FSWatcher;
  ready: Promise<void>;
}

function pollOptions(poll: PollSettings): { usePolling: boolean; interval: number; binaryInterval: number } {
  return { usePolling: poll.poll, interval: poll.intervalMs, binaryInterval: poll.intervalMs };
}

function readyOf(w: FSWatcher): Promise<void> {
  return new Promise((done) => w.once('ready', () => done()));
}

/** True when a path below `root` has a component starting with '.' (.git, swap files, rsync temps). */
export function isDotPath(root: string, path: string): boolean {
  const rel = relative(root, resolve(path));
  return rel !== '' && rel.split(sep).some((part) => part.startsWith('.'));
}

/**
 * Watches the resolved manifests folder down to `depth` levels. Dot paths are ignored at the
 * watcher level so that a `.git` directory never gets watch handles.
 *
 * Natively, only *directories* are watched and the hints come from their raw events: chokidar
 * would otherwise open one fs.watch per file, which made writing 1000 files 15× slower
 * (7.9 s instead of 0.5 s here) and holds a handle on every file (on Windows, a lock). A
 * directory watch already reports every change of its children. When polling, a directory's
 * mtime does not change when a file's content does, so manifest files are polled themselves.
 */
export function watchContent(real: string, depth: number, poll: PollSettings, isManifest: (name: string) => boolean, hooks: WatchHooks): StartedWatcher {
  const ignored = poll.poll
    ? (p: string, st?: Stats) => isDotPath(real, p) || (st?.isFile() === true && !isManifest(basename(p)))
    : (p: string, st?: Stats) => isDotPath(real, p) || (st !== undefined && !st.isDirectory());
  const watcher = watch(real, {
    ignoreInitial: true,
    persistent: true,
    depth,
    followSymlinks: true,
    ignorePermissionErrors: false,
    ignored,
    ...pollOptions(poll),
  });
  // Attach 'error' before anything else: an unhandled EPERM from fs.watch on Windows would
  // crash the process (chokidar#643, #566).
  watcher.on('error', (err) => hooks.error(err, 'content'));
  watcher.on('all', (_event, p) => hooks.hint(p));
  watcher.on('raw', (_event, evPath, details) => {
    // Vim swap files and other dotfiles change constantly while editing; they never matter.
    if (typeof evPath === 'string' && basename(evPath).startsWith('.')) return;
    const dir = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
    hooks.hint(typeof evPath === 'string' && typeof dir === 'string' ? join(dir, basename(evPath)) : undefined);
  });
  return { watcher, ready: readyOf(watcher) };
}

/**
 * Watches, at depth 0 and without following links, the directories that hold the symlinks on the
 * way to the folder and the folder itself. Only the listed entries matter; the rest of those
 * directories (possibly big, like the temp dir or a drive root) is ignored without a stat.
 */
export function watchAnchors(anchors: Map<string, Set<string>>, poll: PollSettings, hooks: WatchHooks): StartedWatcher {
  const dirs = new Set([...anchors.keys()].map((d) => resolve(d)));
  const entries = new Set([...anchors.values()].flatMap((s) => [...s].map((e) => resolve(e))));
  const relevant = (p: string): boolean => dirs.has(resolve(p)) || entries.has(resolve(p));
  const watcher = watch([...dirs], {
    ignoreInitial: true,
    persistent: true,
    depth: 0,
    followSymlinks: false,
    ignorePermissionErrors: true,
    ignored: (p: string) => !relevant(p),
    ...pollOptions(poll),
  });
  watcher.on('error', (err) => hooks.error(err, 'anchor'));
  watcher.on('all', (_event, p) => {
    if (relevant(p)) hooks.hint();
  });
  // A rename over the link (`mv -T tmp link`) is certain to show up as a raw event of the
  // directory watcher, whatever chokidar makes of it.
  watcher.on('raw', (_event, evPath, details) => {
    const dir = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
    if (typeof evPath === 'string' && typeof dir === 'string' && relevant(join(dir, evPath))) hooks.hint();
  });
  return { watcher, ready: readyOf(watcher) };
}
