/**
 * The layer-storage binding: vmcompute.dll's layer exports (the undocumented path Docker's
 * windowsfilter driver, containerd and hcsshim use: provisioning.md 0.1 and 1.4) and the kernel32 /
 * advapi32 calls a layer writer makes (BackupWrite & co. and AdjustTokenPrivileges, provisioning.md
 * 0.7 and 2.3; BackupRead, GetFileInformationByHandleEx, FindFirstFileW & co., GetFileAttributesW,
 * DeleteFileW and RemoveDirectoryW for cloning a parent's utility VM image, [SHIM]
 * internal/wclayer/legacy.go cloneTree / Add / Remove). Mechanical: one wrapper per export, errors carry the operation, the path and the
 * code name. On Linux the vmcompute symbols come from the emulator's libvmcompute.so and the
 * kernel32 / advapi32 ones from its one kernel32 stand-in, libkernel32-emu.so (the stdio pipes use
 * it too: src/hcs/stdio.ts), with the same C ABI (src/emulator/native/layers-vmcompute.c,
 * kernel32/files.c, backup-read.c, walk.c), so the writer code above this module is the same on both platforms.
 *
 * Sources: [SHIM] internal/wclayer/wclayer.go (//sys lines), layerutils.go (DriverInfo,
 * WC_LAYER_DESCRIPTOR), go-winio backup.go / privilege.go; the Win32 prototypes from the Windows SDK
 * headers (fileapi.h, winbase.h, securitybaseapi.h, processthreadsapi.h).
 * UNVERIFIED: the count parameter's C type (ULONG vs SIZE_T; the same register on x64), and that
 * ImportLayer/ProcessBaseImage return HRESULT_FROM_WIN32(ERROR_PRIVILEGE_NOT_HELD) without privileges.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { formatHresult } from './errors.ts';
import { system32Path } from './ffi.ts';
import { kernel32LibraryPath } from './stdio.ts';

/** Win32 error names the layer code meets (winerror.h). */
const WIN32_NAMES: Record<number, string> = {
  2: 'ERROR_FILE_NOT_FOUND', 3: 'ERROR_PATH_NOT_FOUND', 5: 'ERROR_ACCESS_DENIED', 6: 'ERROR_INVALID_HANDLE',
  8: 'ERROR_NOT_ENOUGH_MEMORY', 13: 'ERROR_INVALID_DATA', 29: 'ERROR_WRITE_FAULT', 80: 'ERROR_FILE_EXISTS',
  87: 'ERROR_INVALID_PARAMETER', 145: 'ERROR_DIR_NOT_EMPTY', 183: 'ERROR_ALREADY_EXISTS', 1300: 'ERROR_NOT_ALL_ASSIGNED',
  1313: 'ERROR_NO_SUCH_PRIVILEGE', 1314: 'ERROR_PRIVILEGE_NOT_HELD', 18: 'ERROR_NO_MORE_FILES', 267: 'ERROR_DIRECTORY',
};

/** A failed layer call: `layers ImportLayer C:\...\L2: ERROR_INVALID_DATA (0x8007000D)`. */
export class LayerError extends Error {
  /** The HRESULT (Win32 codes are converted with HRESULT_FROM_WIN32). */
  readonly hresult: number;
  constructor(readonly op: string, readonly target: string, hresult: number) {
    const hr = hresult | 0;
    const win32 = (hr >>> 16) === 0x8007 ? hr & 0xffff : undefined;
    const name = win32 !== undefined ? (WIN32_NAMES[win32] ?? `WIN32_${win32}`) : hr === 0x80070057 ? 'E_INVALIDARG' : 'HRESULT';
    super(`layers ${op} ${target}: ${name} (${formatHresult(hr)})`);
    this.name = 'LayerError';
    this.hresult = hr;
  }
}

const fromWin32 = (code: number): number => (code === 0 ? 0 : (0x80070000 | (code & 0xffff)) | 0);
/** The privileges are not held by this token (not elevated). */
export const isPrivilegeNotHeld = (e: unknown): boolean =>
  e instanceof LayerError && (e.hresult === fromWin32(1314) || e.hresult === fromWin32(1300));
