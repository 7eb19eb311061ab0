/**
 * Layer writers, Docker's windowsfilter way ([SHIM] internal/wclayer/baselayerwriter.go and
 * legacy.go, provisioning.md 2.3), over the layer binding's mechanical calls (`LayerOps`, which
 * src/hcs/layers.ts implements; the CLI passes it in):
 *
 * - `BaseLayerWriter` writes straight into the layer folder: CreateFileW (backup semantics),
 *   SetFileInformationByHandle(FileBasicInfo), BackupWrite of the backup stream (with security), then
 *   the directory times again, then ProcessBaseImage.
 * - `LegacyLayerWriter` writes the transport format into a staging folder (Files\: each file is its
 *   4-byte attributes + backup stream, each directory gets a `<dir>.$wcidirs$` marker; Hives\ with
 *   BackupWrite; tombstones.txt for whiteouts), then ImportLayer(dest, staging, parents).
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { adsStreamName, BACKUP_ALTERNATE_DATA, BACKUP_DATA, BACKUP_REPARSE_DATA, BACKUP_SECURITY_DATA, streamHeader, streamRecord, type BasicInfo } from './backup.ts';

/** The layer binding calls the writers make (implemented by src/hcs/layers.ts LayerNative). */
export interface LayerOps {
  nameToGuid(name: string): string;
  processBaseImage(path: string): void;
  importLayer(path: string, source: string, parents: readonly { id: string; path: string }[]): void;
  destroyLayer(path: string): void;
  createFile(path: string, access: number, share: number, disposition: number, flags: number): number;
  createDirectory(path: string): void;
  createHardLink(newName: string, existing: string): void;
  setFileBasicInfo(h: never, info: BasicInfo, target: string): void;
  backupWrite(h: never, chunk: Uint8Array, processSecurity: boolean, ctx: { value: unknown }, target: string): void;
  backupWriteEnd(h: never, processSecurity: boolean, ctx: { value: unknown }, target: string): void;
  closeHandle(h: never, target: string): void;
}

// winnt.h / fileapi.h values (the same as src/hcs/layers.ts exports; repeated to keep this module binding-free).
const FULL_ACCESS = (0x80000000 | 0x40000000 | 0x00040000 | 0x00080000 | 0x01000000) >>> 0; // GENERIC_READ|GENERIC_WRITE|WRITE_DAC|WRITE_OWNER|ACCESS_SYSTEM_SECURITY
const RW_ACCESS = (0x80000000 | 0x40000000) >>> 0;
const FILE_SHARE_READ = 1;
const CREATE_NEW = 1;
const OPEN_EXISTING = 3;
const BACKUP_FLAGS = 0x02000000 | 0x00200000; // FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT

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

/** Both writers: add a file, stream its data, add its ADS, then finish. */
export interface LayerWriter {
  add(spec: FileSpec): void;
  write(chunk: Buffer): void;
  addStream(stream: string, size: number): void;
  addLink(name: string, target: string): void;
  remove(name: string): void;
  /** Ends the last file and runs the layer API (ProcessBaseImage / ImportLayer). */
  finish(): void;
  /** Ends the last file without finishing (after an error). */
  abort(): void;
}

const native = (root: string, name: string) => join(root, ...name.split('/'));

/** Writes a base layer into `root` (which must exist and be empty). */
export class BaseLayerWriter implements LayerWriter {
  private handle: number | undefined;
  private ctx = { value: null as unknown };
  private current = '';
  private readonly dirs: { path: string; info: BasicInfo }[] = [];
  constructor(private readonly ops: LayerOps, private readonly root: string) {}

  add(spec: FileSpec): void {
    this.close();
    if (spec.name.split('/').some((p) => p === '..' || p === '')) throw new Error(`layer entry ${spec.name}: not a relative path`);
    const path = native(this.root, spec.name);
    mkdirSync(dirname(path), { recursive: true });
    if (spec.isDir) {
      this.ops.createDirectory(path);
      this.dirs.push({ path, info: spec.info });
    }
    this.current = path;
    this.handle = this.ops.createFile(path, FULL_ACCESS, FILE_SHARE_READ, spec.isDir ? OPEN_EXISTING : CREATE_NEW, BACKUP_FLAGS);
    this.ops.setFileBasicInfo(this.handle as never, spec.info, path);
    if (spec.securityDescriptor) this.stream(streamRecord(BACKUP_SECURITY_DATA, spec.securityDescriptor));
    if (spec.reparse) this.stream(streamRecord(BACKUP_REPARSE_DATA, spec.reparse));
    if (spec.size !== undefined) this.stream(streamHeader(BACKUP_DATA, spec.size));
  }
  write(chunk: Buffer): void {
    this.stream(chunk);
  }
  addStream(stream: string, size: number): void {
    this.stream(streamHeader(BACKUP_ALTERNATE_DATA, size, adsStreamName(stream)));
  }
  addLink(name: string, target: string): void {
    this.close();
    this.ops.createHardLink(native(this.root, name), native(this.root, target));
  }
  remove(name: string): void {
    throw new Error(`base layer cannot have tombstones (${name}): [SHIM] baseLayerWriter.Remove`);
  }
  finish(): void {
    this.close();
    // Adding children changed the directories' times: set them again (hcsshim reapplyDirectoryTimes).
    for (const d of this.dirs.reverse()) {
      const h = this.ops.createFile(d.path, FULL_ACCESS, FILE_SHARE_READ, OPEN_EXISTING, BACKUP_FLAGS);
      try {
        this.ops.setFileBasicInfo(h as never, d.info, d.path);
      } finally {
        this.ops.closeHandle(h as never, d.path);
      }
    }
    this.ops.processBaseImage(this.root);
  }
  abort(): void {
    try {
      this.close();
    } catch {
      // the caller is already failing with the first error
    }
  }
  private stream(b: Buffer): void {
    if (this.handle === undefined) throw new Error('layer writer: data before a file');
    this.ops.backupWrite(this.handle as never, b, true, this.ctx, this.current);
  }
  private close(): void {
    if (this.handle === undefined) return;
    const h = this.handle;
    this.handle = undefined;
    try {
      this.ops.backupWriteEnd(h as never, true, this.ctx, this.current);
    } finally {
      this.ops.closeHandle(h as never, this.current);
    }
  }
}

