/**
 * winnt.h / fileapi.h values the layer writers pass to CreateFileW (the same as src/hcs/layers.ts
 * exports; repeated so that src/images stays binding-free).
 */

/** GENERIC_READ | GENERIC_WRITE | WRITE_DAC | WRITE_OWNER | ACCESS_SYSTEM_SECURITY: what hcsshim opens a file it writes with. */
export const FULL_ACCESS = (0x80000000 | 0x40000000 | 0x00040000 | 0x00080000 | 0x01000000) >>> 0;
/** GENERIC_READ | GENERIC_WRITE. */
export const RW_ACCESS = (0x80000000 | 0x40000000) >>> 0;
/** GENERIC_READ | ACCESS_SYSTEM_SECURITY: what hcsshim opens a file it copies from with ([SHIM] legacy.go copyFileWithMetadata). */
export const READ_SECURITY_ACCESS = (0x80000000 | 0x01000000) >>> 0;
export const FILE_SHARE_READ = 1;
export const CREATE_NEW = 1;
export const OPEN_EXISTING = 3;
/** FILE_FLAG_BACKUP_SEMANTICS (needed to open a directory) | FILE_FLAG_OPEN_REPARSE_POINT (the link, not its target). */
export const BACKUP_FLAGS = (0x02000000 | 0x00200000) >>> 0;
