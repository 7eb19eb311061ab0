/**
 * The layer writer, Docker's windowsfilter way ([SHIM] internal/wclayer/baselayerwriter.go and
 * legacy.go, provisioning.md 2.3), over the layer binding's mechanical calls (`LayerOps`, which
 * src/hcs/layers.ts implements; the CLI passes it in):
 *
 * - `LayerWriter.base` writes straight into the layer folder: CreateFileW (backup semantics),
 *   SetFileInformationByHandle(FileBasicInfo), BackupWrite of the backup stream (with security), then
 *   the directory times again, then ProcessBaseImage, and ProcessUtilityImage(<layer>\UtilityVM)
 *   when the tar had `UtilityVM/Files` ([SHIM] baselayerwriter.go, provisioning.md 2.3 item 2).
 * - `LayerWriter.transport` writes the transport format into a staging folder (Files\: each file is its
 *   4-byte attributes + backup stream, each directory gets a `<dir>.$wcidirs$` marker; Hives\ with
 *   BackupWrite; tombstones.txt for whiteouts), then ImportLayer(dest, staging, parents), the hard
 *   links, the directory times. A layer that touches `UtilityVM/` gets the parent's utility VM image
 *   cloned into dest, changed there, and processed last (utility-vm.ts, [SHIM] legacy.go initUtilityVM).
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { adsStreamName, BACKUP_ALTERNATE_DATA, BACKUP_DATA, BACKUP_REPARSE_DATA, BACKUP_SECURITY_DATA, streamHeader, streamRecord, type BasicInfo } from './backup.ts';
import { BACKUP_FLAGS, CREATE_NEW, FILE_SHARE_READ, FULL_ACCESS, OPEN_EXISTING, RW_ACCESS } from './file-flags.ts';
import { reapplyDirectoryTimes, under, UtilityVmWriter, type DirTimes } from './utility-vm.ts';

/** The layer binding calls the writers make (implemented by src/hcs/layers.ts LayerNative). */
export interface LayerOps {
  nameToGuid(name: string): string;
  processBaseImage(path: string): void;
  processUtilityImage(path: string): void;
  importLayer(path: string, source: string, parents: readonly { id: string; path: string }[]): void;
  destroyLayer(path: string): void;
  createFile(path: string, access: number, share: number, disposition: number, flags: number): number;
  createDirectory(path: string): void;
  createHardLink(newName: string, existing: string): void;
  setFileBasicInfo(h: never, info: BasicInfo, target: string): void;
  backupWrite(h: never, chunk: Uint8Array, processSecurity: boolean, ctx: { value: unknown }, target: string): void;
  /** BackupWrite on a pool thread (koffi async), so the next chunk is parsed while this one is written; optional. */
  backupWriteAsync?(h: never, chunk: Uint8Array, processSecurity: boolean, ctx: { value: unknown }, target: string): Promise<void>;
  backupWriteEnd(h: never, processSecurity: boolean, ctx: { value: unknown }, target: string): void;
  closeHandle(h: never, target: string): void;
  // What cloning a parent's utility VM image calls ([SHIM] legacy.go cloneTree, copyFileWithMetadata, Add, Remove).
  getFileBasicInfo(h: never, target: string): BasicInfo;
  /** BackupRead into `buf`; the byte count, 0 at the end of the stream. */
  backupRead(h: never, buf: Uint8Array, processSecurity: boolean, ctx: { value: unknown }, target: string): number;
  backupReadEnd(h: never, processSecurity: boolean, ctx: { value: unknown }, target: string): void;
  /** FindFirstFileW(pattern); undefined when nothing matches. */
  findFirstFile(pattern: string): { handle: number; entry: { name: string; attributes: number } } | undefined;
  /** FindNextFileW; undefined at the end. */
  findNextFile(h: never, target: string): { name: string; attributes: number } | undefined;
  findClose(h: never, target: string): void;
  /** GetFileAttributesW (of a reparse point itself); undefined when nothing is there. */
  fileAttributes(path: string): number | undefined;
  deleteFile(path: string): void;
  removeDirectory(path: string): void;
}

