/**
 * One full scan of the manifests folder: walk, stat, read what changed, parse what is new.
 *
 * Rules (chosen after kubelet's file source, anchors.md §1, and its pain points §7):
 * - Only names the parser accepts (`.yaml`/`.yml`, no editor temp files) are read, so
 *   `x.yaml-bak`, `x.yaml~`, vim's `4913` probe and `sedXXXXXX` temp files never become manifests.
 * - Any path component starting with `.` is skipped: dotfiles, `.git`, vim swap files, rsync temps.
 * - Sub-folders are read down to `depth` levels (default 1); only regular files are read (a FIFO
 *   would block the read forever).
 * - A file is only parsed once it has *settled*: its mtime is at least `settleMs` old, or the same
 *   size/mtime/inode has been seen for `settleMs`. Until then its previous result is kept (or it
 *   is left out if new) and a follow-up scan is requested. This is what keeps a `cp` in progress
 *   or a half-saved file from being acted on, whichever timer triggered the scan.
 * - Same size + mtime + inode: the previous result is reused without reading. Same content hash:
 *   reused without parsing.
 */
import { createHash } from 'node:crypto';
import { constants, stat as statCb, type Dirent, type Stats } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { ManifestError } from '../../reconciler/ports.ts';
import type { FileResult, ManifestParser } from './types.ts';

/** What the scanner remembers about a file between scans. */
export interface CacheEntry {
  sig: string;
  hash: string;
  result: FileResult;
}

/** When a file's current signature was first seen, and since when it has been unsettled. */
interface SeenEntry {
  sig: string;
  at: number;
  unstableSince?: number;
  /** When a file that never settles was last taken as it was (every maxSettleMs). */
  takenAt?: number;
}

/** Long-lived state and settings shared by the scans of one source. */
export interface ScanContext {
  parser: ManifestParser;
  depth: number;
  settleMs: number;
  maxSettleMs: number;
  maxReadBytes: number;
  /** An unsettled file holds publication back for this long at most; after it, it is noisy. */
  noisyAfterMs: number;
  now: () => number;
  cache: Map<string, CacheEntry>;
  seen: Map<string, SeenEntry>;
  /** Real paths of the files that are noisy now (shared with source.ts, which also marks them from events). */
  noisy: Set<string>;
  counters: { filesParsed: number; filesSkippedUnchanged: number };
}

/** Creates an empty scan context. */
export function newScanContext(opts: Omit<ScanContext, 'cache' | 'seen' | 'noisy' | 'counters'>): ScanContext {
  return { ...opts, cache: new Map(), seen: new Map(), noisy: new Set(), counters: { filesParsed: 0, filesSkippedUnchanged: 0 } };
}

/** Result of scanning a folder that could be read. */
export interface FolderScanOk {
  ok: true;
  results: FileResult[];
  dirErrors: ManifestError[];
  /** One string per file/error; equal fingerprints mean equal snapshots. */
  fingerprint: string[];
  /** dev:ino of the folder, to notice it being deleted and recreated under the same name. */
  rootId: string;
  /** Set when some file has not settled: scan again after this many ms. */
  retryInMs?: number;
  /** Some unsettled file is young (see schedule.ts): publishing now could split a set of files. */
  holdPublish: boolean;
}

/** The folder itself is missing, unreadable or not a directory. */
export interface FolderScanFailed {
  ok: false;
  code: string;
  message: string;
}

interface Found {
  real: string;
  display: string;
  st: Stats;
  /** Reached through a symlink (a linked file, or a file in a linked folder). */
  viaLink: boolean;
}

interface Walk {
  /** Real path of the manifests root: nothing outside it is read. */
  root: string;
  files: Found[];
  dirErrors: ManifestError[];
  /** Display prefixes of sub-folders that could not be read: their cached files are kept. */
  keptPrefixes: string[];
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
}

const sigOf = (st: Stats): string => `${st.size}:${st.mtimeMs}:${st.ino}`;

/**
 * Scans `realRoot` (the resolved folder), reporting files under `displayRoot` (the configured
 * path, so that names stay stable across git-sync symlink swaps).
 */
