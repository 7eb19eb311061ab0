/**
 * The walk of one scan (scan.ts): which entries of the manifests folder are manifest files to
 * read, and which are reported as skipped, never read.
 *
 * - Sub-folders down to `depth` levels; dot entries are skipped; only names the parser accepts.
 * - Only regular files: a FIFO, socket or device with a manifest name is reported (a read
 *   would block forever).
 * - A symlink is followed only when its real path stays inside the real manifests folder (a
 *   synced repository can carry a link to /etc/shadow; the controller reads as root); a link to
 *   the folder itself or to a folder above is a loop, not followed.
 * - Each real file is read once (dev:ino), the entry not reached through a link wins.
 */
import { stat as statCb, type Dirent, type Stats } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import type { ManifestError } from '../../reconciler/ports.ts';

/** What the walk needs to know (a subset of scan.ts's ScanContext). */
export interface WalkOptions {
  depth: number;
  parser: { isManifestFileName(name: string): boolean };
}

/** A manifest file found by the walk. */
export interface Found {
  real: string;
  display: string;
  st: Stats;
  /** Reached through a symlink (a linked file, or a file in a linked folder). */
  viaLink: boolean;
}

/** What a walk found. */
export interface Walk {
  /** Real path of the manifests root: nothing outside it is read. */
  root: string;
  files: Found[];
  dirErrors: ManifestError[];
  /** Display prefixes of sub-folders that could not be read: their cached files are kept. */
  keptPrefixes: string[];
  /** Real path and stat (taken before its readdir) of every sub-folder read, for light relists (scan.ts). */
  dirs: Array<{ real: string; st: Stats }>;
  /** Some entry was a symlink: its target can change without any folder read here changing. */
  sawLink: boolean;
}

function codeOf(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'UNKNOWN';
}

/**
 * Walks `realRoot` (resolved again here, so the root check compares real paths), naming files
 * under `displayRoot`. Throws when the folder itself cannot be read.
 */
export async function walkFolder(realRoot: string, displayRoot: string, ctx: WalkOptions): Promise<Walk> {
  const walk: Walk = { root: await realpath(realRoot), files: [], dirErrors: [], keptPrefixes: [], dirs: [], sawLink: false };
  await walkDir(walk.root, displayRoot, 0, ctx, walk, false);
  walk.files = dedupe(walk);
  return walk;
}

/** A skipped entry: reported as an error at 1:1 of its own path, never read, not in `files`. */
function skip(walk: Walk, display: string, reason: string): void {
  walk.dirErrors.push({ file: display, line: 1, col: 1, path: '', message: `skipped: ${reason}` });
}

/** Whether `real` is `root` or inside it (both real paths). */
export function isInsideRoot(real: string, root: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** `dir` + separator + a directory entry's name (both already normal: cheaper than path.join). */
function child(dir: string, name: string): string {
  return dir.endsWith(sep) ? dir + name : dir + sep + name;
}

async function walkDir(realDir: string, displayDir: string, level: number, ctx: WalkOptions, walk: Walk, viaLink: boolean): Promise<void> {
  const entries = await readdir(realDir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Index loops and one name check per entry: a full scan of 1000 files runs on every edit.
  const wanted: Dirent[] = [];
  const manifestName: boolean[] = [];
  const paths: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.name.startsWith('.')) continue;
    const isManifestName = ctx.parser.isManifestFileName(entry.name);
    if (!worthStat(entry, level, ctx, isManifestName)) continue;
    wanted.push(entry);
    manifestName.push(isManifestName);
    paths.push(child(realDir, entry.name));
  }
  // stat() follows symlinks inside the folder. undefined: deleted since readdir, or a dangling
  // link: simply not there.
  const stats = await statAll(paths);
  for (let i = 0; i < wanted.length; i++) {
    const entry = wanted[i]!;
    const display = child(displayDir, entry.name);
    const isManifestName = manifestName[i]!;
    let real = paths[i]!;
    const st = stats[i];
    if (entry.isSymbolicLink()) {
      walk.sawLink = true;
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
      else {
        walk.dirs.push({ real, st });
        await walkSubDir(real, display, level + 1, ctx, walk, linked);
      }
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
  // Keyed by inode, then device (numbers, no key string per file).
  const winner = new Map<number, Map<number, Found>>();
  const files = walk.files;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    let byDev = winner.get(f.st.ino);
    if (!byDev) winner.set(f.st.ino, (byDev = new Map()));
    const prev = byDev.get(f.st.dev);
    if (!prev || (prev.viaLink && !f.viaLink)) byDev.set(f.st.dev, f);
  }
  if (winner.size === files.length) return files; // no inode twice: every file is its own winner
  const kept: Found[] = [];
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const w = winner.get(f.st.ino)!.get(f.st.dev)!;
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
function worthStat(entry: Dirent, level: number, ctx: WalkOptions, isManifestName: boolean): boolean {
  if (entry.isSymbolicLink()) return true;
  if (entry.isDirectory()) return level < ctx.depth;
  return entry.isFile() && isManifestName;
}

async function walkSubDir(real: string, display: string, level: number, ctx: WalkOptions, walk: Walk, viaLink: boolean): Promise<void> {
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
