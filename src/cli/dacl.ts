/**
 * Who, besides the administrators, can change a file or folder? A pure reading of a parsed
 * security descriptor (owner SID + DACL as a list of ACEs), so the rules are unit-tested anywhere;
 * src/hcs/security.ts reads the real descriptor on Windows (GetNamedSecurityInfoW).
 *
 * The rules, each from Microsoft's documentation:
 * - [DACLS] "DACLs and ACEs" / "Null DACLs and Empty DACLs": no DACL (a NULL DACL) gives everyone
 *   full access; an empty DACL gives nobody any.
 * - [HOW] "How DACLs Control Access to an Object": the system reads the ACEs in order until every
 *   requested right is granted or one of them is denied; a trustee not named gets nothing. So for
 *   one right the FIRST ACE naming it for the trustee decides: a deny ACE only protects when it
 *   comes before the allow ACE ([ORDER] "Order of ACEs in a DACL" is only the preferred order; a
 *   DACL written by a tool may have any order, and we read it as the system does).
 * - [ACE_HEADER] "ACE_HEADER structure": INHERIT_ONLY_ACE (0x08) "does not control access to the
 *   object to which it is attached"; OBJECT_INHERIT_ACE (0x01) / CONTAINER_INHERIT_ACE (0x02) make
 *   files / sub-folders created later inherit it ([INHERIT] "ACE Inheritance Rules").
 * - [MASK] "ACCESS_MASK" and [FILE] "File Security and Access Rights" / "File Access Rights
 *   Constants": FILE_WRITE_DATA / FILE_ADD_FILE 0x2, FILE_APPEND_DATA / FILE_ADD_SUBDIRECTORY 0x4,
 *   FILE_DELETE_CHILD 0x40 (folders), DELETE 0x10000, WRITE_DAC 0x40000, WRITE_OWNER 0x80000;
 *   GENERIC_WRITE 0x40000000 maps to FILE_GENERIC_WRITE, GENERIC_ALL 0x10000000 to FILE_ALL_ACCESS.
 * - [OWNER] "Owners have special access to their objects" (KB130543) and "OwnerRights"
 *   (Security Identifiers new for Windows Vista): the owner always gets READ_CONTROL and WRITE_DAC
 *   (it can rewrite the DACL) unless the DACL has an ACE for OWNER RIGHTS (S-1-3-4).
 * - [SIDS] "Well-known SIDs" / "Security identifiers": SYSTEM S-1-5-18, Administrators
 *   S-1-5-32-544, TrustedInstaller S-1-5-80-956008885-..., CREATOR OWNER S-1-3-0 (a placeholder,
 *   replaced by the creator's SID when inherited: whoever may create a file there is already
 *   checked through FILE_ADD_FILE).
 *
 * Comparing SIDs, not names, works on a localised Windows too (icacls printed localised names).
 * Where the DACL alone cannot tell (is this user in that group?), the verdict errs towards
 * "writable": a deny ACE protects only its own SID or Everyone, and a conditional (callback) deny
 * ACE protects nobody, since its condition may be false.
 */

/** ACE types of [ACE_HEADER] that this module reads; every other type grants nothing in a file DACL. */
export const ACE_TYPE = { allowed: 0x0, denied: 0x1, allowedCallback: 0x9, deniedCallback: 0xa } as const;
/** ACE flags of [ACE_HEADER]. */
export const ACE_FLAG = { objectInherit: 0x1, containerInherit: 0x2, noPropagate: 0x4, inheritOnly: 0x8, inherited: 0x10 } as const;

/** Access rights of [MASK] and [FILE] that the check names. */
export const RIGHT = {
  FILE_WRITE_DATA: 0x2,
  FILE_APPEND_DATA: 0x4,
  FILE_WRITE_EA: 0x10,
  FILE_DELETE_CHILD: 0x40,
  FILE_WRITE_ATTRIBUTES: 0x100,
  DELETE: 0x10000,
  READ_CONTROL: 0x20000,
  WRITE_DAC: 0x40000,
  WRITE_OWNER: 0x80000,
  SYNCHRONIZE: 0x100000,
  GENERIC_ALL: 0x10000000,
  GENERIC_EXECUTE: 0x20000000,
  GENERIC_WRITE: 0x40000000,
  GENERIC_READ: 0x80000000,
} as const;

/** FILE_ALL_ACCESS = STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1FF ([FILE]). */
const FILE_ALL_ACCESS = 0x1f01ff;
/** FILE_GENERIC_WRITE = STANDARD_RIGHTS_WRITE | FILE_WRITE_DATA | FILE_WRITE_ATTRIBUTES | FILE_WRITE_EA | FILE_APPEND_DATA | SYNCHRONIZE ([FILE]). */
const FILE_GENERIC_WRITE = 0x120116;
/** FILE_GENERIC_READ and FILE_GENERIC_EXECUTE ([FILE]): no write right in either. */
const FILE_GENERIC_READ = 0x120089;
const FILE_GENERIC_EXECUTE = 0x1200a0;