export async function scanFolder(realRoot: string, displayRoot: string, ctx: ScanContext): Promise<FolderScanOk | FolderScanFailed> {
  let rootSt: Stats;
  const walk: Walk = { root: realRoot, files: [], dirErrors: [], keptPrefixes: [] };
  try {
    rootSt = await stat(realRoot);
    if (!rootSt.isDirectory()) return { ok: false, code: 'ENOTDIR', message: `${displayRoot} is not a directory` };
    walk.root = await realpath(realRoot);
    await walkDir(walk.root, displayRoot, 0, ctx, walk, false);
    walk.files = dedupe(walk);
  } catch (err) {
    const code = codeOf(err);
    return { ok: false, code, message: `cannot read manifests folder ${displayRoot}: ${code}` };
  }
  const out: FolderScanOk = { ok: true, results: [], dirErrors: walk.dirErrors, fingerprint: [], rootId: `${rootSt.dev}:${rootSt.ino}`, holdPublish: false };
  const present = new Set<string>();
  for (const found of walk.files) {
    present.add(found.display);
    await addFile(found, ctx, out);
  }
  keepUnreadable(walk.keptPrefixes, present, ctx, out);
  for (const e of walk.dirErrors) out.fingerprint.push(`dir\0${e.file}\0${e.message}`);
  forgetMissing(present, ctx);
  return out;
}

/** A skipped entry: reported as an error at 1:1 of its own path, never read, not in `files`. */
function skip(walk: Walk, display: string, reason: string): void {
  walk.dirErrors.push({ file: display, line: 1, col: 1, path: '', message: `skipped: ${reason}` });
}

/** Whether `real` is `root` or inside it (both real paths). */
export function isInsideRoot(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function walkDir(realDir: string, displayDir: string, level: number, ctx: ScanContext, walk: Walk, viaLink: boolean): Promise<void> {
  const entries = await readdir(realDir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const wanted = entries.filter((entry) => !entry.name.startsWith('.') && worthStat(entry, level, ctx));
  // stat() follows symlinks inside the folder. undefined: deleted since readdir, or a dangling
  // link: simply not there.
  const stats = await statAll(wanted.map((entry) => join(realDir, entry.name)));
  for (let i = 0; i < wanted.length; i++) {
    const entry = wanted[i]!;
    const display = join(displayDir, entry.name);
    const isManifestName = ctx.parser.isManifestFileName(entry.name);
    let real = join(realDir, entry.name);
    const st = stats[i];
    if (entry.isSymbolicLink()) {
      const target = await linkTarget(real, walk, display, isManifestName, st);
      if (target === undefined) continue;
      real = target;
    }
    if (!st) continue;
    const linked = viaLink || entry.isSymbolicLink();
    if (st.isFile() && isManifestName) walk.files.push({ real, display, st, viaLink: linked });
    else if (st.isDirectory() && level < ctx.depth) {
      // A link to the folder itself or to a folder above this one would read everything again.
      if (entry.isSymbolicLink() && isInsideRoot(realDir, real)) skip(walk, display, `symlink to ${real}, a folder that is already being read (a loop); not followed`);
      else await walkSubDir(real, display, level + 1, ctx, walk, linked);
    } else if (!st.isFile() && !st.isDirectory() && isManifestName) skip(walk, display, 'not a regular file (FIFO, socket or device); not read');
  }
}

/**
 * The real path of a symlink inside the folder, or undefined (reported) when it must not be
 * followed: it leads outside the real manifests folder (a synced repository can carry a link to
 * /etc/shadow; the controller reads as root), it loops, or it dangles.
 */
async function linkTarget(path: string, walk: Walk, display: string, isManifestName: boolean, st: Stats | undefined): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ELOOP') skip(walk, display, 'symlink loop (ELOOP); not read');
    else if (code !== 'ENOENT' || isManifestName) skip(walk, display, `symlink cannot be resolved (${code}); not read`);
    return undefined;
  }
  if (!isInsideRoot(real, walk.root)) {
    if (isManifestName || st?.isDirectory()) skip(walk, display, `symlink to ${real}, outside the manifests folder ${walk.root}; not read`);
    return undefined;
  }
  return real;
}

/**
 * Each real file is read once: links (and hard links) to the same file would otherwise declare
 * every name twice and freeze them all as duplicates. The entry not reached through a link wins.
 */
function dedupe(walk: Walk): Found[] {
  const winner = new Map<string, Found>();
  for (const f of walk.files) {
    const key = `${f.st.dev}:${f.st.ino}`;
    const prev = winner.get(key);
    if (!prev || (prev.viaLink && !f.viaLink)) winner.set(key, f);
  }
  const kept: Found[] = [];
  for (const f of walk.files) {
    const w = winner.get(`${f.st.dev}:${f.st.ino}`)!;
    if (w === f) kept.push(f);
    else skip(walk, f.display, `the same file as ${w.display} (read once)`);
  }
  return kept;
}

/** stat() calls in flight at once during a walk (the libuv pool runs them in parallel). */
const STAT_CONCURRENCY = 32;

/**
 * stat() of every path, in order, with up to STAT_CONCURRENCY in flight; a failed stat is
 * undefined. The callback API is used on purpose: one fs/promises stat per file (a promise, an
 * await and a microtask turn each) made the 30 s relist of 1000 files cost ~25 ms of CPU more
 * than the syscalls themselves (see test/bench/PERFORMANCE.md).
 */
