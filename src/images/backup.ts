/**
 * The Win32 backup-stream encoding a Windows layer tar entry becomes (provisioning.md 2.3; go-winio
 * `backup.go` win32StreamID and `backuptar.WriteBackupStreamFromTarFile`): a sequence of
 * WIN32_STREAM_ID records `{DWORD StreamId; DWORD Attributes; LARGE_INTEGER Size; DWORD NameSize}`
 * (20 bytes, little-endian) + UTF-16 name + data. Order per file: security (MSWINDOWS.rawsd),
 * reparse data (symlinks/junctions), data, then one alternate-data record per `<file>:<stream>` entry.
 * Also FILE_BASIC_INFO from the tar header (times and MSWINDOWS.fileattr).
 */
import type { Header } from 'tar-stream';

type TarHeaders = Header;
/** PAX records of an entry (tar-stream types them as unknown). */
export const paxOf = (h: TarHeaders): Record<string, string> => (h.pax ?? {}) as Record<string, string>;

export const BACKUP_DATA = 1;
export const BACKUP_EA_DATA = 2;
export const BACKUP_SECURITY_DATA = 3;
export const BACKUP_ALTERNATE_DATA = 4;
export const BACKUP_REPARSE_DATA = 8;

export const FILE_ATTRIBUTE_DIRECTORY = 0x10;
export const FILE_ATTRIBUTE_NORMAL = 0x80;
export const FILE_ATTRIBUTE_REPARSE_POINT = 0x400;

/** One WIN32_STREAM_ID header (+ name), ready to precede `size` bytes of stream data. */
export function streamHeader(id: number, size: number | bigint, name = ''): Buffer {
  const nameBytes = Buffer.from(name, 'utf16le');
  const b = Buffer.alloc(20 + nameBytes.length);
  b.writeUInt32LE(id, 0);
  b.writeUInt32LE(0, 4);
  b.writeBigInt64LE(BigInt(size), 8);
  b.writeUInt32LE(nameBytes.length, 16);
  nameBytes.copy(b, 20);
  return b;
}

/** A whole record (header + data) for small streams. */
export function streamRecord(id: number, data: Buffer, name = ''): Buffer {
  return Buffer.concat([streamHeader(id, data.length, name), data]);
}

/** The ADS record name go-winio writes for the tar entry `<file>:<stream>`: `:<stream>:$DATA`. */
export const adsStreamName = (stream: string): string => `:${stream}:$DATA`;

/**
 * A REPARSE_DATA_BUFFER for a symbolic link or, with `MSWINDOWS.mountpoint`, a junction
 * (go-winio reparse.go EncodeReparsePoint). Relative link targets carry SYMLINK_FLAG_RELATIVE.
 */
export function reparseBuffer(target: string, mountPoint: boolean): Buffer {
  const winTarget = target.replace(/\//g, '\\');
  const relative = !mountPoint && !/^[A-Za-z]:\\|^\\/.test(winTarget);
  const substitute = relative ? winTarget : `\\??\\${winTarget}`;
  const sub = Buffer.from(substitute, 'utf16le');
  const print = Buffer.from(winTarget, 'utf16le');
  const headerLen = mountPoint ? 8 : 12; // offsets/lengths (+ Flags for symlinks)
  const data = Buffer.alloc(headerLen + sub.length + print.length + (mountPoint ? 4 : 0));
  data.writeUInt16LE(0, 0);
  data.writeUInt16LE(sub.length, 2);
  data.writeUInt16LE(sub.length + (mountPoint ? 2 : 0), 4);
  data.writeUInt16LE(print.length, 6);
  if (!mountPoint) data.writeUInt32LE(relative ? 1 : 0, 8);
  sub.copy(data, headerLen);
  print.copy(data, headerLen + sub.length + (mountPoint ? 2 : 0));
  const out = Buffer.alloc(8 + data.length);
  out.writeUInt32LE(mountPoint ? 0xa0000003 : 0xa000000c, 0); // IO_REPARSE_TAG_MOUNT_POINT / _SYMLINK
  out.writeUInt16LE(data.length, 4);
  data.copy(out, 8);
  return out;
}

const EPOCH_DIFF = 116444736000000000n; // 1601-01-01 to 1970-01-01 in 100 ns units

/** A PAX time ("1704067200.123456789") or Date as a FILETIME (100 ns since 1601). */
export function fileTime(t: string | Date | undefined, fallback: bigint): bigint {
  if (t === undefined) return fallback;
  if (t instanceof Date) return BigInt(t.getTime()) * 10_000n + EPOCH_DIFF;
  const m = /^(-?\d+)(?:\.(\d{1,9}))?$/.exec(t);
  if (!m) return fallback;
  const frac = BigInt((m[2] ?? '').padEnd(7, '0').slice(0, 7));
  return BigInt(m[1]!) * 10_000_000n + frac + EPOCH_DIFF;
}

/** FILE_BASIC_INFO values of a tar entry (go-winio backuptar.FileInfoFromHeader). */
export interface BasicInfo {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  fileAttributes: number;
}

/** Times from mtime/atime/ctime/LIBARCHIVE.creationtime; attributes from MSWINDOWS.fileattr. */
export function basicInfoOf(h: TarHeaders): BasicInfo {
  const pax = paxOf(h);
  const mtime = fileTime(pax.mtime ?? h.mtime, EPOCH_DIFF);
  const isDir = h.type === 'directory';
  let attributes = pax['MSWINDOWS.fileattr'] !== undefined ? Number(pax['MSWINDOWS.fileattr']) : isDir ? FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_NORMAL;
  if (!Number.isInteger(attributes) || attributes < 0 || attributes > 0xffffffff) throw new Error(`${h.name}: MSWINDOWS.fileattr "${pax['MSWINDOWS.fileattr']}" is not a number`);
  if (isDir) attributes |= FILE_ATTRIBUTE_DIRECTORY;
  return {
    creationTime: fileTime(pax['LIBARCHIVE.creationtime'], mtime),
    lastAccessTime: fileTime(pax.atime, mtime),
    lastWriteTime: mtime,
    changeTime: fileTime(pax.ctime, mtime),
    fileAttributes: attributes >>> 0,
  };
}

/** The raw security descriptor of MSWINDOWS.rawsd, if any. SDDL (MSWINDOWS.sd) and EAs are refused. */
export function securityDescriptorOf(h: TarHeaders): Buffer | undefined {
  const pax = paxOf(h);
  if (pax['MSWINDOWS.sd'] !== undefined && pax['MSWINDOWS.rawsd'] === undefined) {
    throw new Error(`${h.name}: MSWINDOWS.sd (SDDL) security descriptors are not supported, only MSWINDOWS.rawsd`);
  }
  if (Object.keys(pax).some((k) => k.startsWith('MSWINDOWS.xattr.'))) throw new Error(`${h.name}: MSWINDOWS.xattr.* extended attributes are not supported`);
  return pax['MSWINDOWS.rawsd'] !== undefined ? Buffer.from(pax['MSWINDOWS.rawsd'], 'base64') : undefined;
}
