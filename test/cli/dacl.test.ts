/**
 * Issue 12, finding 8 on Windows: which DACLs make a manifest, folder or policy file writable by
 * others than SYSTEM, Administrators, TrustedInstaller and the controller's user (src/cli/dacl.ts),
 * with cases built from Microsoft's documented ACE semantics:
 * - "How DACLs Control Access to an Object" / "DACLs and ACEs": ACEs are read in order, the first
 *   that allows or denies a right decides; a NULL DACL allows everyone everything, an empty one nobody.
 * - "ACE_HEADER": INHERIT_ONLY_ACE does not control access to the object it is on; OI/CI ACEs are
 *   inherited by files / sub-folders created later ("ACE Inheritance Rules").
 * - "ACCESS_MASK", "File Access Rights Constants": the right bits and the generic mappings.
 * - KB130543 and "OwnerRights": the owner may always rewrite the DACL unless OWNER RIGHTS is named.
 * - "Well-known SIDs".
 * Also: the folder check walks every file, sub-folder and the policy file on the Windows path too
 * (reader injected), and the binding decodes ACE memory at the documented offsets (fake advapi32).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import koffi from 'koffi';
import { ACE_FLAG, ACE_TYPE, daclProblems, mapGenericFileRights, RIGHT, SID, type Ace, type SecurityInfo } from '../../src/cli/dacl.ts';
import { checkFolderSecurity } from '../../src/cli/folder-check.ts';
import { readAcl, readFileSecurity, Win32Error, type Advapi32 } from '../../src/hcs/security.ts';

const FA = 0x1f01ff; // FILE_ALL_ACCESS ("F" in icacls)
const RX = 0x1200a9; // FILE_GENERIC_READ | FILE_GENERIC_EXECUTE ("RX")
const MODIFY = 0x1301bf; // "M"
const OI = ACE_FLAG.objectInherit;
const CI = ACE_FLAG.containerInherit;
const IO = ACE_FLAG.inheritOnly;
const I = ACE_FLAG.inherited;
const allow = (sid: string, mask: number, flags = 0): Ace => ({ type: ACE_TYPE.allowed, flags, mask, sid });
const deny = (sid: string, mask: number, flags = 0): Ace => ({ type: ACE_TYPE.denied, flags, mask, sid });
const sd = (dacl: Ace[] | null, ownerSid: string | undefined = SID.administrators): SecurityInfo => ({ ownerSid, dacl });
const HARDENED = [allow(SID.system, FA, OI | CI), allow(SID.administrators, FA, OI | CI), allow(SID.users, RX, OI | CI)];
const USER = 'S-1-5-21-1004336348-1177238915-682003330-1001';

test('hardened DACL (SYSTEM, Administrators full; Users read): nothing to report for a folder, a file or a parent', () => {
  for (const kind of ['folder', 'file', 'parent'] as const) assert.deepEqual(daclProblems(sd(HARDENED), kind), [], kind);
  assert.deepEqual(daclProblems(sd([allow(SID.trustedInstaller, FA), allow(SID.system, FA)], SID.trustedInstaller), 'file'), [], 'TrustedInstaller');
  assert.deepEqual(daclProblems(sd([]), 'file'), [], 'an empty DACL allows nobody anything');
});

test('a NULL DACL gives everyone full access', () => {
  assert.match(daclProblems(sd(null), 'file').join(), /no DACL .*everyone full access/);
});

test('each write-like right to Users is reported, by its name for files and for folders', () => {
  const cases: Array<[number, string, string]> = [
    [RIGHT.FILE_WRITE_DATA, 'FILE_WRITE_DATA', 'FILE_ADD_FILE'],
    [RIGHT.FILE_APPEND_DATA, 'FILE_APPEND_DATA', 'FILE_ADD_SUBDIRECTORY'],
    [RIGHT.DELETE, 'DELETE', 'DELETE'],
    [RIGHT.WRITE_DAC, 'WRITE_DAC', 'WRITE_DAC'],
    [RIGHT.WRITE_OWNER, 'WRITE_OWNER', 'WRITE_OWNER'],
  ];
  for (const [mask, fileName, folderName] of cases) {
    assert.deepEqual(daclProblems(sd([...HARDENED, allow(SID.users, mask)]), 'file'), [`is writable by Users (S-1-5-32-545): ${fileName}`]);
    assert.deepEqual(daclProblems(sd([...HARDENED, allow(SID.users, mask)]), 'folder'), [`is writable by Users (S-1-5-32-545): ${folderName}`]);
  }
  assert.deepEqual(daclProblems(sd([allow(SID.users, RIGHT.FILE_DELETE_CHILD)]), 'folder'), ['is writable by Users (S-1-5-32-545): FILE_DELETE_CHILD']);
  assert.deepEqual(daclProblems(sd([allow(SID.users, RIGHT.FILE_DELETE_CHILD)]), 'file'), [], 'bit 0x40 means nothing for a file');
  assert.deepEqual(daclProblems(sd([allow(SID.users, RIGHT.FILE_WRITE_EA | RIGHT.FILE_WRITE_ATTRIBUTES | RX)]), 'file'), [], 'attributes and EAs do not change the bytes read');
});

test('generic rights map to the file rights they stand for', () => {
  assert.equal(mapGenericFileRights(RIGHT.GENERIC_WRITE), 0x120116);
  assert.equal(mapGenericFileRights(RIGHT.GENERIC_ALL), FA);
  assert.deepEqual(daclProblems(sd([allow(SID.everyone, RIGHT.GENERIC_WRITE)]), 'file'), ['is writable by Everyone (S-1-1-0): FILE_WRITE_DATA, FILE_APPEND_DATA']);
  assert.deepEqual(daclProblems(sd([allow(SID.authenticatedUsers, RIGHT.GENERIC_ALL)]), 'file'), [
    'is writable by Authenticated Users (S-1-5-11): FILE_WRITE_DATA, FILE_APPEND_DATA, DELETE, WRITE_DAC, WRITE_OWNER',
  ]);
  assert.deepEqual(daclProblems(sd([allow(SID.users, RIGHT.GENERIC_READ | RIGHT.GENERIC_EXECUTE)]), 'file'), []);
  assert.deepEqual(daclProblems(sd([allow(SID.authenticatedUsers, MODIFY)]), 'file'), ['is writable by Authenticated Users (S-1-5-11): FILE_WRITE_DATA, FILE_APPEND_DATA, DELETE']);
});

test('inherit-only ACEs do not apply to the object; on a folder they are reported as what new files and sub-folders get', () => {
  const inheritOnlyWrite = allow(SID.users, MODIFY, OI | IO);
  assert.deepEqual(daclProblems(sd([...HARDENED, inheritOnlyWrite]), 'file'), []);
  assert.deepEqual(daclProblems(sd([...HARDENED, inheritOnlyWrite]), 'parent'), []);
  assert.deepEqual(daclProblems(sd([...HARDENED, inheritOnlyWrite]), 'folder'), [
    'makes files created in it writable by Users (S-1-5-32-545) (inheritable ACE: FILE_WRITE_DATA, FILE_APPEND_DATA, DELETE)',
  ]);
  assert.deepEqual(daclProblems(sd([...HARDENED, allow(SID.users, RIGHT.FILE_WRITE_DATA, CI | IO)]), 'folder'), [
    'makes sub-folders created in it writable by Users (S-1-5-32-545) (inheritable ACE: FILE_ADD_FILE)',
  ]);
  // CREATOR OWNER (S-1-3-0) is a placeholder for whoever creates the child; who may create is FILE_ADD_FILE.
  assert.deepEqual(daclProblems(sd([...HARDENED, allow(SID.creatorOwner, RIGHT.GENERIC_ALL, OI | CI | IO)]), 'folder'), []);
});

test('a folder under C:\\ProgramData (inherited DACL): Users may add files and sub-folders there', () => {
  const programDataChild = [
    allow(SID.system, FA, I), allow(SID.administrators, FA, I), allow(SID.creatorOwner, RIGHT.GENERIC_ALL, OI | CI | IO | I),
    allow(SID.users, RX, OI | CI | I), allow(SID.users, 0x116, CI | I),
  ];
  assert.deepEqual(daclProblems(sd(programDataChild), 'folder'), [
    'is writable by Users (S-1-5-32-545): FILE_ADD_FILE, FILE_ADD_SUBDIRECTORY',
    'makes sub-folders created in it writable by Users (S-1-5-32-545) (inheritable ACE: FILE_ADD_FILE, FILE_ADD_SUBDIRECTORY)',
  ]);
  // As a parent (C:\ProgramData itself), adding entries cannot swap ours: like a sticky /tmp.
  assert.deepEqual(daclProblems(sd(programDataChild, SID.system), 'parent'), []);
});

test('deny ACEs protect only when they come first, only for the rights they name, and only for their SID or Everyone', () => {
  assert.deepEqual(daclProblems(sd([deny(SID.users, RIGHT.GENERIC_WRITE), allow(SID.users, MODIFY)]), 'file'), ['is writable by Users (S-1-5-32-545): DELETE']);
  assert.deepEqual(daclProblems(sd([deny(SID.users, RIGHT.GENERIC_WRITE | RIGHT.DELETE), allow(SID.users, MODIFY)]), 'file'), []);
  assert.deepEqual(daclProblems(sd([allow(SID.users, MODIFY), deny(SID.users, FA)]), 'file'), ['is writable by Users (S-1-5-32-545): FILE_WRITE_DATA, FILE_APPEND_DATA, DELETE'], 'a deny after the allow comes too late');
  assert.deepEqual(daclProblems(sd([deny(SID.everyone, FA), allow(SID.users, MODIFY)]), 'file'), [], 'Everyone includes Users');
  // Whether a user is in Users is not in the DACL: a deny for Users does not protect Authenticated Users.
  assert.equal(daclProblems(sd([deny(SID.users, FA), allow(SID.authenticatedUsers, MODIFY)]), 'file').length, 1);
  // A conditional (callback) deny may not apply; a conditional allow may.
  assert.equal(daclProblems(sd([{ type: ACE_TYPE.deniedCallback, flags: 0, mask: FA, sid: SID.users }, allow(SID.users, MODIFY)]), 'file').length, 1);
  assert.equal(daclProblems(sd([{ type: ACE_TYPE.allowedCallback, flags: 0, mask: MODIFY, sid: SID.users }]), 'file').length, 1);
  assert.deepEqual(daclProblems(sd([{ type: 0x2, flags: 0, mask: FA, sid: SID.users }]), 'file'), [], 'an audit ACE grants nothing');
});

test('the owner: SYSTEM, Administrators, TrustedInstaller or the controller user; OWNER RIGHTS replaces its implicit WRITE_DAC', () => {
  assert.deepEqual(daclProblems(sd(HARDENED, SID.system), 'file'), []);
  assert.deepEqual(daclProblems(sd(HARDENED, USER), 'file'), [`is owned by ${USER}, who can change its permissions`]);
  assert.deepEqual(daclProblems(sd(HARDENED, USER), 'file', { selfSid: USER }), [], 'the controller user, like its uid on POSIX');
  assert.deepEqual(daclProblems(sd([...HARDENED, allow(USER, MODIFY)]), 'file', { selfSid: USER }), []);
  assert.deepEqual(daclProblems({ ownerSid: undefined, dacl: HARDENED }, 'file'), ['has no owner SID that could be read']);
  assert.deepEqual(daclProblems(sd([...HARDENED, allow(SID.ownerRights, RIGHT.READ_CONTROL)], USER), 'file'), [], 'OWNER RIGHTS without WRITE_DAC');
  assert.deepEqual(daclProblems(sd([...HARDENED, allow(SID.ownerRights, RIGHT.WRITE_DAC)], USER), 'file'), ['is writable by OWNER RIGHTS (S-1-3-4): WRITE_DAC']);
  assert.deepEqual(daclProblems(sd([...HARDENED, allow(SID.ownerRights, FA)], SID.administrators), 'file'), [], 'a trusted owner');
  assert.deepEqual(daclProblems(sd([...HARDENED, allow(USER, RIGHT.FILE_WRITE_DATA)]), 'file'), [`is writable by ${USER}: FILE_WRITE_DATA`], 'an unknown SID is shown as is');
});

test('Windows folder check: every manifest file, sub-folder and the policy file, with their parents, like POSIX', async () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'hcs-dacl-')));
  try {
    const folder = join(dir, 'manifests');
    mkdirSync(join(folder, 'team', 'deeper'), { recursive: true });
    mkdirSync(join(folder, '.git'));
    for (const f of ['web.yaml', 'team/a.yaml', 'team/deeper/b.yaml', 'README.md', '.git/x.yaml']) writeFileSync(join(folder, f), 'x');
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'x');
    const acls = new Map<string, SecurityInfo>();
    const read: string[] = [];
    const readSecurity = (p: string) => {
      read.push(p);
      return acls.get(p) ?? sd(HARDENED);
    };
    const win = (depth?: number, policyFile?: string) => checkFolderSecurity(folder, { platform: 'win32', readSecurity, ...(depth === undefined ? {} : { depth }), ...(policyFile ? { policyFile } : {}) });
    const fine = await win(1, policy);
    assert.equal(fine?.writableByNonAdmins, false, fine?.detail);
    for (const p of [folder, dir, '/', join(folder, 'web.yaml'), join(folder, 'team'), join(folder, 'team', 'a.yaml'), policy]) assert.ok(read.includes(p), `read ${p}`);
    for (const p of [join(folder, 'README.md'), join(folder, '.git'), join(folder, 'team', 'deeper')]) assert.ok(!read.includes(p), `not read: ${p}`);

    acls.set(join(folder, 'web.yaml'), sd([...HARDENED, allow(SID.users, MODIFY)]));
    acls.set(join(folder, 'team'), sd(HARDENED, USER));
    acls.set(policy, sd([...HARDENED, allow(SID.everyone, RIGHT.GENERIC_WRITE)]));
    acls.set(dir, sd([...HARDENED, allow(SID.users, RIGHT.FILE_DELETE_CHILD)]));
    const bad = await win(1, policy);
    assert.equal(bad?.writableByNonAdmins, true);
    const problems = bad!.detail.split('; ');
    assert.ok(problems.includes(`file ${join(folder, 'web.yaml')} (owner Administrators (S-1-5-32-544)) is writable by Users (S-1-5-32-545): FILE_WRITE_DATA, FILE_APPEND_DATA, DELETE`), bad!.detail);
    assert.ok(problems.includes(`sub-folder ${join(folder, 'team')} (owner ${USER}) is owned by ${USER}, who can change its permissions`), bad!.detail);
    assert.ok(problems.includes(`policy file ${policy} (owner Administrators (S-1-5-32-544)) is writable by Everyone (S-1-1-0): FILE_WRITE_DATA, FILE_APPEND_DATA`), bad!.detail);
    assert.equal(problems.filter((p) => p === `parent ${dir} (owner Administrators (S-1-5-32-544)) is writable by Users (S-1-5-32-545): FILE_DELETE_CHILD`).length, 2, 'parent of both the folder and the policy file');
    const shallow = await win(0);
    assert.match(shallow!.detail, /web\.yaml/, 'depth 0: the files in the folder');
    assert.doesNotMatch(shallow!.detail, /team|policy/, 'depth 0 reads no sub-folder');
    assert.doesNotMatch((await win())!.detail, /web\.yaml/, 'without depth: the folder and its parents only');

    acls.clear();
    const failing = (p: string) => {
      if (p.endsWith('web.yaml')) throw new Win32Error('GetNamedSecurityInfoW', p, 5);
      return sd(HARDENED);
    };
    const denied = await checkFolderSecurity(folder, { platform: 'win32', readSecurity: failing, depth: 1 });
    assert.equal(denied?.writableByNonAdmins, true, 'unreadable permissions count against the folder');
    assert.match(denied!.detail, /file .*web\.yaml: its owner and DACL could not be read \(GetNamedSecurityInfoW .*web\.yaml: ERROR_ACCESS_DENIED \(5\)\)/);
    assert.equal(await checkFolderSecurity(folder, { platform: 'win32', readSecurity: () => undefined }), undefined, 'folder gone: no verdict');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A SID in its binary form (Revision 1, SubAuthorityCount, 48-bit authority, LE sub-authorities). */