/** The target exists already. */
export const isLayerAlreadyExists = (e: unknown): boolean =>
  e instanceof LayerError && (e.hresult === fromWin32(183) || e.hresult === fromWin32(80));
/** Malformed input (a bad backup stream or transport folder). */
export const isInvalidLayerData = (e: unknown): boolean => e instanceof LayerError && e.hresult === fromWin32(13);

// Access, share, disposition and flag values (winnt.h, fileapi.h).
export const GENERIC_READ = 0x80000000;
export const GENERIC_WRITE = 0x40000000;
export const WRITE_DAC = 0x00040000;
export const WRITE_OWNER = 0x00080000;
export const ACCESS_SYSTEM_SECURITY = 0x01000000;
export const FILE_SHARE_READ = 1;
export const CREATE_NEW = 1;
export const OPEN_EXISTING = 3;
export const FILE_FLAG_BACKUP_SEMANTICS = 0x02000000;
export const FILE_FLAG_OPEN_REPARSE_POINT = 0x00200000;

/** FILE_BASIC_INFO (times in 100 ns units since 1601, as BigInt). */
export interface FileBasicInfo {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  fileAttributes: number;
}

/** A parent layer for ImportLayer: its id (from NameToGuid) and folder. */
export interface LayerDescriptor {
  id: string;
  path: string;
}

/** One directory entry of FindFirstFileW / FindNextFileW. */
export interface FindEntry {
  name: string;
  attributes: number;
}

/** An open kernel32 file HANDLE (a number: handles are small integers). */
export type FileHandle = number & { readonly __brand: 'HANDLE' };
/** The opaque BackupWrite context, boxed for the in/out parameter. */
export interface BackupContext {
  value: unknown;
}

const GUID = koffi.struct('LAYERS_GUID', { Data1: 'uint32_t', Data2: 'uint16_t', Data3: 'uint16_t', Data4: koffi.array('uint8_t', 8) });
koffi.struct('LAYERS_DRIVER_INFO', { Flavour: 'int32_t', HomeDir: 'const char16_t *' });
koffi.struct('WC_LAYER_DESCRIPTOR', { LayerId: GUID, Flags: 'uint32_t', Path: 'const char16_t *' });
const FILETIME = koffi.struct('LAYERS_FILETIME', { dwLowDateTime: 'uint32_t', dwHighDateTime: 'uint32_t' });
// minwinbase.h WIN32_FIND_DATAW: 592 bytes (FILETIMEs are two DWORDs, so no padding).
koffi.struct('LAYERS_WIN32_FIND_DATAW', {
  dwFileAttributes: 'uint32_t', ftCreationTime: FILETIME, ftLastAccessTime: FILETIME, ftLastWriteTime: FILETIME,
  nFileSizeHigh: 'uint32_t', nFileSizeLow: 'uint32_t', dwReserved0: 'uint32_t', dwReserved1: 'uint32_t',
  cFileName: koffi.array('char16_t', 260, 'String'), cAlternateFileName: koffi.array('char16_t', 14, 'String'),
});
koffi.struct('LAYERS_FILE_BASIC_INFO', { CreationTime: 'int64_t', LastAccessTime: 'int64_t', LastWriteTime: 'int64_t', ChangeTime: 'int64_t', FileAttributes: 'uint32_t' });
const LUID = koffi.struct('LAYERS_LUID', { LowPart: 'uint32_t', HighPart: 'int32_t' });
const LUID_AND_ATTRIBUTES = koffi.pack('LAYERS_LUID_AND_ATTRIBUTES', { Luid: LUID, Attributes: 'uint32_t' });
koffi.pack('LAYERS_TOKEN_PRIVILEGES3', { PrivilegeCount: 'uint32_t', Privileges: koffi.array(LUID_AND_ATTRIBUTES, 3) });