/** What a tar entry asks a writer to do; the stream bytes follow through `write`. */
export interface FileSpec {
  /** Layer-relative path with `/` separators, e.g. `Files/Windows/notepad.exe`. */
  name: string;
  isDir: boolean;
  info: BasicInfo;
  securityDescriptor?: Buffer;
  reparse?: Buffer;
  /** Data size of a regular file; undefined for directories and links. */
  size?: number;
}

const native = (root: string, name: string) => join(root, ...name.split('/'));

/** Where the backup stream of the current entry goes. */
interface Sink {
  /** `data`: bytes inside a BACKUP_DATA body (no record structure to parse). */
  write(b: Buffer, data?: boolean): Promise<void> | void;
  /** Flushes and closes; the entry is complete. */
  end(): Promise<void> | void;
}

/**
 * BackupWrite into an open handle. Small records (headers, security, reparse) and tar chunks are
 * coalesced into writes of up to {@link COALESCE_BYTES}: every BackupWrite is one native call
 * through koffi, and the call, not the copy, is what costs (the image bench). With
 * `backupWriteAsync` a buffer of file data only runs on a pool thread while the next one fills
 * (two buffers, at most one write in flight, in order). Buffers with record headers are written
 * synchronously: a malformed stream is reported there with its GetLastError code, which a pool
 * thread's call cannot give (the last error is per thread).
 */