function statAll(paths: readonly string[]): Promise<(Stats | undefined)[]> {
  const out = new Array<Stats | undefined>(paths.length);
  if (paths.length === 0) return Promise.resolve(out);
  return new Promise((resolve) => {
    let next = 0;
    let done = 0;
    const launch = (): void => {
      const i = next++;
      statCb(paths[i]!, (err, st) => {
        out[i] = err ? undefined : st;
        if (++done === paths.length) resolve(out);
        else if (next < paths.length) launch();
      });
    };
    for (let k = 0; k < Math.min(STAT_CONCURRENCY, paths.length); k++) launch();
  });
}

/** Skips the stat() of entries that cannot matter (most files in a mixed folder). */
function worthStat(entry: Dirent, level: number, ctx: ScanContext): boolean {
  if (entry.isSymbolicLink()) return true;
  if (entry.isDirectory()) return level < ctx.depth;
  return entry.isFile() && ctx.parser.isManifestFileName(entry.name);
}

async function walkSubDir(real: string, display: string, level: number, ctx: ScanContext, walk: Walk, viaLink: boolean): Promise<void> {
  try {
    await walkDir(real, display, level, ctx, walk, viaLink);
  } catch (err) {
    const code = codeOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed while we walked
    // Unreadable sub-folder: report it, and keep what we knew about its files (no pruning).
    walk.dirErrors.push({ file: display, line: 1, col: 1, path: '', message: `cannot read folder: ${code}` });
    walk.keptPrefixes.push(display + sep);
  }
}

function keepUnreadable(prefixes: string[], present: Set<string>, ctx: ScanContext, out: FolderScanOk): void {
  if (prefixes.length === 0) return;
  for (const [file, entry] of ctx.cache) {
    if (present.has(file) || !prefixes.some((p) => file.startsWith(p))) continue;
    present.add(file);
    out.results.push(entry.result);
    out.fingerprint.push(`${file}\0${entry.hash}`);
  }
}

function forgetMissing(present: Set<string>, ctx: ScanContext): void {
  for (const file of ctx.cache.keys()) if (!present.has(file)) ctx.cache.delete(file);
  for (const file of ctx.seen.keys()) if (!present.has(file)) ctx.seen.delete(file);

}

/**
 * Milliseconds until the file counts as settled (0 when it does), and whether it is still young
 * (unstable for less than noisyAfterMs: it holds publication back; after that it is noisy).
 */
function unsettledFor(found: Found, ctx: ScanContext): { waitMs: number; young: boolean } {
  const now = ctx.now();
  const sig = sigOf(found.st);
  let seen = ctx.seen.get(found.display);
  if (!seen || seen.sig !== sig) {
    seen = { sig, at: now, unstableSince: seen?.unstableSince, takenAt: seen?.takenAt };
    ctx.seen.set(found.display, seen);
  }
  const age = now - found.st.mtimeMs; // negative with clock skew (network shares): then rely on `seen`
  const settledAge = Math.max(age, now - seen.at);
  if (settledAge >= ctx.settleMs) {
    seen.unstableSince = seen.takenAt = undefined;
    ctx.noisy.delete(found.real);
    return { waitMs: 0, young: false };
  }
  seen.unstableSince ??= now;
  if (now - seen.unstableSince >= ctx.noisyAfterMs) ctx.noisy.add(found.real);
  const young = !ctx.noisy.has(found.real) && now - seen.unstableSince < ctx.noisyAfterMs;
  // A file rewritten without pause is taken as it is every maxSettleMs (it stays noisy).
  if (now - (seen.takenAt ?? seen.unstableSince) >= ctx.maxSettleMs) {
    seen.takenAt = now;
    return { waitMs: 0, young: false };
  }
  return { waitMs: Math.max(1, Math.ceil(ctx.settleMs - settledAge)), young };
}

function retryLater(out: FolderScanOk, ms: number): void {
  out.retryInMs = out.retryInMs === undefined ? ms : Math.min(out.retryInMs, ms);
}

/**
 * Keeps the last-known-good result of a file that is still changing. A new file has none: it is
 * an error without names for now ("still being written"), so that what it may declare is not
 * pruned meanwhile (the core holds pruning for a file it never saw valid).
 */
function keepPrevious(found: Found, ctx: ScanContext, out: FolderScanOk, retryMs: number, young: boolean): void {
  retryLater(out, retryMs);
  if (young) out.holdPublish = true;
  const prev = ctx.cache.get(found.display);
  if (!prev) {
    out.results.push(errorResult(found.display, 'still being written (changed less than the settle time ago); not read yet', undefined, ctx));
    out.fingerprint.push(`${found.display}\0unsettled`);
    return;
  }
  out.results.push(prev.result);
  out.fingerprint.push(`${found.display}\0${prev.hash}`);
}

