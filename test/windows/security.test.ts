/**
 * The advapi32 binding (src/hcs/security.ts) against real NTFS files: DACLs written with the same
 * binding (SDDL -> SetNamedSecurityInfoW), read back with GetNamedSecurityInfoW/GetAce, and the
 * verdicts of src/cli/dacl.ts and `--strict-folder`'s check on them. Skipped everywhere else.
 *
 * Run (PowerShell, elevated or not):  $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows/security
 *
 * SDDL rights used (MSDOCS "ACE strings"): FA file all access, FR file generic read, FW file
 * generic write; SY SYSTEM, BA Administrators, BU Users; OI/CI inheritance flags, P protected.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ACE_FLAG, daclProblems, SID } from '../../src/cli/dacl.ts';
import { checkFolderSecurity } from '../../src/cli/folder-check.ts';
import { processUserSid, readFileSecurity, writeFileDacl } from '../../src/hcs/security.ts';

const enabled = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1';
const skip = enabled ? false : 'needs Windows and HCS_FUNCTIONAL=1 (real advapi32.dll and NTFS)';

const HARDENED_FILE = 'D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FR;;;BU)';
const HARDENED_FOLDER = 'D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)';

describe('advapi32 file security (real Windows)', { skip }, () => {
  let dir: string;
  let self: string | undefined;
  before(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'hcs-acl-')));
    self = processUserSid();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the process user SID', () => {
    assert.match(self ?? '', /^S-1-5-/);
  });

  it('reads back a DACL written from SDDL, in order, with the documented masks', () => {
    const f = join(dir, 'read.yaml');
    writeFileSync(f, 'x');
    writeFileDacl(f, HARDENED_FILE);
    const info = readFileSecurity(f);
    assert.ok(info.ownerSid?.startsWith('S-1-5-'), `owner ${info.ownerSid}`);
    assert.deepEqual(info.dacl?.map((a) => [a.type, a.sid, a.mask]), [
      [0, SID.system, 0x1f01ff],
      [0, SID.administrators, 0x1f01ff],
      [0, SID.users, 0x120089],
    ]);
    assert.deepEqual(daclProblems(info, 'file', self ? { selfSid: self } : {}), []);
  });

  it('reports Users with write access, and honours a deny ACE placed first', () => {
    const f = join(dir, 'open.yaml');
    writeFileSync(f, 'x');
    writeFileDacl(f, 'D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FW;;;BU)');
    assert.deepEqual(daclProblems(readFileSecurity(f), 'file', self ? { selfSid: self } : {}), ['is writable by Users (S-1-5-32-545): FILE_WRITE_DATA, FILE_APPEND_DATA']);
    writeFileDacl(f, 'D:P(D;;FW;;;BU)(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;BU)');
    const info = readFileSecurity(f);
    assert.equal(info.dacl?.[0]?.type, 1, 'the deny ACE stays first');
    assert.deepEqual(daclProblems(info, 'file', self ? { selfSid: self } : {}), ['is writable by Users (S-1-5-32-545): DELETE, WRITE_DAC, WRITE_OWNER']);
  });

  it('a file created in a folder with an inheritable Users write ACE inherits it, and the check sees it', async () => {
    const folder = join(dir, 'manifests');
    mkdirSync(folder);
    writeFileDacl(folder, 'D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OIIO;FW;;;BU)');
    const folderInfo = readFileSecurity(folder);
    assert.ok(folderInfo.dacl?.some((a) => a.sid === SID.users && a.flags & ACE_FLAG.inheritOnly), 'inherit-only ACE read back');
    const f = join(folder, 'web.yaml');
    writeFileSync(f, 'x');
    const fileInfo = readFileSecurity(f);
    assert.ok(fileInfo.dacl?.some((a) => a.sid === SID.users && a.flags & ACE_FLAG.inherited), 'the file inherited the Users ACE');
    const verdict = await checkFolderSecurity(folder, { depth: 1 });
    assert.equal(verdict?.writableByNonAdmins, true);
    assert.match(verdict!.detail, /file .*web\.yaml \(owner .*\) is writable by Users \(S-1-5-32-545\): FILE_WRITE_DATA, FILE_APPEND_DATA/);
    assert.match(verdict!.detail, /folder .*manifests \(owner .*\) makes files created in it writable by Users/);

    writeFileDacl(folder, HARDENED_FOLDER);
    writeFileDacl(f, HARDENED_FILE);
    const sub = join(folder, 'team');
    mkdirSync(sub);
    const fixed = await checkFolderSecurity(folder, { depth: 1 });
    assert.doesNotMatch(fixed?.detail ?? '', /web\.yaml|manifests \(|team/, 'hardened entries are not reported (parents may be)');
    writeFileDacl(sub, 'D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x2;;;BU)');
    assert.match((await checkFolderSecurity(folder, { depth: 1 }))!.detail, /sub-folder .*team \(owner .*\) is writable by Users \(S-1-5-32-545\): FILE_ADD_FILE/);
    assert.doesNotMatch((await checkFolderSecurity(folder, { depth: 0 }))?.detail ?? '', /team/, 'depth 0 reads no sub-folder');
  });
});