/** Writes a non-base layer's transport format into `staging`, then imports it into `dest`. */
export class LegacyLayerWriter implements LayerWriter {
  private fd: number | undefined;
  private hive: { handle: number; ctx: { value: unknown } } | undefined;
  private current = '';
  private currentInfo: BasicInfo | undefined;
  private readonly tombstones: string[] = [];
  private readonly links: { name: string; target: string }[] = [];
  constructor(
    private readonly ops: LayerOps,
    private readonly staging: string,
    private readonly dest: string,
    private readonly parents: readonly { id: string; path: string }[],
  ) {}

  add(spec: FileSpec): void {
    this.close();
    if (spec.name.split('/').some((p) => p === '..' || p === '')) throw new Error(`layer entry ${spec.name}: not a relative path`);
    const path = native(this.staging, spec.name);
    mkdirSync(dirname(path), { recursive: true });
    if (spec.name === 'Hives' || spec.name.startsWith('Hives/')) {
      if (spec.isDir) return void mkdirSync(path, { recursive: true });
      const handle = this.ops.createFile(path, RW_ACCESS, FILE_SHARE_READ, CREATE_NEW, 0);
      this.ops.setFileBasicInfo(handle as never, { ...spec.info, fileAttributes: 0 }, path);
      this.hive = { handle, ctx: { value: null } };
      this.current = path;
      if (spec.size !== undefined) this.stream(streamHeader(BACKUP_DATA, spec.size));
      return;
    }
    if (spec.name !== 'Files' && !spec.name.startsWith('Files/')) throw new Error(`layer entry ${spec.name}: only Files/ and Hives/ may appear in a non-base layer`);
    let file = path;
    if (spec.isDir) {
      mkdirSync(path, { recursive: true });
      file = `${path}.$wcidirs$`;
    }
    this.current = file;
    this.currentInfo = spec.info;
    this.fd = openSync(file, 'wx');
    const attr = Buffer.alloc(4);
    attr.writeUInt32LE(spec.info.fileAttributes, 0);
    this.stream(attr);
    if (spec.securityDescriptor) this.stream(streamRecord(BACKUP_SECURITY_DATA, spec.securityDescriptor));
    if (spec.reparse) this.stream(streamRecord(BACKUP_REPARSE_DATA, spec.reparse));
    if (spec.size !== undefined) this.stream(streamHeader(BACKUP_DATA, spec.size));
  }
  write(chunk: Buffer): void {
    this.stream(chunk);
  }
  addStream(stream: string, size: number): void {
    this.stream(streamHeader(BACKUP_ALTERNATE_DATA, size, adsStreamName(stream)));
  }
  addLink(name: string, target: string): void {
    this.close();
    this.links.push({ name, target }); // written after ImportLayer, like hcsshim's PendingLinks
  }
  remove(name: string): void {
    this.close();
    if (!name.startsWith('Files/')) throw new Error(`invalid tombstone ${name}`);
    this.tombstones.push(`\\${name.replace(/\//g, '\\')}`);
  }
  finish(): void {
    this.close();
    if (this.tombstones.length > 0) {
      const fd = openSync(join(this.staging, 'tombstones.txt'), 'wx');
      writeSync(fd, `\ufeffVersion 1.0\n${this.tombstones.map((t) => `${t}\n`).join('')}`);
      closeSync(fd);
    }
    this.ops.importLayer(this.dest, this.staging, this.parents);
    for (const l of this.links) {
      // UNVERIFIED: only links whose target is in this same layer are supported.
      this.ops.createHardLink(native(this.dest, l.name), native(this.dest, l.target));
    }
  }
  abort(): void {
    try {
      this.close();
    } catch {
      // already failing
    }
  }
  private stream(b: Buffer): void {
    if (this.hive) return this.ops.backupWrite(this.hive.handle as never, b, false, this.hive.ctx, this.current);
    if (this.fd === undefined) throw new Error('layer writer: data before a file');
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off);
  }
  private close(): void {
    if (this.hive) {
      const { handle, ctx } = this.hive;
      this.hive = undefined;
      try {
        this.ops.backupWriteEnd(handle as never, false, ctx, this.current);
      } finally {
        this.ops.closeHandle(handle as never, this.current);
      }
      return;
    }
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    // The transport file's own times carry the entry's times; its attributes are 0 (legacy.go strippedFi).
    const h = this.ops.createFile(this.current, RW_ACCESS, FILE_SHARE_READ, OPEN_EXISTING, 0);
    try {
      this.ops.setFileBasicInfo(h as never, { ...this.currentInfo!, fileAttributes: 0 }, this.current);
    } finally {
      this.ops.closeHandle(h as never, this.current);
    }
  }
}
