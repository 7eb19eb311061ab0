/**
 * advapi32.dll file security through koffi (Windows only): the owner and DACL of a file or folder,
 * for `run --strict-folder` (src/cli/folder-check.ts decides with src/cli/dacl.ts). Replaces the
 * earlier `icacls` call: the project does not shell out, and icacls printed localised names.
 *
 * One wrapper per export, mechanical. Native memory is freed in one place, {@link Advapi32.localFree}:
 * the security descriptor of GetNamedSecurityInfoW and the strings of ConvertSidToStringSidW are
 * LocalAlloc'ed ([MSDOCS] GetNamedSecurityInfoW: "free the returned buffer by calling the LocalFree
 * function"; ConvertSidToStringSidW: "call the LocalFree function to free the returned buffer").
 * The owner SID and DACL pointers point into that descriptor, so they are read before it is freed.
 *
 * Layouts ([MSDOCS] winnt.h): ACE_HEADER { BYTE AceType; BYTE AceFlags; WORD AceSize }; an
 * ACCESS_ALLOWED_ACE / ACCESS_DENIED_ACE (and their _CALLBACK_ forms) is the header, then
 * ACCESS_MASK Mask at offset 4, then the SID at offset 8 (SidStart). ACL_SIZE_INFORMATION
 * { DWORD AceCount; DWORD AclBytesInUse; DWORD AclBytesFree } for AclSizeInformation (2).
 * Every call is synchronous and local (no service round trip), so none goes to the pool.
 *
 * UNVERIFIED on Windows: written from the documentation; the gated test/windows/security.test.ts
 * runs it against real files.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { system32Path } from './ffi.ts';

/** SE_OBJECT_TYPE SE_FILE_OBJECT. */
const SE_FILE_OBJECT = 1;
/** SECURITY_INFORMATION bits. */
export const SECURITY_INFORMATION = { owner: 0x1, group: 0x2, dacl: 0x4, protectedDacl: 0x80000000 } as const;
/** ACL_INFORMATION_CLASS AclSizeInformation. */
const ACL_SIZE_INFORMATION_CLASS = 2;
/** SDDL_REVISION_1. */
const SDDL_REVISION_1 = 1;
/** TOKEN_QUERY access right and TOKEN_INFORMATION_CLASS TokenUser. */
const TOKEN_QUERY = 0x8;
const TOKEN_USER_CLASS = 1;
/** ACE types whose SID starts at offset 8 (ACCESS_ALLOWED/DENIED and their callback forms). */
const SID_AT_8 = new Set([0x0, 0x1, 0x9, 0xa]);

const ACL_SIZE_INFORMATION = koffi.struct('ACL_SIZE_INFORMATION', { AceCount: 'uint32_t', AclBytesInUse: 'uint32_t', AclBytesFree: 'uint32_t' });
const ACE_HEADER = koffi.struct('ACE_HEADER', { AceType: 'uint8_t', AceFlags: 'uint8_t', AceSize: 'uint16_t' });

const ADVAPI32 = {
  GetNamedSecurityInfoW:
    'uint32_t __stdcall GetNamedSecurityInfoW(const char16_t *name, int objectType, uint32_t info, _Out_ void **owner, _Out_ void **group, _Out_ void **dacl, _Out_ void **sacl, _Out_ void **descriptor)',
  SetNamedSecurityInfoW:
    'uint32_t __stdcall SetNamedSecurityInfoW(const char16_t *name, int objectType, uint32_t info, void *owner, void *group, void *dacl, void *sacl)',
  GetAclInformation: 'int __stdcall GetAclInformation(void *acl, _Out_ ACL_SIZE_INFORMATION *info, uint32_t length, int infoClass)',
  GetAce: 'int __stdcall GetAce(void *acl, uint32_t index, _Out_ void **ace)',
  ConvertSidToStringSidW: 'int __stdcall ConvertSidToStringSidW(void *sid, _Out_ void **text)',
  ConvertStringSecurityDescriptorToSecurityDescriptorW:
    'int __stdcall ConvertStringSecurityDescriptorToSecurityDescriptorW(const char16_t *sddl, uint32_t revision, _Out_ void **descriptor, _Out_ uint32_t *size)',
  GetSecurityDescriptorDacl: 'int __stdcall GetSecurityDescriptorDacl(void *descriptor, _Out_ int *present, _Out_ void **dacl, _Out_ int *defaulted)',
  OpenProcessToken: 'int __stdcall OpenProcessToken(void *process, uint32_t access, _Out_ void **token)',
  GetTokenInformation: 'int __stdcall GetTokenInformation(void *token, int infoClass, void *info, uint32_t length, _Out_ uint32_t *returned)',
} as const;

const KERNEL32 = {
  LocalFree: 'void * __stdcall LocalFree(void *mem)',
  GetLastError: 'uint32_t __stdcall GetLastError(void)',
  GetCurrentProcess: 'void * __stdcall GetCurrentProcess(void)',
  CloseHandle: 'int __stdcall CloseHandle(void *handle)',
} as const;