const VMCOMPUTE = {
  NameToGuid: 'int32_t __stdcall NameToGuid(const char16_t *name, _Out_ LAYERS_GUID *guid)',
  ProcessBaseImage: 'int32_t __stdcall ProcessBaseImage(const char16_t *path)',
  ProcessUtilityImage: 'int32_t __stdcall ProcessUtilityImage(const char16_t *path)',
  ImportLayer: 'int32_t __stdcall ImportLayer(LAYERS_DRIVER_INFO *info, const char16_t *id, const char16_t *path, WC_LAYER_DESCRIPTOR *parents, uint32_t count)',
  DestroyLayer: 'int32_t __stdcall DestroyLayer(LAYERS_DRIVER_INFO *info, const char16_t *id)',
  LayerExists: 'int32_t __stdcall LayerExists(LAYERS_DRIVER_INFO *info, const char16_t *id, _Out_ uint32_t *exists)',
} as const;
const KERNEL32 = {
  CreateFileW: 'intptr_t __stdcall CreateFileW(const char16_t *name, uint32_t access, uint32_t share, void *sa, uint32_t disposition, uint32_t flags, intptr_t templateFile)',
  CreateDirectoryW: 'int32_t __stdcall CreateDirectoryW(const char16_t *name, void *sa)',
  CreateHardLinkW: 'int32_t __stdcall CreateHardLinkW(const char16_t *newName, const char16_t *existing, void *sa)',
  SetFileInformationByHandle: 'int32_t __stdcall SetFileInformationByHandle(intptr_t file, int32_t infoClass, LAYERS_FILE_BASIC_INFO *info, uint32_t size)',
  BackupWrite: 'int32_t __stdcall BackupWrite(intptr_t file, const uint8_t *buffer, uint32_t bytes, _Out_ uint32_t *written, int32_t abort, int32_t processSecurity, _Inout_ void **context)',
  BackupRead: 'int32_t __stdcall BackupRead(intptr_t file, uint8_t *buffer, uint32_t bytes, _Out_ uint32_t *read, int32_t abort, int32_t processSecurity, _Inout_ void **context)',
  GetFileInformationByHandleEx: 'int32_t __stdcall GetFileInformationByHandleEx(intptr_t file, int32_t infoClass, _Out_ LAYERS_FILE_BASIC_INFO *info, uint32_t size)',
  FindFirstFileW: 'intptr_t __stdcall FindFirstFileW(const char16_t *pattern, _Out_ LAYERS_WIN32_FIND_DATAW *data)',
  FindNextFileW: 'int32_t __stdcall FindNextFileW(intptr_t find, _Out_ LAYERS_WIN32_FIND_DATAW *data)',
  FindClose: 'int32_t __stdcall FindClose(intptr_t find)',
  GetFileAttributesW: 'uint32_t __stdcall GetFileAttributesW(const char16_t *name)',
  DeleteFileW: 'int32_t __stdcall DeleteFileW(const char16_t *name)',
  RemoveDirectoryW: 'int32_t __stdcall RemoveDirectoryW(const char16_t *name)',
  CloseHandle: 'int32_t __stdcall CloseHandle(intptr_t handle)',
  GetLastError: 'uint32_t __stdcall GetLastError(void)',
  GetCurrentProcess: 'intptr_t __stdcall GetCurrentProcess(void)',
} as const;
const ADVAPI32 = {
  OpenProcessToken: 'int32_t __stdcall OpenProcessToken(intptr_t process, uint32_t access, _Out_ intptr_t *token)',
  LookupPrivilegeValueW: 'int32_t __stdcall LookupPrivilegeValueW(const char16_t *system, const char16_t *name, _Out_ LAYERS_LUID *luid)',
  AdjustTokenPrivileges: 'int32_t __stdcall AdjustTokenPrivileges(intptr_t token, int32_t disableAll, LAYERS_TOKEN_PRIVILEGES3 *state, uint32_t length, void *previous, void *returnLength)',
} as const;

