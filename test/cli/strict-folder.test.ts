/**
 * Issue 12, finding 8: --strict-folder checks every file and sub-folder the controller reads,
 * and the policy file, not only the manifests folder and its parents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFolderSecurity } from '../../src/cli/folder-check.ts';
import { containerYaml } from '../integration/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');
const posix = process.platform === 'win32' ? 'POSIX mode bits only' : false;

test('a 0666 manifest, a 0777 sub-folder and a 0666 policy file are all reported', { skip: posix }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-strict-'));
  try {
    const folder = join(dir, 'm');
    mkdirSync(folder, { mode: 0o755 });
    chmodSync(folder, 0o755);
    writeFileSync(join(folder, 'web.yaml'), containerYaml('web'));
    chmodSync(join(folder, 'web.yaml'), 0o644);
    assert.equal((await checkFolderSecurity(folder, { depth: 1 }))?.writableByNonAdmins, false, 'all fine');
    chmodSync(join(folder, 'web.yaml'), 0o666);
    const file = await checkFolderSecurity(folder, { depth: 1 });
    assert.equal(file?.writableByNonAdmins, true);
    assert.match(file!.detail, /file .*web\.yaml \(mode 0666.*\) is writable by every user/);
    chmodSync(join(folder, 'web.yaml'), 0o644);
    mkdirSync(join(folder, 'team'));
    chmodSync(join(folder, 'team'), 0o777);
    assert.match((await checkFolderSecurity(folder, { depth: 1 }))!.detail, /sub-folder .*team \(mode 0777.*\) is writable by every user/);
    assert.equal((await checkFolderSecurity(folder, { depth: 0 }))?.writableByNonAdmins, false, 'depth 0 does not read sub-folders');
    chmodSync(join(folder, 'team'), 0o755);
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'apiVersion: hcs-reconciler/v1alpha1\nkind: ManifestPolicy\n');
    chmodSync(policy, 0o666);
    assert.match((await checkFolderSecurity(folder, { depth: 1, policyFile: policy }))!.detail, /policy file .*policy\.yaml \(mode 0666.*\) is writable by every user/);
    chmodSync(policy, 0o644);
    chmodSync(join(folder, 'web.yaml'), 0o666);
    const r = spawnSync(process.execPath, [bin, '--owner', 'strict-files', 'run', '--manifests', folder, '--strict-folder', '--listen', 'off', '--lock-dir', dir], { cwd: root, encoding: 'utf8', env: { ...process.env, HCS_EMULATOR_SOCKET: join(dir, 'none.sock') }, timeout: 30_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /--strict-folder: manifests folder .* is writable by non-administrators \(.*web\.yaml \(mode 0666/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
