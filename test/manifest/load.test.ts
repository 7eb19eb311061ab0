/** loadManifests (fs) and loadPolicyFile. */
import { mkdtemp, mkdir, writeFile, copyFile, symlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatError, loadManifests, loadPolicyFile } from '../../src/manifest/index.ts';
import { layerIdOf } from '../../src/cli/layer-ids.ts';

const root = await mkdtemp(join(tmpdir(), 'hcs-manifests-'));
after(() => rm(root, { recursive: true, force: true }));

test('a missing folder or a non-folder gives folderOk false', async () => {
  const missing = await loadManifests(join(root, 'nope'));
  assert.equal(missing.folderOk, false);
  assert.match(missing.folderError ?? '', /does not exist/);
});

test('reads yaml files only, skipping editor leftovers; over-size files are errors', async () => {
  const dir = join(root, 'm1');
  await mkdir(join(dir, 'sub'), { recursive: true });
  await copyFile('manifests/web.yaml', join(dir, 'web.yaml'));
  for (const junk of ['.web.yaml.swp', 'web.yaml~', 'web.bak.yaml', '#web.yaml#', '4913', 'notes.txt']) await copyFile('manifests/web.yaml', join(dir, junk));
  await copyFile('manifests/app-db.yaml', join(dir, 'sub', 'db.yaml'));
  await writeFile(join(dir, 'big.yml'), `# ${'x'.repeat(2000)}\n`);
  const s = await loadManifests(dir, { maxFileBytes: 1500, layerIds: layerIdOf });
  assert.equal(s.folderOk, true);
  assert.deepEqual(s.files, [join(dir, 'big.yml'), join(dir, 'web.yaml')]);
  assert.deepEqual(s.manifests.map((m) => m.name), ['web']);
  assert.deepEqual(s.errors.map(formatError), [
    `${join(dir, 'big.yml')}:1:1 file is 2003 bytes, over the 1500 bytes limit (maxFileBytes)`,
    `${join(dir, 'sub')}:1:1 skipped: folder deeper than the depth read (0); its manifest files are not read`,
  ]);
  const deep = await loadManifests(dir, { recursive: true, layerIds: layerIdOf });
  assert.deepEqual(deep.manifests.map((m) => m.name), ['app-db', 'web']);
});

test('a single file path and a symlinked folder work (git-sync style)', async () => {
  const one = await loadManifests('manifests/vm.yaml');
  assert.deepEqual(one.manifests.map((m) => m.name), ['build-vm']);
  const link = join(root, 'current');
  await symlink(join(process.cwd(), 'manifests'), link);
  const s = await loadManifests(link, { layerIds: layerIdOf });
  assert.equal(s.manifests.length, 6);
  assert.deepEqual(s.errors, []);
});

test('policy file: valid, and errors with locations', async () => {
  const good = join(root, 'policy.yaml');
  await writeFile(good, "apiVersion: hcs-reconciler/v1alpha1\nkind: ManifestPolicy\nallowedHostPaths: ['C:\\data']\nallowedIsolation: [hyperv]\nmaxMemoryMB: 8192\nallowDocument: false\n");
  assert.deepEqual(await loadPolicyFile(good), {
    policy: { allowedHostPaths: ['C:\\data'], allowedIsolation: ['hyperv'], maxMemoryMB: 8192, allowDocument: false },
    errors: [],
  });
  const bad = join(root, 'bad-policy.yaml');
  await writeFile(bad, "apiVersion: hcs-reconciler/v1alpha1\nkind: ManifestPolicy\nallowedHostPaths: ['\\\\server\\share']\nmaxMemoryMb: 10\n");
  const r = await loadPolicyFile(bad);
  assert.equal(r.policy, undefined);
  assert.deepEqual(r.errors.map(formatError), [
    `${bad}:3:20 allowedHostPaths[0]: must be an absolute drive path or a volume GUID path \\\\?\\Volume{GUID}\\ (got "\\\\server\\share")`,
    `${bad}:4:1 maxMemoryMb: unknown field "maxMemoryMb" (did you mean "maxMemoryMB"? allowed: apiVersion, kind, allowedHostPaths, allowedIsolation, allowVirtualMachine, maxMemoryMB, maxCpuCount, allowDocument)`,
  ]);
  const missing = await loadPolicyFile(join(root, 'none.yaml'));
  assert.equal(missing.errors.length, 1);
});
