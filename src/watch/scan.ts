/**
 * One full scan of the manifests folder: walk (walk.ts), stat, read what changed, parse what is new.
 *
 * Rules (chosen after kubelet's file source, anchors.md §1, and its pain points §7):
 * - Which entries are read, and which are reported as skipped, is walk.ts's part: names the
 *   parser accepts (`.yaml`/`.yml`, no editor temp files, so `x.yaml-bak`, `x.yaml~`, vim's
 *   `4913` probe and `sedXXXXXX` temp files never become manifests), no dot entries, sub-folders
 *   down to `depth`, regular files only, links only inside the folder, each real file once.
 * - A file is only parsed once it has *settled*: its mtime is at least `settleMs` old, or the same
 *   size/mtime/inode has been seen for `settleMs`. Until then its previous result is kept (or it
 *   is left out if new) and a follow-up scan is requested. This is what keeps a `cp` in progress
 *   or a half-saved file from being acted on, whichever timer triggered the scan.
 * - Same size + mtime + inode: the previous result is reused without reading. Same content hash:
 *   reused without parsing.
 */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { ManifestError } from '../../reconciler/ports.ts';
import type { FileResult, ManifestParser } from './types.ts';
import { walkFolder, type Found, type Walk } from './walk.ts';


/** What the scanner remembers about a file between scans. */
export interface CacheEntry {
  sig: string;
  /** The parts of `sig`, compared without a string. */
  size: number;
  mtimeMs: number;
  ino: number;
  hash: string;
  result: FileResult;
  /**
   * This file's fingerprint line (`file\0hash`), kept so an unchanged file adds no string per scan.
   * Always present (undefined until first used): entries are literals of one shape, as a property
   * added later to an entry made by a spread gave each entry a hidden class of its own.
   */
  line: string | undefined;
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
  /** What a light relist compares with (set by a full scan that may be trusted, see {@link lightScan}). */
  quiet?: QuietProof;
  counters: { filesParsed: number; filesSkippedUnchanged: number; lightScans: number };
}

/**
 * The folders a full scan read, each with the stamp it had before its readdir, and that scan's
 * result. While every stamp is the same, no entry of those folders was created, deleted or
 * renamed since (POSIX and NTFS update a folder's mtime and ctime on each).
 */
interface QuietProof {
  realRoot: string;
  dirs: Array<{ real: string; stamp: string }>;
  scan: FolderScanOk;
}

/** Creates an empty scan context. */
export function newScanContext(opts: Omit<ScanContext, 'cache' | 'seen' | 'noisy' | 'counters'>): ScanContext {
  return { ...opts, cache: new Map(), seen: new Map(), noisy: new Set(), counters: { filesParsed: 0, filesSkippedUnchanged: 0, lightScans: 0 } };
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

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
}

const sigOf = (st: Stats): string => `${st.size}:${st.mtimeMs}:${st.ino}`;
/** `sigOf(st) === sigOf(entry's stat)` without building a string (the common case of every scan). */
const sameSig = (st: Stats, e: CacheEntry): boolean => st.size === e.size && st.mtimeMs === e.mtimeMs && st.ino === e.ino;
const stampOf = (st: Stats): string => `${st.dev}:${st.ino}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}`;

/**
 * A folder stamp is trusted only when its mtime is this much older than the scan: a change in
 * the same timestamp tick as the scan's stat (coarse clocks, FAT's 2 s) would leave it equal.
 * (Any entry change sets the mtime to the current time, so an old mtime cannot stay the same.)
 */
const RACY_MS = 3000;

/**
 * A light relist: one stat per folder instead of one per file. Returns the last full scan's
 * result (the same object) when the proof it left still holds: the same resolved folder, and
 * every folder it read has the same stamp. Otherwise undefined: the caller does a full scan.
 *
 * What it cannot see is a file rewritten in place (its folder's stamp stays the same): the
 * watcher's event reports that one, and a full scan every `fullResyncMs` is the backstop for a
 * missed event (source.ts).
 */
export async function lightScan(realRoot: string, ctx: ScanContext): Promise<FolderScanOk | undefined> {
  const q = ctx.quiet;
  if (!q || q.realRoot !== realRoot) return undefined;
  for (const d of q.dirs) {
    try {
      if (stampOf(await stat(d.real)) !== d.stamp) return undefined;
    } catch {
      return undefined;
    }
  }
  ctx.counters.lightScans++;
  return q.scan;
}