/** Well-known SIDs ([SIDS]). */
export const SID = {
  everyone: 'S-1-1-0',
  creatorOwner: 'S-1-3-0',
  creatorGroup: 'S-1-3-1',
  ownerRights: 'S-1-3-4',
  authenticatedUsers: 'S-1-5-11',
  system: 'S-1-5-18',
  administrators: 'S-1-5-32-544',
  users: 'S-1-5-32-545',
  trustedInstaller: 'S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464',
} as const;

const SID_NAMES: Record<string, string> = {
  'S-1-1-0': 'Everyone',
  'S-1-2-0': 'LOCAL',
  'S-1-3-0': 'CREATOR OWNER',
  'S-1-3-1': 'CREATOR GROUP',
  'S-1-3-4': 'OWNER RIGHTS',
  'S-1-5-2': 'NETWORK',
  'S-1-5-4': 'INTERACTIVE',
  'S-1-5-6': 'SERVICE',
  'S-1-5-7': 'ANONYMOUS LOGON',
  'S-1-5-11': 'Authenticated Users',
  'S-1-5-18': 'SYSTEM',
  'S-1-5-19': 'LOCAL SERVICE',
  'S-1-5-20': 'NETWORK SERVICE',
  'S-1-5-32-544': 'Administrators',
  'S-1-5-32-545': 'Users',
  'S-1-5-32-546': 'Guests',
  'S-1-5-32-547': 'Power Users',
  'S-1-5-32-551': 'Backup Operators',
  'S-1-15-2-1': 'ALL APPLICATION PACKAGES',
  'S-1-15-2-2': 'ALL RESTRICTED APPLICATION PACKAGES',
  [SID.trustedInstaller]: 'TrustedInstaller',
};

/** One ACE as read from a DACL: AceType, AceFlags, Mask and the trustee SID in string form. */
export interface Ace {
  type: number;
  flags: number;
  mask: number;
  sid: string;
}

/** What the check needs from an object's security descriptor. `dacl: null` is a NULL DACL. */
export interface SecurityInfo {
  ownerSid: string | undefined;
  dacl: Ace[] | null;
}

/**
 * What the entry is to the controller, which decides the rights that count:
 * - `file`: a manifest or the policy file; its bytes decide what runs (write, append, delete it,
 *   or rewrite its DACL or owner).
 * - `folder`: a folder the controller reads; adding, deleting or replacing an entry in it changes
 *   what runs (add file, add sub-folder, delete child), and so do its inheritable ACEs (files
 *   created in it later inherit them).
 * - `parent`: a folder above one of those; only rights that can swap what is below it count
 *   (delete child, delete it, rewrite its DACL or owner), as a sticky /tmp is fine on POSIX.
 */
export type EntryKind = 'file' | 'folder' | 'parent';

const WRITE_RIGHTS: Record<EntryKind, number> = {
  file: RIGHT.FILE_WRITE_DATA | RIGHT.FILE_APPEND_DATA | RIGHT.DELETE | RIGHT.WRITE_DAC | RIGHT.WRITE_OWNER,
  folder: RIGHT.FILE_WRITE_DATA | RIGHT.FILE_APPEND_DATA | RIGHT.FILE_DELETE_CHILD | RIGHT.DELETE | RIGHT.WRITE_DAC | RIGHT.WRITE_OWNER,
  parent: RIGHT.FILE_DELETE_CHILD | RIGHT.DELETE | RIGHT.WRITE_DAC | RIGHT.WRITE_OWNER,
};

/** Maps the generic bits of a mask to the file-specific rights they stand for ([MASK], [FILE]). */
export function mapGenericFileRights(mask: number): number {
  let m = mask & 0x0fffffff;
  if (mask & RIGHT.GENERIC_ALL) m |= FILE_ALL_ACCESS;
  if (mask & RIGHT.GENERIC_WRITE) m |= FILE_GENERIC_WRITE;
  if (mask & RIGHT.GENERIC_READ) m |= FILE_GENERIC_READ;
  if (mask & RIGHT.GENERIC_EXECUTE) m |= FILE_GENERIC_EXECUTE;
  return m >>> 0;
}

/** Names of the write-like rights in `mask`, as the Windows docs spell them for a file or a folder. */
export function rightNames(mask: number, kind: EntryKind): string[] {
  const isFile = kind === 'file';
  const names: Array<[number, string]> = [
    [RIGHT.FILE_WRITE_DATA, isFile ? 'FILE_WRITE_DATA' : 'FILE_ADD_FILE'],
    [RIGHT.FILE_APPEND_DATA, isFile ? 'FILE_APPEND_DATA' : 'FILE_ADD_SUBDIRECTORY'],
    [RIGHT.FILE_DELETE_CHILD, 'FILE_DELETE_CHILD'],
    [RIGHT.DELETE, 'DELETE'],
    [RIGHT.WRITE_DAC, 'WRITE_DAC'],
    [RIGHT.WRITE_OWNER, 'WRITE_OWNER'],
  ];
  return names.filter(([bit]) => mask & bit).map(([, name]) => name);
}

/** `Users (S-1-5-32-545)`, or the bare SID when it is not a well-known one. */
export function describeSid(sid: string): string {
  const name = SID_NAMES[sid];
  return name ? `${name} (${sid})` : sid;
}