async function addFile(found: Found, ctx: ScanContext, out: FolderScanOk): Promise<void> {
  const prev = ctx.cache.get(found.display);
  if (prev && prev.sig === sigOf(found.st)) {
    ctx.counters.filesSkippedUnchanged++;
    out.results.push(prev.result);
    out.fingerprint.push(`${found.display}\0${prev.hash}`);
    return;
  }
  if (found.st.size > ctx.maxReadBytes) {
    const msg = `file is ${found.st.size} bytes, over the ${ctx.maxReadBytes}-byte limit (--max-file-bytes); not read`;
    return pushError(found.display, msg, 'toolarge', prev, ctx, out);
  }
  const settle = unsettledFor(found, ctx);
  if (settle.waitMs > 0) return keepPrevious(found, ctx, out, settle.waitMs, settle.young);
  const read = await readStable(found);
  if (read.kind === 'unstable') return keepPrevious(found, ctx, out, ctx.settleMs, true);
  if (read.kind === 'error') return pushError(found.display, `cannot read file: ${read.code}`, read.code, prev, ctx, out);
  out.results.push(parseOrReuse(found.display, read, prev, ctx));
  out.fingerprint.push(`${found.display}\0${ctx.cache.get(found.display)?.hash ?? ''}`);
}

type ReadOutcome = { kind: 'ok'; buf: Buffer; sig: string } | { kind: 'unstable' } | { kind: 'error'; code: string };

/** Reads a file and checks it did not change while being read (same size/mtime before and after). */
async function readStable(found: Found): Promise<ReadOutcome> {
  try {
    // found.real has no link in its last component; a link swapped in since the walk is refused.
    const fh = await open(found.real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
    try {
      const before = await fh.stat();
      const buf = await fh.readFile();
      const after = await fh.stat();
      const stable = sigOf(before) === sigOf(after) && sigOf(after) === sigOf(found.st) && buf.length === after.size;
      return stable ? { kind: 'ok', buf, sig: sigOf(after) } : { kind: 'unstable' };
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = codeOf(err);
    // Windows: another process holds the file open for writing; try again shortly.
    if (code === 'EBUSY' || code === 'EAGAIN') return { kind: 'unstable' };
    return { kind: 'error', code };
  }
}

function parseOrReuse(file: string, read: { buf: Buffer; sig: string }, prev: CacheEntry | undefined, ctx: ScanContext): FileResult {
  const hash = createHash('sha256').update(read.buf).digest('hex');
  if (prev && prev.hash === hash) {
    ctx.counters.filesSkippedUnchanged++;
    ctx.cache.set(file, { ...prev, sig: read.sig });
    return prev.result;
  }
  ctx.counters.filesParsed++;
  let result: FileResult;
  try {
    result = ctx.parser.parseManifestFile(file, read.buf);
  } catch (err) {
    // The parser is meant to be total; if it is not, report the file rather than crash the watch.
    result = errorResult(file, `internal parser error: ${(err as Error).message}`, undefined, ctx);
  }
  ctx.cache.set(file, { sig: read.sig, hash, result });
  return result;
}

/**
 * A file that exists but could not be read: an error at line 1 col 1, carrying the names it
 * declared last time so that the core keeps their last-known-good spec instead of pruning.
 */
function pushError(file: string, message: string, code: string, prev: CacheEntry | undefined, ctx: ScanContext, out: FolderScanOk): void {
  out.results.push(errorResult(file, message, prev, ctx));
  out.fingerprint.push(`${file}\0err:${code}`);
}

function errorResult(file: string, message: string, prev: CacheEntry | undefined, ctx: ScanContext): FileResult {
  const names = new Set<string>();
  for (const m of prev?.result.manifests ?? []) names.add(m.name);
  for (const e of prev?.result.errors ?? []) if (e.name !== undefined) names.add(e.name);
  const base = { file, line: 1, col: 1, path: '', message };
  const errors: ManifestError[] = names.size === 0 ? [base] : [...names].map((name) => ({ ...base, name }));
  // Start from the previous result (or the parser's result for an empty file) so that fields
  // this module does not know, like src/manifest's `declared` names, stay present and sensible:
  // what the file declared last time is still what it declares as far as anyone knows.
  const shape = prev?.result ?? blankResult(file, ctx);
  return { ...shape, file, manifests: [], errors, ignored: [] };
}

function blankResult(file: string, ctx: ScanContext): FileResult {
  try {
    return ctx.parser.parseManifestFile(file, new Uint8Array());
  } catch {
    return { file, manifests: [], errors: [], ignored: [] };
  }
}
