/**
 * Security and bad input through the CLI: policy violations are located validation errors (exit 1);
 * the endpoint refuses non-loopback addresses by default; the folder check (src/cli/folder-check.ts);
 * the whole invalid corpus, a huge file: clear located errors, exit 1, no crash; and a running
 * controller keeps its other systems converged (and never writes the folder) while it reads them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListen } from '../../src/cli/http.ts';
import { checkFolderSecurity } from '../../src/cli/folder-check.ts';
import { containerYaml, startRig, until } from '../integration/helpers.ts';
import { bin, Folder, root } from '../chaos/lib.ts';
import { startWatched, stopCalls } from './harness.ts';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('policy: a violation is a validation error with file:line:col, exit 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-policy-'));
  try {
    writeFileSync(join(dir, 'policy.yaml'), "apiVersion: hcs-reconciler/v1alpha1\nkind: ManifestPolicy\nallowedHostPaths: ['C:\\ProgramData\\hcs-reconciler\\data']\nmaxMemoryMB: 1024\n");
    const m = join(dir, 'web.yaml');
    writeFileSync(m, containerYaml('web', { memoryMB: 4096 }).replace("    memoryMB: 4096\n", "    memoryMB: 4096\n    mappedDirectories:\n      - { hostPath: 'C:\\Windows\\System32', containerPath: 'C:\\sys' }\n"));
    const r = cli(['--policy', join(dir, 'policy.yaml'), 'validate', m]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /web\.yaml:\d+:\d+ spec\.container\.memoryMB: .*1024/);
    assert.match(r.stderr, /web\.yaml:\d+:\d+ spec\.container\.mappedDirectories\[0\]\.hostPath: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(cli(['validate', m]).code, 0, 'valid without the policy');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('endpoint: loopback only unless --listen-any', () => {
  for (const ok of ['127.0.0.1:9180', 'localhost:1', '[::1]:9180', '127.1.2.3:80']) assert.doesNotThrow(() => parseListen(ok, false), ok);
  for (const bad of ['0.0.0.0:9180', '[::]:9180', '10.0.0.5:9180', 'example.com:80', '192.168.1.1:9180']) {
    assert.throws(() => parseListen(bad, false), /refusing a non-loopback address/, bad);
    assert.doesNotThrow(() => parseListen(bad, true), `${bad} with --listen-any`);
  }
  const help = cli(['run', '--help']);
  assert.match(help.stdout, /default: "127\.0\.0\.1:9180"/);
});

test('folder check: POSIX mode bits and owner (Windows DACLs: test/cli/dacl.test.ts)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-folder-'));
  try {
    const f = join(dir, 'm');
    mkdirSync(f, { mode: 0o755 });
    chmodSync(dir, 0o700);
    assert.equal((await checkFolderSecurity(f))?.writableByNonAdmins, false);
    chmodSync(f, 0o777);
    const open = await checkFolderSecurity(f);
    assert.equal(open?.writableByNonAdmins, true);
    assert.match(open!.detail, /writable by every user/);
    chmodSync(f, 0o775);
    if (process.getuid?.() === 0) {
      const { chownSync } = await import('node:fs');
      chownSync(f, 0, 1234);
      assert.match((await checkFolderSecurity(f))!.detail, /writable by group 1234/);
      chmodSync(f, 0o755);
      chownSync(f, 4321, 0);
      assert.match((await checkFolderSecurity(f))!.detail, /owned by uid 4321/);
    }
    assert.equal(await checkFolderSecurity(join(dir, 'missing')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad input: the whole corpus and a huge file fail validate with located errors; a running controller keeps the rest converged', async () => {
  const corpus = 'test/fixtures/invalid';
  const files = readdirSync(join(root, corpus)).filter((f) => f.endsWith('.yaml'));
  const rig = await startRig();
  try {
    const bad = join(rig.dir, 'bad');
    mkdirSync(bad);
    for (const f of files) cpSync(join(root, corpus, f), join(bad, f));
    writeFileSync(join(bad, 'huge.yaml'), `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    const r = cli(['validate', bad]);
    assert.equal(r.code, 1);
    assert.doesNotMatch(r.stderr, /\n\s+at |RangeError|TypeError/, 'no crash, no stack trace');
    for (const f of [...files, 'huge.yaml']) assert.match(r.stderr, new RegExp(`${f.replace(/\./g, '\\.')}:\\d+:\\d+ `), `${f} has a located error`);
    assert.match(r.stderr, /huge\.yaml:1:1 .*(1 MiB|too (big|large))/i);
    const one = cli(['validate', join(bad, 'huge.yaml')]);
    assert.equal(one.code, 1);
    // The running controller: a good manifest, then every bad file dropped in next to it.
    const folder = new Folder(join(rig.dir, 'live'), 'hcs-reconciler');
    folder.write('keeper.yaml', { name: 'keeper', memoryMB: 512, state: 'Running', label: 'k' });
    const w = await startWatched(rig, folder.link);
    try {
      await until(async () => (await rig.systems()).some((s) => s.startsWith('keeper-') && s.endsWith(':Running')), 'keeper running', w.controller);
      const keeper = (await rig.systems()).find((s) => s.startsWith('keeper-'))!;
      const before = folder.fingerprint();
      const liveDir = join(folder.link);
      for (const f of [...files, 'huge.yaml']) cpSync(join(bad, f), join(liveDir, f));
      const target = folder.fingerprint();
      await until(() => w.controller.status().manifestErrors.length >= files.length, 'every bad file reported', w.controller, 30_000);
      const p0 = w.controller.status().passes;
      w.controller.reconcile();
      await until(() => w.controller.status().passes > p0, 'a pass with the bad files', w.controller);
      assert.ok((await rig.systems()).includes(keeper), 'keeper still running');
      assert.deepEqual((await stopCalls(rig)).filter((s) => s.includes('keeper')), [], 'keeper never stopped');
      assert.notEqual(before, target);
      assert.equal(folder.fingerprint(), target, 'the controller never wrote the folder');
    } finally {
      await w.dispose();
    }
  } finally {
    await rig.stop();
  }
});