const WIN32_ERRORS: Record<number, string> = {
  2: 'ERROR_FILE_NOT_FOUND',
  3: 'ERROR_PATH_NOT_FOUND',
  5: 'ERROR_ACCESS_DENIED',
  87: 'ERROR_INVALID_PARAMETER',
  122: 'ERROR_INSUFFICIENT_BUFFER',
  1336: 'ERROR_INVALID_ACL',
  1337: 'ERROR_INVALID_SID',
  1338: 'ERROR_INVALID_SECURITY_DESCR',
};

/** A failed advapi32 call: `GetNamedSecurityInfoW C:\m\web.yaml: ERROR_ACCESS_DENIED (5)`. */
export class Win32Error extends Error {
  constructor(
    readonly op: string,
    readonly target: string,
    readonly code: number,
  ) {
    super(`${op} ${target}: ${WIN32_ERRORS[code] ?? 'error'} (${code})`);
  }
}

/** The object (or a path above it) does not exist. */
export function isFileNotFound(err: unknown): boolean {
  return err instanceof Win32Error && (err.code === 2 || err.code === 3);
}

/** One ACE: AceType, AceFlags, Mask, and the trustee SID as a string (src/cli/dacl.ts `Ace`). */
export interface FileAce {
  type: number;
  flags: number;
  mask: number;
  sid: string;
}

/** Owner and DACL of a file or folder; `dacl: null` is a NULL DACL (everyone has full access). */
export interface FileSecurity {
  ownerSid: string | undefined;
  dacl: FileAce[] | null;
}

type NativeFn = ReturnType<LibraryHandle['func']>;
type Fns<T> = { [K in keyof T]: NativeFn };

function declare<T extends Record<string, string>>(lib: LibraryHandle, protos: T): Fns<T> {
  return Object.fromEntries(Object.entries(protos).map(([name, proto]) => [name, lib.func(proto)])) as Fns<T>;
}

/** advapi32 + the kernel32 exports it needs: one wrapper per export. */
export class Advapi32 {
  private readonly a: Fns<typeof ADVAPI32>;
  private readonly k: Fns<typeof KERNEL32>;

  constructor() {
    this.a = declare(koffi.load(system32Path('advapi32.dll')), ADVAPI32);
    this.k = declare(koffi.load(system32Path('kernel32.dll')), KERNEL32);
  }

  // ---- the one chokepoint that frees native memory -------------------------------------------

  /** Frees memory advapi32 LocalAlloc'ed (security descriptors, SID strings). */
  localFree(ptr: bigint | null): void {
    if (ptr !== null && ptr !== 0n) this.k.LocalFree(ptr);
  }

  lastError(): number {
    return this.k.GetLastError() as number;
  }

  // ---- wrappers ------------------------------------------------------------------------------

  /** Owner SID and DACL pointers into the returned descriptor, which the caller frees with localFree. */
  getNamedSecurityInfo(path: string, info: number): { code: number; owner: bigint | null; dacl: bigint | null; descriptor: bigint | null } {
    const owner: [bigint | null] = [null];
    const dacl: [bigint | null] = [null];
    const descriptor: [bigint | null] = [null];
    const code = this.a.GetNamedSecurityInfoW(path, SE_FILE_OBJECT, info, owner, null, dacl, null, descriptor) as number;
    return { code, owner: owner[0], dacl: dacl[0], descriptor: descriptor[0] };
  }

  setNamedSecurityInfo(path: string, info: number, dacl: bigint | null): number {
    return this.a.SetNamedSecurityInfoW(path, SE_FILE_OBJECT, info, null, null, dacl, null) as number;
  }

  aceCount(acl: bigint): number | undefined {
    const out: Record<string, number> = {};
    const ok = this.a.GetAclInformation(acl, out, koffi.sizeof(ACL_SIZE_INFORMATION), ACL_SIZE_INFORMATION_CLASS) as number;
    return ok ? out.AceCount : undefined;
  }

  getAce(acl: bigint, index: number): bigint | undefined {
    const out: [bigint | null] = [null];
    return (this.a.GetAce(acl, index, out) as number) && out[0] ? out[0] : undefined;
  }

  /** `S-1-5-32-545`; the native string is freed here (through localFree). */
  sidToString(sid: bigint): string | undefined {
    const out: [bigint | null] = [null];
    if (!(this.a.ConvertSidToStringSidW(sid, out) as number) || !out[0]) return undefined;
    try {
      return koffi.decode(out[0], 'char16_t', -1) as string;
    } finally {
      this.localFree(out[0]);
    }
  }

