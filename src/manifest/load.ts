/**
 * The filesystem side: read a manifests folder (or one file) into a snapshot. Files over the size
 * limit are not read at all. A folder that is missing, unreadable or not a folder gives
 * `folderOk: false`, so the core keeps its desired state instead of pruning everything
 * (fluxcd/kustomize-controller#187, kubernetes#116880).
 */
import { constants, type Stats } from 'node:fs';
import { open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import type { ManifestError, ManifestSnapshot } from '../../reconciler/ports.ts';
import { DEFAULT_MAX_FILE_BYTES, sizeProblem } from './decode.ts';
import { parseManifestFile, type FileResult, type ManifestOptions } from './file.ts';
import { isManifestFileName } from './files.ts';
import { combineSnapshot } from './snapshot.ts';

/** Options of {@link loadManifests}. */
export interface LoadOptions extends ManifestOptions {
  /** Descend into sub-folders (not dot-folders). Default false. */
  recursive?: boolean;
  /** Deepest sub-folder level read when recursive. Default 8. */
  maxDepth?: number;
}

/** Read a folder (or a single file) into a snapshot. Never rejects. */
export async function loadManifests(path: string, opts: LoadOptions = {}): Promise<ManifestSnapshot> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (err) {
    return folderFailure(path, describeFsError(err));
  }
  if (info.isFile()) return combineSnapshot([(await readManifestFile(path, opts)) ?? emptyResult(path)], opts);
  if (!info.isDirectory()) return folderFailure(path, 'is not a folder or a regular file (a FIFO, socket or device); not read');
  try {
    const depth = opts.recursive ? (opts.maxDepth ?? 8) : 0;
    const walk: Walk = { root: await realpath(path), depth, files: [], skipped: [] };
    await listManifestFiles(walk.root, path, 0, walk, false);
    const results: FileResult[] = [];
    for (const file of dedupe(walk)) {
      const result = await readManifestFile(file.display, opts, file.real);
      if (result) results.push(result);
    }
    const snap = combineSnapshot(results, opts);
    return walk.skipped.length === 0 ? snap : { ...snap, errors: [...snap.errors, ...walk.skipped] };
  } catch (err) {
    return folderFailure(path, describeFsError(err));
  }
}

function folderFailure(path: string, reason: string): ManifestSnapshot {
  return { manifests: [], errors: [], ignored: [], files: [], folderOk: false, folderError: `manifests folder ${path}: ${reason}` };
}

interface Found {
  display: string;
  real: string;
  st: Stats;
  viaLink: boolean;
}

interface Walk {
  /** Real path of the folder: nothing outside it is read (same rules as src/watch). */
  root: string;
  depth: number;
  files: Found[];
  /** Entries not read, each reported as an error at 1:1 of its own path. */
  skipped: ManifestError[];
}

function skip(walk: Walk, file: string, reason: string): void {
  walk.skipped.push({ file, line: 1, col: 1, path: '', message: `skipped: ${reason}` });
}

const inside = (real: string, root: string): boolean => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);

/**
 * Manifest files under `realDir` (shown under `displayDir`), sorted, following symlinks that stay
 * inside the real folder (git-sync swaps a symlink). Links leading outside, loops, FIFOs and
 * folders deeper than the depth are reported as skipped.
 */
async function listManifestFiles(realDir: string, displayDir: string, level: number, walk: Walk, viaLink: boolean): Promise<void> {
  const entries = (await readdir(realDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const display = join(displayDir, entry.name);
    const manifestName = isManifestFileName(entry.name);
    let real = join(realDir, entry.name);
    if (entry.isSymbolicLink()) {
      try {
        real = await realpath(real);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'UNKNOWN';
        if (code === 'ELOOP' || manifestName) skip(walk, display, code === 'ELOOP' ? 'symlink loop (ELOOP); not read' : `symlink cannot be resolved (${code}); not read`);
        continue;
      }
    }
    const info = await stat(real).catch(() => undefined); // vanished since readdir: skip
    if (!info) continue;
    if (entry.isSymbolicLink() && !inside(real, walk.root)) {
      if (manifestName || info.isDirectory()) skip(walk, display, `symlink to ${real}, outside the manifests folder ${walk.root}; not read`);
      continue;
    }
    const linked = viaLink || entry.isSymbolicLink();
    if (info.isDirectory()) {
      if (entry.isSymbolicLink() && inside(realDir, real)) skip(walk, display, `symlink to ${real}, a folder that is already being read (a loop); not followed`);
      else if (level < walk.depth) await listManifestFiles(real, display, level + 1, walk, linked);
      else if (await holdsManifests(real)) skip(walk, display, `folder deeper than the depth read (${walk.depth}); its manifest files are not read`);
    } else if (info.isFile() && manifestName) walk.files.push({ display, real, st: info, viaLink: linked });
    else if (!info.isFile() && manifestName) skip(walk, display, 'not a regular file (FIFO, socket or device); not read');
  }
}

async function holdsManifests(dir: string): Promise<boolean> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.some((n) => isManifestFileName(n));
}

/** Each real file is read once (see src/watch/scan.ts): the entry not reached through a link wins. */
function dedupe(walk: Walk): Found[] {
  const winner = new Map<string, Found>();
  for (const f of walk.files) {
    const key = `${f.st.dev}:${f.st.ino}`;
    const prev = winner.get(key);
    if (!prev || (prev.viaLink && !f.viaLink)) winner.set(key, f);
  }
  return walk.files.filter((f) => {
    const w = winner.get(`${f.st.dev}:${f.st.ino}`)!;
    if (w !== f) skip(walk, f.display, `the same file as ${w.display} (read once)`);
    return w === f;
  });
}

function emptyResult(file: string): FileResult {
  return { file, manifests: [], errors: [], ignored: [], declared: [] };
}

/** One file → its result; undefined for a file deleted between listing and reading. */
async function readManifestFile(file: string, opts: ManifestOptions, real?: string): Promise<FileResult | undefined> {
  const max = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const empty = emptyResult(file);
  let handle: FileHandle | undefined;
  try {
    // A named file is opened as given; a folder's file by its real path, without following a
    // link swapped in since the walk. Only regular files: a FIFO would block the read forever.
    handle = await open(real ?? file, real ? constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0) : constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const st = await handle.stat();
    if (!st.isFile()) return { ...empty, errors: [{ file, line: 1, col: 1, path: '', message: `cannot read ${basename(file)}: not a regular file (FIFO, socket or device)` }] };
    const { size } = st;
    if (size > max) return { ...empty, errors: [{ file, ...sizeProblem(size, max), path: '' }] };
    const bytes = new Uint8Array(size);
    const { bytesRead } = await handle.read(bytes, 0, size, 0);
    return parseManifestFile(file, bytes.subarray(0, bytesRead), opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { ...empty, errors: [{ file, line: 1, col: 1, path: '', message: `cannot read ${basename(file)}: ${describeFsError(err)}` }] };
  } finally {
    await handle?.close();
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT': return 'does not exist';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'ENOTDIR': return 'is not a folder';
    default: return e.message ?? String(err);
  }
}
