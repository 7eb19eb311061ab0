/**
 * A utility VM image in a non-base layer, the way hcsshim's legacyLayerWriter does it ([SHIM]
 * internal/wclayer/legacy.go, snapshot 7c9ff7f4): "Server 2016 does not support multiple layers for
 * the utility VM, so clone the utility VM from the parent layer into this layer. Use hard links to
 * avoid unnecessary copying, since most of the files are immutable" (initUtilityVM). The clone goes
 * into the *destination* layer folder (legacyLayerWriter.destRoot, not the transport folder
 * ImportLayer reads: ImportLayer is not told about it), the layer's own `UtilityVM/Files/...`
 * entries are written there directly with BackupWrite, and its UtilityVM whiteouts are removed
 * there. After ImportLayer, the links and the directory times, the writer calls
 * ProcessUtilityVMImage(<dest>\UtilityVM) ([SHIM] importlayer.go legacyLayerWriterWrapper.Close).
 */
import { join } from 'node:path';
import { FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT, type BasicInfo } from './backup.ts';
import { BACKUP_FLAGS, CREATE_NEW, FILE_SHARE_READ, FULL_ACCESS, OPEN_EXISTING, READ_SECURITY_ACCESS, RW_ACCESS } from './file-flags.ts';
import type { FileSpec, LayerOps } from './writers.ts';

/** A directory whose times are set again once its children are in ([SHIM] dirInfo). */
export interface DirTimes {
  path: string;
  info: BasicInfo;
}

const native = (root: string, name: string) => join(root, ...name.split('/'));
const isDir = (attributes: number) => (attributes & FILE_ATTRIBUTE_DIRECTORY) !== 0;
const isReparse = (attributes: number) => (attributes & FILE_ATTRIBUTE_REPARSE_POINT) !== 0;
/** hcsshim's hasPathPrefix: strictly below `prefix`. */
export const under = (name: string, prefix: string): boolean => name.startsWith(`${prefix}/`);

/**
 * Files that processing the utility VM changes, so the clone copies them instead of linking them
 * ([SHIM] legacy.go mutatedUtilityVMFiles, relative to UtilityVM\Files). hcsshim at 7c9ff7f4 looks
 * them up by the layer-relative path (`UtilityVM\Files\EFI\...`: cloneTree's relPath is relative
 * to the layer root since the safefile rewrite), so the lookup never matches there and the BCD is
 * linked; before that rewrite cloneTree walked UtilityVM\Files itself and the lookup matched
 * (microsoft/hcsshim#160). This writer keeps the stated intent and copies them: a linked BCD would
 * be changed in the parent layer too.
 */
const MUTATED = new Set(['EFI/Microsoft/Boot/BCD', 'EFI/Microsoft/Boot/BCD.LOG', 'EFI/Microsoft/Boot/BCD.LOG1', 'EFI/Microsoft/Boot/BCD.LOG2']);
const UVM_FILES = 'UtilityVM/Files';

/** The names in `dir`, without `.` and `..`, in byte order (filepath.Walk's lexical order). */
export function readDir(ops: LayerOps, dir: string): { name: string; attributes: number }[] {
  const first = ops.findFirstFile(join(dir, '*'));
  if (!first) return [];
  const out = [first.entry];
  try {
    for (let e = ops.findNextFile(first.handle as never, dir); e; e = ops.findNextFile(first.handle as never, dir)) out.push(e);
  } finally {
    ops.findClose(first.handle as never, dir);
  }
  return out.filter((e) => e.name !== '.' && e.name !== '..').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** os.RemoveAll through the binding: children first; a reparse point is removed, never entered. */
export function removeAll(ops: LayerOps, path: string): void {
  const attributes = ops.fileAttributes(path);
  if (attributes === undefined) return;
  if (!isDir(attributes)) return ops.deleteFile(path);
  if (!isReparse(attributes)) for (const e of readDir(ops, path)) removeAll(ops, join(path, e.name));
  ops.removeDirectory(path);
}

/** [SHIM] safefile.EnsureNotReparsePointRelative: every component of `name` under `root` exists and none is a reparse point. */
export function ensureNotReparsePoint(ops: LayerOps, root: string, name: string): void {
  const parts = name.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = native(root, parts.slice(0, i).join('/'));
    const attributes = ops.fileAttributes(p);
    if (attributes === undefined) throw new Error(`${p}: not found`);
    if (isReparse(attributes)) throw new Error(`${p}: is a reparse point`);
  }
}

