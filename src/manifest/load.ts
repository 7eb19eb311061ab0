/**
 * The filesystem side: read a manifests folder (or one file) into a snapshot. Files over the size
 * limit are not read at all. A folder that is missing, unreadable or not a folder gives
 * `folderOk: false`, so the core keeps its desired state instead of pruning everything
 * (fluxcd/kustomize-controller#187, kubernetes#116880).
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ManifestSnapshot } from '../../reconciler/ports.ts';
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
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    return folderFailure(path, describeFsError(err));
  }
  if (info.isFile()) return combineSnapshot([(await readManifestFile(path, opts)) ?? emptyResult(path)], opts);
  if (!info.isDirectory()) return folderFailure(path, 'is not a folder or a file');
  try {
    const files = await listManifestFiles(path, opts.recursive ? (opts.maxDepth ?? 8) : 0);
    const results: FileResult[] = [];
    for (const file of files) {
      const result = await readManifestFile(file, opts);
      if (result) results.push(result);
    }
    return combineSnapshot(results, opts);
  } catch (err) {
    return folderFailure(path, describeFsError(err));
  }
}

function folderFailure(path: string, reason: string): ManifestSnapshot {
  return { manifests: [], errors: [], ignored: [], files: [], folderOk: false, folderError: `manifests folder ${path}: ${reason}` };
}

/** Manifest files under `dir`, sorted, following symlinks (git-sync swaps a symlink). */
async function listManifestFiles(dir: string, depthLeft: number): Promise<string[]> {
  const entries = (await readdir(dir)).sort();
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.startsWith('.')) continue;
    const full = join(dir, entry);
    const info = await stat(full).catch(() => undefined); // vanished or dangling link: skip
    if (info?.isDirectory() && depthLeft > 0) files.push(...(await listManifestFiles(full, depthLeft - 1)));
    else if (info?.isFile() && isManifestFileName(entry)) files.push(full);
  }
  return files;
}

function emptyResult(file: string): FileResult {
  return { file, manifests: [], errors: [], ignored: [], declared: [] };
}

/** One file → its result; undefined for a file deleted between listing and reading. */
async function readManifestFile(file: string, opts: ManifestOptions): Promise<FileResult | undefined> {
  const max = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const empty = emptyResult(file);
  let handle;
  try {
    handle = await open(file, 'r');
    const { size } = await handle.stat();
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