type NativeFn = ReturnType<LibraryHandle['func']>;
type Fns<T> = { [K in keyof T]: NativeFn };
const declare = <T extends Record<string, string>>(lib: LibraryHandle, p: T): Fns<T> =>
  Object.fromEntries(Object.entries(p).map(([n, proto]) => [n, lib.func(proto)])) as Fns<T>;

/** Where the layer library comes from. */
export interface LayerLibraryOptions {
  /** vmcompute.dll on Windows; on Linux the emulator's libvmcompute.so (else env HCS_VMCOMPUTE_LIBRARY). */
  libraryPath?: string;
  /**
   * kernel32.dll on Windows; on Linux the emulator's libkernel32-emu.so (else env
   * HCS_KERNEL32_LIBRARY, else the one next to `libraryPath`), which also has the token calls
   * (advapi32.dll forwards them to kernelbase on Windows).
   */
  kernel32Path?: string;
}

const INVALID_HANDLE_VALUE = -1;
const INVALID_FILE_ATTRIBUTES = 0xffffffff;
const [ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, ERROR_NO_MORE_FILES] = [2, 3, 18];

/** A FindFirstFileW search handle (not a file HANDLE: FindClose closes it). */
export type FindHandle = number & { readonly __brand: 'FIND_HANDLE' };
type FindData = { dwFileAttributes: number; cFileName: string };
const findEntry = (d: FindData): FindEntry => ({ name: d.cFileName, attributes: d.dwFileAttributes >>> 0 });
const SE_PRIVILEGE_ENABLED = 2;
const TOKEN_ADJUST_PRIVILEGES = 0x20;
const TOKEN_QUERY = 0x8;
const FILTER_DRIVER = { Flavour: 1, HomeDir: '' }; // hcsshim's stdDriverInfo: id = the full layer path

function guidString(g: { Data1: number; Data2: number; Data3: number; Data4: number[] }): string {
  const h = (n: number, w: number) => n.toString(16).padStart(w, '0');
  const d4 = Array.from(g.Data4, (b) => h(b, 2)).join('');
  return `${h(g.Data1, 8)}-${h(g.Data2, 4)}-${h(g.Data3, 4)}-${d4.slice(0, 4)}-${d4.slice(4)}`;
}

function guidStruct(s: string): { Data1: number; Data2: number; Data3: number; Data4: number[] } {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(s);
  if (!m) throw new Error(`not a GUID: ${s}`);
  const d4 = (m[4]! + m[5]!).match(/../g)!.map((x) => parseInt(x, 16));
  return { Data1: parseInt(m[1]!, 16), Data2: parseInt(m[2]!, 16), Data3: parseInt(m[3]!, 16), Data4: d4 };
}

/** The loaded layer library (one wrapper per export). */
export class LayerNative {
  readonly libraryPath: string;
  private readonly v: Fns<typeof VMCOMPUTE>;
  private readonly k: Fns<typeof KERNEL32>;
  private readonly a: Fns<typeof ADVAPI32>;

  constructor(opts: LayerLibraryOptions = {}) {
    const path = opts.libraryPath ?? process.env.HCS_VMCOMPUTE_LIBRARY ?? (process.platform === 'win32' ? system32Path('vmcompute.dll') : undefined);
    if (!path) throw new Error('no layer library: pass libraryPath or set HCS_VMCOMPUTE_LIBRARY (on Linux, the emulator library emulatorLibraryPath("libvmcompute.so"))');
    this.libraryPath = path;
    const lib = koffi.load(path);
    this.v = declare(lib, VMCOMPUTE);
    if (process.platform === 'win32') {
      // By full path, never the search order (D22), like every Windows DLL here.
      this.k = declare(koffi.load(system32Path('kernel32.dll')), KERNEL32);
      this.a = declare(koffi.load(system32Path('advapi32.dll')), ADVAPI32);
    } else {
      const kernel32 = koffi.load(opts.kernel32Path ?? kernel32LibraryPath(path));
      this.k = declare(kernel32, KERNEL32);
      this.a = declare(kernel32, ADVAPI32);
    }
  }

