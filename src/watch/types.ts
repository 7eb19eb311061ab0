/**
 * Public types of the manifest folder source (src/watch).
 *
 * The source turns a folder of YAML files into full {@link ManifestSnapshot}s. It never parses
 * YAML itself: the three pure functions of src/manifest are injected as a {@link ManifestParser},
 * so this module depends only on the ports and on chokidar.
 */
import type { Disposable, Logger, ManifestSnapshot } from '../../reconciler/ports.ts';

/**
 * One file's parse result, as returned by src/manifest `parseManifestFile`: the fields this
 * module reads. The real result carries more (e.g. `declared`); the source keeps results whole
 * and hands them back to `combineSnapshot` untouched.
 */
export interface FileResult {
  file: string;
  manifests: ManifestSnapshot['manifests'];
  errors: ManifestSnapshot['errors'];
  ignored: ManifestSnapshot['ignored'];
}

/**
 * The pure functions of src/manifest, already bound to the manifest options (owner, host
 * placement, policy, size limit) by the composition root. `R` is the parser's own result type;
 * every result given to `combineSnapshot` came from `parseManifestFile` (or is a copy of one with
 * the manifests replaced by a read error, see scan.ts).
 */
export interface ManifestParser<R extends FileResult = FileResult> {
  parseManifestFile(file: string, content: Uint8Array): R;
  combineSnapshot(results: R[]): ManifestSnapshot;
  /** True for `.yaml`/`.yml` names that are not dotfiles or editor temp files. */
  isManifestFileName(fileName: string): boolean;
}

/**
 * The source's one clock: its timers and its notion of now, injectable so tests and embedders
 * can observe or replace them. `now` defaults to Date.now when a custom clock leaves it out.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
  /** Clock time in ms (file ages are compared with file mtimes, so it should be wall time). */
  now?(): number;
}

/** Options of {@link watchManifests}. */
export interface ManifestSourceOptions<R extends FileResult = FileResult> {
  /** The manifests folder, or a symlink (or a path through a symlink) to it, e.g. a git-sync link. */
  path: string;
  /** src/manifest functions bound to the manifest options. */
  parser: ManifestParser<R>;
  /** Quiet period after the last file event before rescanning (coalesces bursts). Default 150. */
  settleMs?: number;
  /**
   * Upper bound on how long a continuous stream of events (or a file that never stops changing)
   * may postpone a scan or its publication. Default max(5000, 20 × settleMs). A burst longer
   * than this (a slow `cp -r`) is published in more than one snapshot, each with complete files.
   */
  maxSettleMs?: number;
  /**
   * Periodic relist, the backstop for missed events. Default 30 000; 0 disables. While the last
   * full scan is younger than `fullResyncMs`, a relist is light: one stat per folder, and the last
   * result stands while no folder changed (a new, deleted or renamed file changes its folder).
   */
  resyncMs?: number;
  /**
   * A periodic relist is a full scan (a stat per file) when the last full scan is this old:
   * the backstop for a missed event about a file rewritten in place. Default 10 × resyncMs.
   * Watcher events and rescan() always scan fully.
   */
  fullResyncMs?: number;
  /** Poll instead of native events (network shares, SMB). Default false. */
  poll?: boolean;
  /** Poll interval when `poll` is set. Default 1000 (each file is stat'ed this often). */
  pollIntervalMs?: number;
  /**
   * How many levels of sub-folders are read: 0 = only files directly in the folder (kubelet),
   * 1 = also `folder/<group>/*.yaml`. Default 1, maximum 8.
   */
  depth?: number;
  /** Files larger than this are reported as errors without being read. Default 16 MiB (the CLI passes the manifest limit, 1 MiB). */
  maxReadBytes?: number;
  logger?: Logger;
  /**
   * A file unsettled for longer than this is *noisy*: it keeps its last-known-good result and no
   * longer holds the other files' publication back. Default max(500, 3 × settleMs).
   */
  noisyAfterMs?: number;
  /** The one clock (timers and now). Default: the global timer functions and Date.now. */
  timers?: Timers;
}

/** Counters for tests, benchmarks and metrics. */
export interface SourceStats {
  /** Scans completed (initial, debounced, periodic, forced), light relists included. */
  scans: number;
  /** Periodic relists answered by one stat per folder (nothing changed since the last full scan). */
  lightScans: number;
  /** Snapshots delivered to listeners (changed snapshots only; the initial one is not counted). */
  snapshotsEmitted: number;
  /** Files handed to the parser. */
  filesParsed: number;
  /** Files whose previous result was reused (same size/mtime/inode, or same content hash). */
  filesSkippedUnchanged: number;
  /** `error` events from chokidar. */
  watcherErrors: number;
  /** Content watcher (re)creations, including the first. */
  watcherStarts: number;
  /** Duration of the last scan in ms. */
  lastScanMs: number;
  /** The real folder the last scan read (after resolving symlinks), '' when unresolvable. */
  resolvedPath: string;
}

/** A running manifest source. `dispose()` stops every watcher and timer. */
export interface ManifestSource extends Disposable {
  /** Latest snapshot (the initial scan's until something changes). */
  current(): ManifestSnapshot;
  /** Subscribe; called once per *changed* snapshot (not on every rescan). */
  onSnapshot(listener: (s: ManifestSnapshot) => void): Disposable;
  /**
   * Force a full rescan now (SIGHUP); resolves with current() after it. Files written less than
   * settleMs ago are not in it yet: they are published by a follow-up scan once settled.
   */
  rescan(): Promise<ManifestSnapshot>;
  /** Like rescan, but every file is parsed again (the parser's other inputs, the image store, changed). */
  reparse?(): Promise<ManifestSnapshot>;
  stats(): SourceStats;
  dispose(): Promise<void>;
}