/**
 * The proof a full scan leaves for light relists, or undefined when it may not be trusted:
 * a file not settled or read yet, a symlink (its target changes without its folder), an
 * unreadable sub-folder, or a folder changed too recently for its stamp to tell (RACY_MS).
 */
function quietProof(realRoot: string, rootSt: Stats, walk: Walk, out: FolderScanOk, startedAt: number): QuietProof | undefined {
  if (out.retryInMs !== undefined || out.holdPublish || walk.sawLink || walk.keptPrefixes.length > 0) return undefined;
  const dirs = [{ real: realRoot, st: rootSt }, ...walk.dirs];
  for (const d of dirs) if (!(startedAt - d.st.mtimeMs >= RACY_MS)) return undefined;
  return { realRoot, dirs: dirs.map((d) => ({ real: d.real, stamp: stampOf(d.st) })), scan: out };
}

/**
 * Scans `realRoot` (the resolved folder), reporting files under `displayRoot` (the configured
 * path, so that names stay stable across git-sync symlink swaps).
 */
export async function scanFolder(realRoot: string, displayRoot: string, ctx: ScanContext): Promise<FolderScanOk | FolderScanFailed> {
  let rootSt: Stats;
  let walk: Walk;
  ctx.quiet = undefined;
  const startedAt = ctx.now(); // before any stat: see RACY_MS
  try {
    rootSt = await stat(realRoot);
    if (!rootSt.isDirectory()) return { ok: false, code: 'ENOTDIR', message: `${displayRoot} is not a directory` };
    walk = await walkFolder(realRoot, displayRoot, ctx);
  } catch (err) {
    const code = codeOf(err);
    return { ok: false, code, message: `cannot read manifests folder ${displayRoot}: ${code}` };
  }
  const out: FolderScanOk = { ok: true, results: [], dirErrors: walk.dirErrors, fingerprint: [], rootId: `${rootSt.dev}:${rootSt.ino}`, holdPublish: false };
  const present = new Set<string>();
  for (let i = 0; i < walk.files.length; i++) {
    const found = walk.files[i]!;
    present.add(found.display);
    // An unchanged file (the usual case) is taken without a promise and an await.
    if (!reuseUnchanged(found, ctx, out)) await addFile(found, ctx, out);
  }
  keepUnreadable(walk.keptPrefixes, present, ctx, out);
  for (const e of walk.dirErrors) out.fingerprint.push(`dir\0${e.file}\0${e.message}`);
  forgetMissing(present, ctx);
  ctx.quiet = quietProof(realRoot, rootSt, walk, out, startedAt);
  return out;
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
  // forEach (deleting the current entry is allowed): no iterator result per file.
  ctx.cache.forEach((_, file) => void (present.has(file) || ctx.cache.delete(file)));
  ctx.seen.forEach((_, file) => void (present.has(file) || ctx.seen.delete(file)));
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

/** Same size + mtime + inode as last time: the previous result, nothing read (true when taken). */
function reuseUnchanged(found: Found, ctx: ScanContext, out: FolderScanOk): boolean {
  const prev = ctx.cache.get(found.display);
  if (!prev || !sameSig(found.st, prev)) return false;
  ctx.counters.filesSkippedUnchanged++;
  out.results.push(prev.result);
  out.fingerprint.push((prev.line ??= `${found.display}\0${prev.hash}`));
  return true;
}

async function addFile(found: Found, ctx: ScanContext, out: FolderScanOk): Promise<void> {
  const prev = ctx.cache.get(found.display);
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

type ReadOutcome = { kind: 'ok'; buf: Buffer; sig: string; st: Stats } | { kind: 'unstable' } | { kind: 'error'; code: string };

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
      return stable ? { kind: 'ok', buf, sig: sigOf(after), st: after } : { kind: 'unstable' };
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

function parseOrReuse(file: string, read: { buf: Buffer; sig: string; st: Stats }, prev: CacheEntry | undefined, ctx: ScanContext): FileResult {
  const stamp = { sig: read.sig, size: read.st.size, mtimeMs: read.st.mtimeMs, ino: read.st.ino };
  const hash = createHash('sha256').update(read.buf).digest('hex');
  if (prev && prev.hash === hash) {
    ctx.counters.filesSkippedUnchanged++;
    ctx.cache.set(file, { sig: stamp.sig, size: stamp.size, mtimeMs: stamp.mtimeMs, ino: stamp.ino, hash: prev.hash, result: prev.result, line: prev.line });
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
  ctx.cache.set(file, { sig: stamp.sig, size: stamp.size, mtimeMs: stamp.mtimeMs, ino: stamp.ino, hash, result, line: undefined });
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