/** Principals trusted with write access: SYSTEM, Administrators, TrustedInstaller, the controller's own user. */
function isTrustedSid(sid: string, selfSid: string | undefined): boolean {
  return sid === SID.system || sid === SID.administrators || sid === SID.trustedInstaller || (selfSid !== undefined && sid === selfSid);
}

function isAllow(ace: Ace): boolean {
  return ace.type === ACE_TYPE.allowed || ace.type === ACE_TYPE.allowedCallback;
}

/**
 * The rights among `wanted` that `trustee` gets from `aces` (already filtered to those that apply):
 * per right, the first ACE that names it for the trustee decides ([HOW]). A deny ACE for
 * Everyone applies to every trustee; a conditional deny is not relied on.
 */
function grantedRights(aces: Ace[], trustee: string, wanted: number): number {
  let granted = 0;
  let decided = 0;
  for (const ace of aces) {
    const applies = ace.sid === trustee || (ace.type === ACE_TYPE.denied && ace.sid === SID.everyone);
    if (!applies) continue;
    const rights = mapGenericFileRights(ace.mask) & wanted & ~decided;
    if (rights === 0) continue;
    if (isAllow(ace)) granted |= rights;
    if (isAllow(ace) || ace.type === ACE_TYPE.denied) decided |= rights;
  }
  return granted >>> 0;
}

/** Untrusted trustees that `aces` give any of `wanted`, with the rights each gets. */
function untrustedWriters(aces: Ace[], wanted: number, trust: (sid: string) => boolean): Array<{ sid: string; rights: number }> {
  const trustees = [...new Set(aces.filter((a) => isAllow(a) && !trust(a.sid)).map((a) => a.sid))];
  return trustees.map((sid) => ({ sid, rights: grantedRights(aces, sid, wanted) })).filter((w) => w.rights !== 0);
}

/** Options of {@link daclProblems}. */
export interface DaclCheckOptions {
  /** The controller's own user SID (trusted, like the controller's uid on POSIX). */
  selfSid?: string;
}

/**
 * The reasons, if any, why principals other than SYSTEM, Administrators, TrustedInstaller and the
 * controller's own user can change `info`'s object in a way that matters for `kind`. Each reason
 * is a phrase that follows the entry's description, e.g. "is writable by Users (S-1-5-32-545):
 * FILE_ADD_FILE". Empty when the object is safe.
 */
export function daclProblems(info: SecurityInfo, kind: EntryKind, opts: DaclCheckOptions = {}): string[] {
  if (info.dacl === null) return ['has no DACL (a NULL DACL gives everyone full access)'];
  const owner = info.ownerSid;
  const ownerTrusted = owner !== undefined && isTrustedSid(owner, opts.selfSid);
  // OWNER RIGHTS stands for the owner ([OWNER]); CREATOR OWNER grants nothing on the object itself.
  const trust = (sid: string) => isTrustedSid(sid, opts.selfSid) || sid === SID.creatorOwner || (sid === SID.ownerRights && ownerTrusted);
  const problems: string[] = [];
  const hasOwnerRightsAce = info.dacl.some((a) => a.sid === SID.ownerRights);
  if (!ownerTrusted && !hasOwnerRightsAce) {
    problems.push(owner === undefined ? 'has no owner SID that could be read' : `is owned by ${describeSid(owner)}, who can change its permissions`);
  }
  const wanted = WRITE_RIGHTS[kind];
  const effective = info.dacl.filter((a) => (a.flags & ACE_FLAG.inheritOnly) === 0);
  for (const w of untrustedWriters(effective, wanted, trust)) {
    problems.push(`is writable by ${describeSid(w.sid)}: ${rightNames(w.rights, kind).join(', ')}`);
  }
  if (kind === 'folder') problems.push(...inheritableProblems(info.dacl, trust));
  return problems;
}

/**
 * A folder's inheritable ACEs ([INHERIT]): files (OBJECT_INHERIT) and sub-folders
 * (CONTAINER_INHERIT) created in it later get them as effective ACEs, so an untrusted write grant
 * there makes the next manifest written into the folder (by git-sync, say) writable by others.
 */
function inheritableProblems(dacl: Ace[], trust: (sid: string) => boolean): string[] {
  const problems: string[] = [];
  const toFiles = dacl.filter((a) => a.flags & ACE_FLAG.objectInherit);
  const toFolders = dacl.filter((a) => a.flags & ACE_FLAG.containerInherit);
  for (const w of untrustedWriters(toFiles, WRITE_RIGHTS.file, trust)) {
    problems.push(`makes files created in it writable by ${describeSid(w.sid)} (inheritable ACE: ${rightNames(w.rights, 'file').join(', ')})`);
  }
  for (const w of untrustedWriters(toFolders, WRITE_RIGHTS.folder, trust)) {
    problems.push(`makes sub-folders created in it writable by ${describeSid(w.sid)} (inheritable ACE: ${rightNames(w.rights, 'folder').join(', ')})`);
  }
  return problems;
}