  private check(op: string, target: string, hr: number): void {
    if (hr < 0) throw new LayerError(op, target, hr);
  }
  /** BOOL-returning kernel32/advapi32 call: throws with GetLastError() on FALSE. */
  private win(op: string, target: string, ok: number): void {
    if (ok === 0) throw new LayerError(op, target, fromWin32(this.k.GetLastError() as number));
  }

  // ---- vmcompute -----------------------------------------------------------------------------

  /** vmcompute!NameToGuid: the layer id HCS wants for a layer folder's base name (provisioning.md 0.3). */
  nameToGuid(name: string): string {
    const out = {} as { Data1: number; Data2: number; Data3: number; Data4: number[] };
    this.check('NameToGuid', name, this.v.NameToGuid(name, out) as number);
    return guidString(out);
  }
  /** vmcompute!ProcessBaseImage(<layer>): post-processes a base layer written under <layer>\Files. */
  processBaseImage(path: string): void {
    this.check('ProcessBaseImage', path, this.v.ProcessBaseImage(path) as number);
  }
  /** vmcompute!ProcessUtilityImage(<layer>\UtilityVM): post-processes a base layer's utility VM image written under UtilityVM\Files. */
  processUtilityImage(path: string): void {
    this.check('ProcessUtilityImage', path, this.v.ProcessUtilityImage(path) as number);
  }
  /** vmcompute!ImportLayer(info, dest, transportFolder, parents top-most first). */
  importLayer(path: string, source: string, parents: readonly LayerDescriptor[]): void {
    const descs = parents.map((p) => ({ LayerId: guidStruct(p.id), Flags: 0, Path: p.path }));
    this.check('ImportLayer', path, this.v.ImportLayer(FILTER_DRIVER, path, source, descs, descs.length) as number);
  }
  /** vmcompute!DestroyLayer: removes a layer folder. */
  destroyLayer(path: string): void {
    this.check('DestroyLayer', path, this.v.DestroyLayer(FILTER_DRIVER, path) as number);
  }
  /** vmcompute!LayerExists. */
  layerExists(path: string): boolean {
    const out: [number] = [0];
    this.check('LayerExists', path, this.v.LayerExists(FILTER_DRIVER, path, out) as number);
    return out[0] !== 0;
  }

  // ---- kernel32 ------------------------------------------------------------------------------