class BackupSink implements Sink {
  readonly #ctx = { value: null as unknown };
  #current = 0;
  #used = 0;
  /** The current buffer holds record bytes (headers, security, reparse), not only file data. */
  #records = false;
  #inflight: Promise<void> | undefined;
  /** `bufs`: two buffers, one filling while the other is written; the writer's, shared by its sinks one after the other. */
  constructor(private readonly ops: LayerOps, private readonly handle: number, private readonly processSecurity: boolean, private readonly target: string, private readonly bufs: CoalesceBuffers) {}
  async write(b: Buffer, data = false): Promise<void> {
    if (this.#used + b.length > COALESCE_BYTES) await this.#flush();
    if (b.length >= COALESCE_BYTES) return this.#send(b, data);
    b.copy(this.bufs.get(this.#current), this.#used);
    this.#used += b.length;
    if (!data) this.#records = true;
  }
  async end(): Promise<void> {
    try {
      await this.#flush();
      await this.#settle();
      this.ops.backupWriteEnd(this.handle as never, this.processSecurity, this.#ctx, this.target);
    } finally {
      await this.#settle().catch(() => undefined); // never close under a write in flight
      this.ops.closeHandle(this.handle as never, this.target);
    }
  }
  async #flush(): Promise<void> {
    if (this.#used === 0) return;
    await this.#send(this.bufs.get(this.#current).subarray(0, this.#used), !this.#records);
    this.#records = false;
    // #send waited for the other buffer's write: it is free, fill it while this one is written.
    this.#current = 1 - this.#current;
    this.#used = 0;
  }
  /** Starts the write of `b` after the one in flight (its buffer must stay untouched until then). */
  async #send(b: Buffer, data: boolean): Promise<void> {
    await this.#settle();
    const { ops } = this;
    if (!ops.backupWriteAsync || !data) return ops.backupWrite(this.handle as never, b, this.processSecurity, this.#ctx, this.target);
    this.#inflight = ops.backupWriteAsync(this.handle as never, b, this.processSecurity, this.#ctx, this.target);
  }
  async #settle(): Promise<void> {
    const p = this.#inflight;
    this.#inflight = undefined;
    await p;
  }
}

/** A transport-format file (legacy.go): the stream goes to a plain file, whose times are set when it ends. */
class TransportFileSink implements Sink {
  readonly #fd: number;
  constructor(private readonly ops: LayerOps, private readonly path: string, private readonly info: BasicInfo) {
    this.#fd = openSync(path, 'wx');
  }
  write(b: Buffer): void {
    let off = 0;
    while (off < b.length) off += writeSync(this.#fd, b, off);
  }
  end(): void {
    closeSync(this.#fd);
    // The transport file's own times carry the entry's times; its attributes are 0 (legacy.go strippedFi).
    const h = this.ops.createFile(this.path, RW_ACCESS, FILE_SHARE_READ, OPEN_EXISTING, 0);
    try {
      this.ops.setFileBasicInfo(h as never, { ...this.info, fileAttributes: 0 }, this.path);
    } finally {
      this.ops.closeHandle(h as never, this.path);
    }
  }
}

/** BackupWrite calls are coalesced up to this size (1 MiB). */
const COALESCE_BYTES = 1 << 20;

/**
 * A writer's two coalescing buffers, made on first use and shared by its sinks one after the
 * other (a sink's `end` waits for its write in flight). Before, every file of a layer allocated
 * its own 1 MiB.
 */
class CoalesceBuffers {
  readonly #bufs: (Buffer | undefined)[] = [undefined, undefined];
  get(i: number): Buffer {
    return (this.#bufs[i] ??= Buffer.allocUnsafe(COALESCE_BYTES));
  }
}

/** A base layer goes straight into its folder; any other layer goes through the transport format and ImportLayer. */
type Target = { kind: 'base'; root: string } | { kind: 'transport'; staging: string; dest: string; parents: readonly { id: string; path: string }[]; uvm: UtilityVmWriter };

/** A hard link made after ImportLayer ([SHIM] legacy.go pendingLink): `name` in dest, to `target` under `root`. */
interface PendingLink {
  name: string;
  target: string;
  root: string;
}

/**
 * The layer writer: add a file, stream its data, add its ADS, then finish. One class for both of
 * hcsshim's writers ([SHIM] baselayerwriter.go, legacy.go): the entry handling and the backup
 * stream records are the same; what differs is where an entry's stream goes (a BackupWrite
 * handle in the layer, or a transport file in the staging folder) and what `finish` calls.
 */
export class LayerWriter {
  #sink: Sink | undefined;
  /** Directories whose times are set again at the end (base: every one; transport: hcsshim's changedDi). */
  readonly #dirs: DirTimes[] = [];
  readonly #tombstones: string[] = [];
  readonly #links: PendingLink[] = [];
  /** Names this layer added (hcsshim's addedFiles: a link to one of them targets dest). */
  readonly #added = new Set<string>();
  /** A base layer with a utility VM image (`UtilityVM/Files` was an entry). */
  #hasUtilityVm = false;
  readonly #bufs = new CoalesceBuffers();

  private constructor(private readonly ops: LayerOps, private readonly target: Target) {}

  /** A base layer written into `root` (which must exist and be empty), then ProcessBaseImage. */
  static base(ops: LayerOps, root: string): LayerWriter {
    return new LayerWriter(ops, { kind: 'base', root });
  }

  /**
   * A non-base layer's transport format in `staging`, then ImportLayer(dest, staging, parents),
   * parents top-most first. `dest` is created now, as hcsshim's ociwclayer.ImportLayerFromTar does
   * (MkdirAll): a utility VM image is cloned into it before ImportLayer.
   */
  static transport(ops: LayerOps, staging: string, dest: string, parents: readonly { id: string; path: string }[]): LayerWriter {
    mkdirSync(dest, { recursive: true });
    return new LayerWriter(ops, { kind: 'transport', staging, dest, parents, uvm: new UtilityVmWriter(ops, dest, parents[0]?.path) });
  }

  async add(spec: FileSpec): Promise<void> {
    await this.#close();
    if (spec.name.split('/').some((p) => p === '..' || p === '')) throw new Error(`layer entry ${spec.name}: not a relative path`);
    if (spec.name === 'UtilityVM/Files') this.#hasUtilityVm = true; // hcsshim's test, exactly this entry
    const sink = this.target.kind === 'base' ? this.#baseSink(spec, native(this.target.root, spec.name)) : this.#transportSink(spec, this.target);
    if (!sink) return;
    this.#sink = sink;
    // A transport hive is a plain BackupWrite without security ([SHIM] legacy.go).
    if (spec.securityDescriptor && !(this.target.kind === 'transport' && isHive(spec.name))) await this.#stream(streamRecord(BACKUP_SECURITY_DATA, spec.securityDescriptor));
    if (spec.reparse) await this.#stream(streamRecord(BACKUP_REPARSE_DATA, spec.reparse));
    if (spec.size !== undefined) await this.#stream(streamHeader(BACKUP_DATA, spec.size));
  }

  /** Data of the current entry; await it (backpressure: at most one native write in flight). */
  write(chunk: Buffer): Promise<void> | void {
    return this.#stream(chunk, true);
  }

  async addStream(stream: string, size: number): Promise<void> {
    await this.#stream(streamHeader(BACKUP_ALTERNATE_DATA, size, adsStreamName(stream)));
  }

  async addLink(name: string, target: string): Promise<void> {
    await this.#close();
    const t = this.target;
    if (t.kind === 'base') return this.ops.createHardLink(native(t.root, name), native(t.root, target));
    // [SHIM] legacy.go AddLink: a Files\ target is looked for in the parents (nothing is in dest
    // yet), a UtilityVM\Files target in dest (the clone is there already); a name this layer
    // added is in dest after ImportLayer. The link is made after ImportLayer (PendingLinks).
    const roots = under(target, 'Files') ? t.parents.map((p) => p.path) : under(target, 'UtilityVM/Files') ? [t.dest] : undefined;
    if (!roots || (!under(name, 'Files') && !under(name, 'UtilityVM/Files'))) throw new Error(`invalid hard link in layer: ${name} -> ${target}`);
    const root = this.#added.has(target) ? t.dest : roots.find((r) => this.ops.fileAttributes(native(r, target)) !== undefined);
    if (root === undefined) throw new Error(`failed to find link target for '${name}' -> '${target}'`);
    this.#links.push({ name, target, root });
    this.#added.add(name);
  }

  async remove(name: string): Promise<void> {
    await this.#close();
    const t = this.target;
    if (t.kind === 'base') throw new Error(`base layer cannot have tombstones (${name}): [SHIM] baseLayerWriter.Remove`);
    if (under(name, 'UtilityVM/Files')) return t.uvm.remove(name); // [SHIM] legacyLayerWriter.Remove: removed from the clone now
    if (!under(name, 'Files')) throw new Error(`invalid tombstone ${name}`);
    this.#tombstones.push(`\\${name.replace(/\//g, '\\')}`);
  }

  /** Ends the last file and runs the layer API (ProcessBaseImage / ImportLayer). */
  async finish(): Promise<void> {
    await this.#close();
    const t = this.target;
    if (t.kind === 'base') {
      // Adding children changed the directories' times: set them again (hcsshim reapplyDirectoryTimes).
      reapplyDirectoryTimes(this.ops, this.#dirs);
      this.ops.processBaseImage(t.root);
      if (this.#hasUtilityVm) this.ops.processUtilityImage(join(t.root, 'UtilityVM'));
      return;
    }
    if (this.#tombstones.length > 0) {
      const fd = openSync(join(t.staging, 'tombstones.txt'), 'wx');
      writeSync(fd, `\ufeffVersion 1.0\n${this.#tombstones.map((x) => `${x}\n`).join('')}`);
      closeSync(fd);
    }
    // [SHIM] importlayer.go legacyLayerWriterWrapper.Close: ImportLayer, the pending links (each
    // name removed first: in the utility VM clone it is a linked or copied parent file), the
    // directory times again (the links changed them; "some container applications depend on the
    // correctness of these timestamps"), then ProcessUtilityVMImage when there is a utility VM.
    this.ops.importLayer(t.dest, t.staging, t.parents);
    for (const l of this.#links) {
      const path = native(t.dest, l.name);
      if (this.ops.fileAttributes(path) !== undefined) this.ops.deleteFile(path);
      this.ops.createHardLink(path, native(l.root, l.target));
    }
    reapplyDirectoryTimes(this.ops, this.#dirs);
    t.uvm.process();
  }

  /** Ends the last file without finishing (after an error). */
  async abort(): Promise<void> {
    try {
      await this.#close();
    } catch {
      // the caller is already failing with the first error
    }
  }

  /** Base layer: CreateFileW with backup semantics in the layer, basic info, BackupWrite with security. */
  #baseSink(spec: FileSpec, path: string): Sink {
    mkdirSync(dirname(path), { recursive: true });
    if (spec.isDir) {
      this.ops.createDirectory(path);
      this.#dirs.push({ path, info: spec.info });
    }
    const handle = this.ops.createFile(path, FULL_ACCESS, FILE_SHARE_READ, spec.isDir ? OPEN_EXISTING : CREATE_NEW, BACKUP_FLAGS);
    this.ops.setFileBasicInfo(handle as never, spec.info, path);
    return new BackupSink(this.ops, handle, true, path, this.#bufs);
  }

  /**
   * Transport format: hives through BackupWrite (no security), files as `<attributes><backup
   * stream>`, directories as `.$wcidirs$` markers; `UtilityVM/...` straight into dest's clone
   * with BackupWrite (with security). Every directory but `UtilityVM` is one of hcsshim's changedDi.
   */
  #transportSink(spec: FileSpec, t: Extract<Target, { kind: 'transport' }>): Sink | undefined {
    if (spec.isDir && spec.name !== 'UtilityVM') this.#dirs.push({ path: native(t.dest, spec.name), info: spec.info });
    this.#added.add(spec.name);
    if (spec.name === 'UtilityVM' || under(spec.name, 'UtilityVM')) {
      const h = t.uvm.open(spec);
      return h === undefined ? undefined : new BackupSink(this.ops, h, true, native(t.dest, spec.name), this.#bufs);
    }
    const path = native(t.staging, spec.name);
    mkdirSync(dirname(path), { recursive: true });
    if (isHive(spec.name)) {
      if (spec.isDir) return void mkdirSync(path, { recursive: true });
      const handle = this.ops.createFile(path, RW_ACCESS, FILE_SHARE_READ, CREATE_NEW, 0);
      this.ops.setFileBasicInfo(handle as never, { ...spec.info, fileAttributes: 0 }, path);
      return new BackupSink(this.ops, handle, false, path, this.#bufs);
    }
    if (spec.name !== 'Files' && !spec.name.startsWith('Files/')) throw new Error(`layer entry ${spec.name}: only Files/ and Hives/ may appear in a non-base layer`);
    let file = path;
    if (spec.isDir) {
      mkdirSync(path, { recursive: true });
      file = `${path}.$wcidirs$`;
    }
    const sink = new TransportFileSink(this.ops, file, spec.info);
    const attr = Buffer.alloc(4);
    attr.writeUInt32LE(spec.info.fileAttributes, 0);
    sink.write(attr);
    return sink;
  }

  #stream(b: Buffer, data = false): Promise<void> | void {
    if (!this.#sink) throw new Error('layer writer: data before a file');
    return this.#sink.write(b, data);
  }

  async #close(): Promise<void> {
    const sink = this.#sink;
    this.#sink = undefined;
    await sink?.end();
  }
}

const isHive = (name: string) => name === 'Hives' || name.startsWith('Hives/');