/**
 * [SHIM] baselayerwriter.go reapplyDirectoryTimes: children first (the list has parents before
 * children), each directory opened with GENERIC_READ|GENERIC_WRITE and its times set again.
 */
export function reapplyDirectoryTimes(ops: LayerOps, dirs: readonly DirTimes[]): void {
  for (const d of [...dirs].reverse()) {
    const h = ops.createFile(d.path, RW_ACCESS, FILE_SHARE_READ, OPEN_EXISTING, BACKUP_FLAGS);
    try {
      ops.setFileBasicInfo(h as never, d.info, d.path);
    } finally {
      ops.closeHandle(h as never, d.path);
    }
  }
}

/** Copies one backup stream from `src` to `dest` (go-winio BackupFileReader -> BackupFileWriter, with security). */
function copyStream(ops: LayerOps, src: number, dest: number, srcPath: string, destPath: string): void {
  const buf = Buffer.allocUnsafe(256 << 10);
  const rctx = { value: null as unknown };
  const wctx = { value: null as unknown };
  try {
    for (let n = ops.backupRead(src as never, buf, true, rctx, srcPath); n > 0; n = ops.backupRead(src as never, buf, true, rctx, srcPath)) {
      ops.backupWrite(dest as never, buf.subarray(0, n), true, wctx, destPath);
    }
    ops.backupWriteEnd(dest as never, true, wctx, destPath);
  } finally {
    ops.backupReadEnd(src as never, true, rctx, srcPath);
  }
}

/**
 * [SHIM] legacy.go copyFileWithMetadata: the source opened for backup (FILE_OPEN_REPARSE_POINT),
 * its basic info read, the copy created (a directory with CreateDirectoryW first: CreateFileW
 * cannot make one, where hcsshim's NtCreateFile takes FILE_DIRECTORY_FILE), the same basic info
 * set, then its whole backup stream (security, reparse data, data, streams) written with BackupWrite.
 */
function copyFileWithMetadata(ops: LayerOps, srcPath: string, destPath: string, dir: boolean): BasicInfo {
  const src = ops.createFile(srcPath, READ_SECURITY_ACCESS, FILE_SHARE_READ, OPEN_EXISTING, BACKUP_FLAGS);
  try {
    const info = ops.getFileBasicInfo(src as never, srcPath);
    if (dir) ops.createDirectory(destPath);
    const dest = ops.createFile(destPath, FULL_ACCESS, FILE_SHARE_READ, dir ? OPEN_EXISTING : CREATE_NEW, BACKUP_FLAGS);
    try {
      ops.setFileBasicInfo(dest as never, info, destPath);
      copyStream(ops, src, dest, srcPath, destPath);
    } finally {
      ops.closeHandle(dest as never, destPath);
    }
    return info;
  } finally {
    ops.closeHandle(src as never, srcPath);
  }
}

/**
 * [SHIM] legacy.go cloneTree(srcRoot, destRoot, subPath): a pre-order walk of srcRoot\subPath
 * (the root included); directories, reparse points and the {@link MUTATED} files are copied with
 * their metadata, every other file is hard-linked; reparse points are not entered (filepath.Walk
 * uses Lstat); then the copied directories get their times again.
 */
export function cloneTree(ops: LayerOps, srcRoot: string, destRoot: string, subPath: string): void {
  ensureNotReparsePoint(ops, srcRoot, subPath);
  const dirs: DirTimes[] = [];
  const visit = (rel: string, attributes: number): void => {
    const src = native(srcRoot, rel);
    const dest = native(destRoot, rel);
    const mutated = MUTATED.has(rel.slice(UVM_FILES.length + 1));
    if (isDir(attributes) || isReparse(attributes) || mutated) {
      const info = copyFileWithMetadata(ops, src, dest, isDir(attributes));
      if (isDir(attributes)) dirs.push({ path: dest, info });
    } else {
      ops.createHardLink(dest, src);
    }
    if (isDir(attributes) && !isReparse(attributes)) for (const e of readDir(ops, src)) visit(`${rel}/${e.name}`, e.attributes);
  };
  visit(subPath, ops.fileAttributes(native(srcRoot, subPath)) ?? 0);
  reapplyDirectoryTimes(ops, dirs);
}