  /** CreateFileW; throws with GetLastError() on INVALID_HANDLE_VALUE. */
  createFile(path: string, access: number, share: number, disposition: number, flags: number): FileHandle {
    const h = Number(this.k.CreateFileW(path, access >>> 0, share, null, disposition, flags >>> 0, 0));
    if (h === INVALID_HANDLE_VALUE || h === 0) throw new LayerError('CreateFileW', path, fromWin32(this.k.GetLastError() as number));
    return h as FileHandle;
  }
  /** CreateDirectoryW. */
  createDirectory(path: string): void {
    this.win('CreateDirectoryW', path, this.k.CreateDirectoryW(path, null) as number);
  }
  /** CreateHardLinkW(newName, existing). */
  createHardLink(newName: string, existing: string): void {
    this.win('CreateHardLinkW', newName, this.k.CreateHardLinkW(newName, existing, null) as number);
  }
  /** SetFileInformationByHandle(FileBasicInfo). */
  setFileBasicInfo(h: FileHandle, info: FileBasicInfo, target: string): void {
    const s = { CreationTime: info.creationTime, LastAccessTime: info.lastAccessTime, LastWriteTime: info.lastWriteTime, ChangeTime: info.changeTime, FileAttributes: info.fileAttributes };
    this.win('SetFileInformationByHandle', target, this.k.SetFileInformationByHandle(h, 0, s, 40) as number);
  }
  /** BackupWrite of one chunk of a backup stream; `ctx` carries the context between calls. */
  backupWrite(h: FileHandle, chunk: Uint8Array, processSecurity: boolean, ctx: BackupContext, target: string): void {
    const written: [number] = [0];
    const box: [unknown] = [ctx.value ?? null];
    this.win('BackupWrite', target, this.k.BackupWrite(h, chunk, chunk.length, written, 0, processSecurity ? 1 : 0, box) as number);
    ctx.value = box[0];
    if (written[0] !== chunk.length) throw new LayerError('BackupWrite', target, fromWin32(29));
  }
  /**
   * The same BackupWrite on a libuv pool thread (koffi's async call), so that parsing the next
   * chunk overlaps this write (the image bench). `chunk` must not change until it resolves.
   */
  backupWriteAsync(h: FileHandle, chunk: Uint8Array, processSecurity: boolean, ctx: BackupContext, target: string): Promise<void> {
    const written: [number] = [0];
    const box: [unknown] = [ctx.value ?? null];
    return new Promise((resolve, reject) => {
      this.k.BackupWrite.async(h, chunk, chunk.length, written, 0, processSecurity ? 1 : 0, box, (err: unknown, ok: number) => {
        if (err) return reject(err);
        ctx.value = box[0];
        // GetLastError is per thread and the call ran on a pool thread: its code is not readable
        // here. The writers send only file data this way (no records to parse), so a failure is
        // the file system's: reported as ERROR_WRITE_FAULT.
        if (ok === 0 || written[0] !== chunk.length) return reject(new LayerError('BackupWrite', target, fromWin32(29)));
        resolve();
      });
    });
  }
  /** The closing BackupWrite(bAbort = TRUE) that frees the context (go-winio BackupFileWriter.Close). */
  backupWriteEnd(h: FileHandle, processSecurity: boolean, ctx: BackupContext, target: string): void {
    if (ctx.value === undefined || ctx.value === null) return;
    const box: [unknown] = [ctx.value];
    const written: [number] = [0];
    const ok = this.k.BackupWrite(h, null, 0, written, 1, processSecurity ? 1 : 0, box) as number;
    ctx.value = null;
    this.win('BackupWrite', target, ok);
  }
  /**
   * BackupRead of the next piece of `h`'s backup stream into `buf`; 0 at its end. `ctx` carries the
   * context between calls (go-winio BackupFileReader.Read).
   */
  backupRead(h: FileHandle, buf: Uint8Array, processSecurity: boolean, ctx: BackupContext, target: string): number {
    const read: [number] = [0];
    const box: [unknown] = [ctx.value ?? null];
    this.win('BackupRead', target, this.k.BackupRead(h, buf, buf.length, read, 0, processSecurity ? 1 : 0, box) as number);
    ctx.value = box[0];
    return read[0];
  }
  /** The closing BackupRead(bAbort = TRUE) that frees the context (go-winio BackupFileReader.Close). */
  backupReadEnd(h: FileHandle, processSecurity: boolean, ctx: BackupContext, target: string): void {
    if (ctx.value === undefined || ctx.value === null) return;
    const box: [unknown] = [ctx.value];
    const read: [number] = [0];
    const ok = this.k.BackupRead(h, null, 0, read, 1, processSecurity ? 1 : 0, box) as number;
    ctx.value = null;
    this.win('BackupRead', target, ok);
  }
  /** GetFileInformationByHandleEx(FileBasicInfo) (go-winio GetFileBasicInfo). */
  getFileBasicInfo(h: FileHandle, target: string): FileBasicInfo {
    const s = {} as { CreationTime: bigint; LastAccessTime: bigint; LastWriteTime: bigint; ChangeTime: bigint; FileAttributes: number };
    this.win('GetFileInformationByHandleEx', target, this.k.GetFileInformationByHandleEx(h, 0, s, 40) as number);
    const t = (v: bigint | number) => BigInt(v);
    return { creationTime: t(s.CreationTime), lastAccessTime: t(s.LastAccessTime), lastWriteTime: t(s.LastWriteTime), changeTime: t(s.ChangeTime), fileAttributes: s.FileAttributes >>> 0 };
  }
  /** FindFirstFileW(`<dir>\*`): the find handle and the first entry; undefined when nothing matches (ERROR_FILE_NOT_FOUND, as documented). */
  findFirstFile(pattern: string): { handle: FindHandle; entry: FindEntry } | undefined {
    const data = {} as FindData;
    const h = Number(this.k.FindFirstFileW(pattern, data));
    if (h !== INVALID_HANDLE_VALUE) return { handle: h as FindHandle, entry: findEntry(data) };
    const err = this.k.GetLastError() as number;
    if (err === ERROR_FILE_NOT_FOUND) return undefined;
    throw new LayerError('FindFirstFileW', pattern, fromWin32(err));
  }
  /** FindNextFileW: the next entry; undefined at the end (ERROR_NO_MORE_FILES). */
  findNextFile(h: FindHandle, target: string): FindEntry | undefined {
    const data = {} as FindData;
    if ((this.k.FindNextFileW(h, data) as number) !== 0) return findEntry(data);
    const err = this.k.GetLastError() as number;
    if (err === ERROR_NO_MORE_FILES) return undefined;
    throw new LayerError('FindNextFileW', target, fromWin32(err));
  }
  /** FindClose. */
  findClose(h: FindHandle, target: string): void {
    this.win('FindClose', target, this.k.FindClose(h) as number);
  }
  /** GetFileAttributesW (a reparse point's own attributes); undefined when there is nothing at `path` (ERROR_FILE_NOT_FOUND / ERROR_PATH_NOT_FOUND). */
  fileAttributes(path: string): number | undefined {
    const a = (this.k.GetFileAttributesW(path) as number) >>> 0;
    if (a !== INVALID_FILE_ATTRIBUTES) return a;
    const err = this.k.GetLastError() as number;
    if (err === ERROR_FILE_NOT_FOUND || err === ERROR_PATH_NOT_FOUND) return undefined;
    throw new LayerError('GetFileAttributesW', path, fromWin32(err));
  }
  /** DeleteFileW (a file, or a file reparse point). */
  deleteFile(path: string): void {
    this.win('DeleteFileW', path, this.k.DeleteFileW(path) as number);
  }
  /** RemoveDirectoryW (an empty directory, or a directory reparse point). */
  removeDirectory(path: string): void {
    this.win('RemoveDirectoryW', path, this.k.RemoveDirectoryW(path) as number);
  }
  /** CloseHandle. */
  closeHandle(h: FileHandle, target: string): void {
    this.win('CloseHandle', target, this.k.CloseHandle(h) as number);
  }

