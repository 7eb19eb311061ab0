/**
 * src/watch with the real src/manifest functions (as the CLI wires them): manifests flow
 * through, placement-ignored manifests flow through, errors keep their names, and a file the
 * source cannot read still goes through combineSnapshot with the names it declared last time.
 */
import assert from 'node:assert/strict';
import { rename, symlink, unlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { combineSnapshot, parseManifestFile, isManifestFileName, type FileResult, type ManifestOptions } from '../../src/manifest/index.ts';
import { watchManifests, type ManifestParser, type ManifestSource } from '../../src/watch/index.ts';
import { names, nextSnapshot, record, tempDir } from './helpers.ts';

const opts: ManifestOptions = { host: { name: 'this-host', labels: { zone: 'a' } } };
const realParser: ManifestParser<FileResult> = {
  parseManifestFile: (file, content) => parseManifestFile(file, content, opts),
  combineSnapshot: (results) => combineSnapshot(results, opts),
  isManifestFileName,
};

function vm(name: string, memoryMB = 1024, specExtra = ''): string {
  return [
    'apiVersion: hcs-reconciler/v1alpha1',
    'kind: ComputeSystem',
    `metadata: { name: ${name} }`,
    'spec:',
    specExtra,
    '  virtualMachine:',
    `    memoryMB: ${memoryMB}`,
    `    bootDisk: { path: 'C:\\vms\\${name}.vhdx' }`,
    '',
  ].filter((l) => l !== '').join('\n') + '\n';
}

describe('watchManifests with the real manifest parser', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: ManifestSource | undefined;
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(async () => {
    await source?.dispose();
    source = undefined;
    await cleanup();
  });

  it('add, change (new configHash), delete', async () => {
    await writeFile(join(dir, 'web.yaml'), vm('web'));
    source = await watchManifests({ path: dir, parser: realParser });
    const first = source.current().manifests[0];
    assert.equal(first?.name, 'web');

    let wait = nextSnapshot(source, (s) => s.manifests.some((m) => m.name === 'web' && m.configHash !== first?.configHash));
    await writeFile(join(dir, 'web.yaml.tmp'), vm('web', 2048));
    await rename(join(dir, 'web.yaml.tmp'), join(dir, 'web.yaml'));
    await wait;

    wait = nextSnapshot(source, (s) => names(s).includes('db'));
    await writeFile(join(dir, 'db.yml'), vm('db'));
    assert.deepEqual(names(await wait), ['db', 'web']);

    wait = nextSnapshot(source, (s) => !names(s).includes('web'));
    await unlink(join(dir, 'web.yaml'));
    const s = await wait;
    assert.deepEqual(s.files, [join(dir, 'db.yml')]);
  });

  it('placement: a manifest for another host is ignored, not applied, and not an error', async () => {
    source = await watchManifests({ path: dir, parser: realParser });
    const wait = nextSnapshot(source, (s) => s.ignored.length === 1 && names(s).includes('near'));
    await writeFile(join(dir, 'far.yaml'), vm('far', 1024, '  placement: { hosts: [other-host] }'));
    await writeFile(join(dir, 'near.yaml'), vm('near', 1024, '  placement: { hostLabels: { zone: a } }'));
    const s = await wait;
    assert.deepEqual(s.ignored.map((i) => i.name), ['far']);
    assert.match(s.ignored[0]?.reason ?? '', /other-host/);
    assert.deepEqual(names(s), ['near']);
    assert.deepEqual(s.errors, []);
  });

  it('a broken edit is an error that names the manifest (last-known-good), with a location', async () => {
    await writeFile(join(dir, 'web.yaml'), vm('web'));
    source = await watchManifests({ path: dir, parser: realParser });
    const wait = nextSnapshot(source, (s) => s.errors.length > 0);
    await writeFile(join(dir, 'web.yaml'), vm('web', 0));
    const s = await wait;
    assert.deepEqual(s.manifests, []);
    assert.equal(s.errors[0]?.name, 'web');
    assert.equal(s.errors[0]?.file, join(dir, 'web.yaml'));
    assert.ok((s.errors[0]?.line ?? 0) > 1, 'points at the field');
  });

  it('a file it will not read (too big) is an error carrying the names it declared before', async () => {
    await writeFile(join(dir, 'web.yaml'), vm('web'));
    await writeFile(join(dir, 'app.yaml'), vm('app', 1024, '  dependsOn: [web]'));
    source = await watchManifests({ path: dir, parser: realParser, maxReadBytes: 4096 });
    assert.deepEqual(names(source.current()), ['app', 'web']);
    const wait = nextSnapshot(source, (s) => s.errors.length > 0);
    await writeFile(join(dir, 'web.yaml'), vm('web') + `# ${'x'.repeat(8192)}\n`);
    const s = await wait;
    assert.deepEqual(s.errors.map((e) => [e.name, e.line, e.col]), [['web', 1, 1]]);
    assert.match(s.errors[0]?.message ?? '', /limit/);
    assert.ok(s.files.includes(join(dir, 'web.yaml')), 'still listed: not a removal');
    assert.deepEqual(names(s), ['app'], '`web` is still declared, so app keeps its dependency');
  });

  it('git-sync swap with real manifests', async () => {
    await mkdir(join(dir, 'rev-1'));
    await writeFile(join(dir, 'rev-1', 'web.yaml'), vm('web'));
    await symlink(join(dir, 'rev-1'), join(dir, 'current'));
    source = await watchManifests({ path: join(dir, 'current'), parser: realParser, resyncMs: 0 });
    const seen = record(source);
    const wait = nextSnapshot(source, (s) => names(s).includes('db'));
    await mkdir(join(dir, 'rev-2'));
    await writeFile(join(dir, 'rev-2', 'web.yaml'), vm('web'));
    await writeFile(join(dir, 'rev-2', 'db.yaml'), vm('db'));
    await symlink(join(dir, 'rev-2'), join(dir, 'tmp-link'));
    await rename(join(dir, 'tmp-link'), join(dir, 'current'));
    const s = await wait;
    assert.deepEqual(s.files, [join(dir, 'current', 'db.yaml'), join(dir, 'current', 'web.yaml')]);
    await source.rescan();
    assert.equal(seen.length, 1);
    assert.equal(source.stats().filesParsed, 2, 'web.yaml: same content in the new worktree, not parsed again');
  });
});