/**
 * The UtilityVM half of one non-base layer's writer ([SHIM] legacy.go legacyLayerWriter:
 * HasUtilityVM, initUtilityVM, the UtilityVM branches of Add and Remove).
 */
export class UtilityVmWriter {
  #present = false;

  /** `parent`: the first of the writer's parent layers (hcsshim clones from parentRoots[0]). */
  constructor(private readonly ops: LayerOps, private readonly dest: string, private readonly parent: string | undefined) {}

  /** The layer has a utility VM image (hcsshim's HasUtilityVM): process it after ImportLayer. */
  get present(): boolean {
    return this.#present;
  }

  /**
   * [SHIM] initUtilityVM, once: mkdir <dest>\UtilityVM, then clone the parent's UtilityVM\Files
   * into it. Only from parentRoots[0] (the layer just below): a parent without a UtilityVM\Files
   * fails the layer, as in hcsshim ("cloning the parent utility VM image failed").
   */
  init(): void {
    if (this.#present) return;
    if (this.parent === undefined) throw new Error('a utility VM image in a non-base layer needs a parent layer to clone it from');
    this.ops.createDirectory(join(this.dest, 'UtilityVM'));
    try {
      cloneTree(this.ops, this.parent, this.dest, UVM_FILES);
    } catch (err) {
      throw new Error(`cloning the parent utility VM image failed (${this.parent}): ${(err as Error).message}`, { cause: err });
    }
    this.#present = true;
  }

  /**
   * [SHIM] legacyLayerWriter.Add for `UtilityVM/...`: the `UtilityVM` entry itself only clones;
   * anything else must be `UtilityVM/Files[/...]` after it. A directory is kept when it exists with
   * the same directory and reparse bits (else removed and made again); a file is removed first
   * ("Overwrite any existing hard link": a linked parent file is never written through), then
   * created. Returns the open handle to BackupWrite the entry's stream into (with security), or
   * undefined for the `UtilityVM` entry.
   */
  open(spec: FileSpec): number | undefined {
    if (spec.name === 'UtilityVM') return void this.init();
    if (!this.#present) throw new Error(`layer entry ${spec.name}: missing UtilityVM directory`);
    if (spec.name !== UVM_FILES && !under(spec.name, UVM_FILES)) throw new Error(`layer entry ${spec.name}: invalid UtilityVM layer`);
    const path = native(this.dest, spec.name);
    const existing = this.ops.fileAttributes(path);
    if (spec.isDir) {
      const same = existing !== undefined && ((spec.info.fileAttributes ^ existing) & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)) === 0;
      if (existing !== undefined && !same) removeAll(this.ops, path);
      if (!same) this.ops.createDirectory(path);
    } else if (existing !== undefined) {
      if (isDir(existing)) this.ops.removeDirectory(path); // RemoveRelative: an empty directory only
      else this.ops.deleteFile(path);
    }
    const h = this.ops.createFile(path, FULL_ACCESS, FILE_SHARE_READ, spec.isDir ? OPEN_EXISTING : CREATE_NEW, BACKUP_FLAGS);
    try {
      this.ops.setFileBasicInfo(h as never, spec.info, path);
    } catch (err) {
      this.ops.closeHandle(h as never, path);
      if (!spec.isDir) this.ops.deleteFile(path); // hcsshim's deferred RemoveRelative of a half-made entry
      throw err;
    }
    return h;
  }

  /**
   * [SHIM] legacyLayerWriter.Remove for `UtilityVM/Files/...`: clone first, then the path must
   * exist ("this needs to be a fatal error for diagnostics purposes") and is removed with all below it.
   */
  remove(name: string): void {
    this.init();
    const path = native(this.dest, name);
    if (this.ops.fileAttributes(path) === undefined) throw new Error(`whiteout ${name}: not in the parent's utility VM image`);
    removeAll(this.ops, path);
  }

  /**
   * [SHIM] legacyLayerWriterWrapper.Close, last step: the UtilityVM must not be a reparse point,
   * then ProcessUtilityVMImage(<dest>\UtilityVM) (processimage.go: vmcompute!ProcessUtilityImage).
   */
  process(): void {
    if (!this.#present) return;
    ensureNotReparsePoint(this.ops, this.dest, 'UtilityVM');
    this.ops.processUtilityImage(join(this.dest, 'UtilityVM'));
  }
}