  // ---- advapi32 ------------------------------------------------------------------------------

  /**
   * Enables SeBackupPrivilege, SeRestorePrivilege and SeSecurityPrivilege on the process token
   * (go-winio EnableProcessPrivileges; containerd enables them before applying a Windows layer).
   * AdjustTokenPrivileges succeeds with ERROR_NOT_ALL_ASSIGNED when the token lacks one: that is an error.
   */
  enableBackupPrivileges(): void {
    const token: [number] = [0];
    this.win('OpenProcessToken', 'current process', this.a.OpenProcessToken(this.k.GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, token) as number);
    try {
      const privileges = ['SeBackupPrivilege', 'SeRestorePrivilege', 'SeSecurityPrivilege'].map((name) => {
        const luid = {} as { LowPart: number; HighPart: number };
        this.win('LookupPrivilegeValueW', name, this.a.LookupPrivilegeValueW(null, name, luid) as number);
        return { Luid: luid, Attributes: SE_PRIVILEGE_ENABLED };
      });
      const ok = this.a.AdjustTokenPrivileges(token[0], 0, { PrivilegeCount: 3, Privileges: privileges }, 0, null, null) as number;
      const err = this.k.GetLastError() as number;
      if (ok === 0 || err !== 0) throw new LayerError('AdjustTokenPrivileges', 'SeBackupPrivilege SeRestorePrivilege SeSecurityPrivilege', fromWin32(ok === 0 ? err : err || 1300));
    } finally {
      this.k.CloseHandle(token[0]);
    }
  }
}