  /** A self-relative descriptor from SDDL text; the caller frees it with localFree. */
  descriptorFromSddl(sddl: string): bigint | undefined {
    const out: [bigint | null] = [null];
    const size: [number] = [0];
    return (this.a.ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, out, size) as number) && out[0] ? out[0] : undefined;
  }

  /** The DACL pointer inside `descriptor` (null when it has none or a NULL DACL). */
  descriptorDacl(descriptor: bigint): bigint | null | undefined {
    const present: [number] = [0];
    const dacl: [bigint | null] = [null];
    const defaulted: [number] = [0];
    if (!(this.a.GetSecurityDescriptorDacl(descriptor, present, dacl, defaulted) as number)) return undefined;
    return present[0] ? dacl[0] : null;
  }

  /** The user SID of this process's token (TokenUser), or undefined. */
  processUserSid(): string | undefined {
    const token: [bigint | null] = [null];
    if (!(this.a.OpenProcessToken(this.k.GetCurrentProcess(), TOKEN_QUERY, token) as number) || !token[0]) return undefined;
    try {
      // TOKEN_USER { SID_AND_ATTRIBUTES User { PSID Sid; DWORD Attributes } } and the SID after it.
      // koffi passes a Buffer's own memory (koffi.dev/output), so the Sid pointer stays valid with buf.
      const buf = Buffer.alloc(256);
      const returned: [number] = [0];
      if (!(this.a.GetTokenInformation(token[0], TOKEN_USER_CLASS, buf, buf.length, returned) as number)) return undefined;
      return this.sidToString(buf.readBigUInt64LE(0));
    } finally {
      this.k.CloseHandle(token[0]);
    }
  }
}

let loaded: Advapi32 | undefined;
function advapi32(): Advapi32 {
  if (process.platform !== 'win32') throw new Error('file security: advapi32.dll exists only on Windows');
  loaded ??= new Advapi32();
  return loaded;
}

/** The ACEs of the ACL at `acl`, in order (the pointer stays owned by its descriptor). */
export function readAcl(api: Pick<Advapi32, 'aceCount' | 'getAce' | 'sidToString' | 'lastError'>, acl: bigint, target: string): FileAce[] {
  const count = api.aceCount(acl);
  if (count === undefined) throw new Win32Error('GetAclInformation', target, api.lastError());
  const aces: FileAce[] = [];
  for (let i = 0; i < count; i++) {
    const ace = api.getAce(acl, i);
    if (ace === undefined) throw new Win32Error('GetAce', target, api.lastError());
    const header = koffi.decode(ace, ACE_HEADER) as { AceType: number; AceFlags: number };
    // Other ACE types (object ACEs, audit, labels) do not occur in a file DACL's grants; the
    // checker ignores them, so their SID (at another offset) is not read.
    if (!SID_AT_8.has(header.AceType)) continue;
    const mask = (koffi.decode(ace, 4, 'uint32_t') as number) >>> 0;
    const sid = api.sidToString(ace + 8n);
    if (sid === undefined) throw new Win32Error('ConvertSidToStringSidW', target, api.lastError());
    aces.push({ type: header.AceType, flags: header.AceFlags, mask, sid });
  }
  return aces;
}

/**
 * Owner SID and DACL of a file or folder (GetNamedSecurityInfoW with OWNER and DACL information).
 * Throws {@link Win32Error}; {@link isFileNotFound} tells a vanished path.
 */
export function readFileSecurity(path: string, api: Advapi32 = advapi32()): FileSecurity {
  const r = api.getNamedSecurityInfo(path, SECURITY_INFORMATION.owner | SECURITY_INFORMATION.dacl);
  if (r.code !== 0) throw new Win32Error('GetNamedSecurityInfoW', path, r.code);
  try {
    const ownerSid = r.owner ? api.sidToString(r.owner) : undefined;
    return { ownerSid, dacl: r.dacl ? readAcl(api, r.dacl, path) : null };
  } finally {
    api.localFree(r.descriptor);
  }
}

/**
 * Replaces the DACL of `path` with the one in `sddl` (e.g. `D:P(A;;FA;;;SY)(A;;FR;;;BU)`),
 * protected from inheritance when the SDDL says `P`. For tests and tools; the controller only reads.
 */
export function writeFileDacl(path: string, sddl: string, api: Advapi32 = advapi32()): void {
  const descriptor = api.descriptorFromSddl(sddl);
  if (descriptor === undefined) throw new Win32Error('ConvertStringSecurityDescriptorToSecurityDescriptorW', sddl, api.lastError());
  try {
    const dacl = api.descriptorDacl(descriptor);
    if (dacl === undefined) throw new Win32Error('GetSecurityDescriptorDacl', sddl, api.lastError());
    const info = SECURITY_INFORMATION.dacl | (sddl.startsWith('D:P') ? SECURITY_INFORMATION.protectedDacl : 0);
    const code = api.setNamedSecurityInfo(path, info >>> 0, dacl);
    if (code !== 0) throw new Win32Error('SetNamedSecurityInfoW', path, code);
  } finally {
    api.localFree(descriptor);
  }
}

/** The SID of the user this process runs as (trusted like the controller's uid on POSIX). */
export function processUserSid(api: Advapi32 = advapi32()): string | undefined {
  return api.processUserSid();
}