function sidBytes(text: string): Buffer {
  const [, , auth, ...subs] = text.split('-');
  const b = Buffer.alloc(8 + 4 * subs.length);
  b[0] = 1;
  b[1] = subs.length;
  b.writeUIntBE(Number(auth), 2, 6);
  for (const [i, s] of subs.entries()) b.writeUInt32LE(Number(s), 8 + 4 * i);
  return b;
}

function sidText(ptr: bigint): string {
  const count = koffi.decode(ptr, 1, 'uint8_t') as number;
  const head = Buffer.from(koffi.decode(ptr, 'uint8_t', 8) as number[]);
  const subs = Array.from({ length: count }, (_, i) => koffi.decode(ptr, 8 + 4 * i, 'uint32_t') as number);
  return ['S', head[0], head.readUIntBE(2, 6), ...subs].join('-');
}

test('the advapi32 binding reads ACE_HEADER, Mask and the SID at their documented offsets and frees the descriptor once', () => {
  const ace = (type: number, flags: number, mask: number, sid: string) => {
    const s = sidBytes(sid);
    const b = Buffer.alloc(8 + s.length);
    b.writeUInt8(type, 0);
    b.writeUInt8(flags, 1);
    b.writeUInt16LE(b.length, 2);
    b.writeUInt32LE(mask >>> 0, 4);
    s.copy(b, 8);
    return b;
  };
  const aces = [ace(0, OI | CI, FA, SID.system), ace(1, 0, RIGHT.GENERIC_WRITE, SID.users), ace(5, 0, FA, SID.everyone), ace(0, IO | OI, MODIFY, SID.trustedInstaller)];
  const owner = sidBytes(SID.administrators);
  const freed: bigint[] = [];
  const fake = {
    getNamedSecurityInfo: () => ({ code: 0, owner: koffi.address(owner), dacl: 42n, descriptor: 7n }),
    aceCount: (acl: bigint) => (acl === 42n ? aces.length : undefined),
    getAce: (_acl: bigint, i: number) => koffi.address(aces[i]!),
    sidToString: (p: bigint) => sidText(p),
    lastError: () => 1337,
    localFree: (p: bigint | null) => void freed.push(p ?? 0n),
  } as unknown as Advapi32;
  const info = readFileSecurity('C:\\m\\web.yaml', fake);
  assert.deepEqual(info, {
    ownerSid: SID.administrators,
    dacl: [
      { type: 0, flags: OI | CI, mask: FA, sid: SID.system },
      { type: 1, flags: 0, mask: RIGHT.GENERIC_WRITE, sid: SID.users },
      // type 5 (an object ACE, SID at another offset) is skipped
      { type: 0, flags: IO | OI, mask: MODIFY, sid: SID.trustedInstaller },
    ],
  });
  assert.deepEqual(freed, [7n], 'the descriptor is freed once');
  const broken = { ...fake, getAce: () => undefined, getNamedSecurityInfo: fake.getNamedSecurityInfo, aceCount: fake.aceCount, lastError: fake.lastError, localFree: fake.localFree, sidToString: fake.sidToString } as unknown as Advapi32;
  assert.throws(() => readFileSecurity('C:\\m\\web.yaml', broken), /GetAce C:\\m\\web\.yaml: ERROR_INVALID_SID \(1337\)/);
  assert.deepEqual(freed, [7n, 7n], 'freed when reading the ACL fails too');
  assert.deepEqual(readAcl(fake, 42n, 'x').length, 3);
  const missing = { getNamedSecurityInfo: () => ({ code: 2, owner: null, dacl: null, descriptor: null }) } as unknown as Advapi32;
  assert.throws(() => readFileSecurity('C:\\gone', missing), (e: unknown) => e instanceof Win32Error && e.code === 2 && /ERROR_FILE_NOT_FOUND/.test(e.message));
  const nullDacl = { ...fake, getNamedSecurityInfo: () => ({ code: 0, owner: koffi.address(owner), dacl: null, descriptor: 9n }) } as unknown as Advapi32;
  assert.equal(readFileSecurity('C:\\open', nullDacl).dacl, null, 'a NULL DACL stays null (everyone)');
});
