/**
 * Audit D14: the id of a manifest-given layer is NameToGuid of its folder's base name (hcsshim
 * internal/wclayer/layerid.go), resolved by the loader before render; a different id is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layerIdOf } from '../../src/cli/layer-ids.ts';
import { parseManifestFile } from '../../src/manifest/index.ts';
import { layerFolderName, withLayerIds } from '../../src/manifest/layer-ids.ts';
import type { Manifest } from '../../src/manifest/types.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function yaml(layers: string): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: web }
spec:
  container:
    layers:
${layers}    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
`;
}

const parse = (text: string, layerIds?: (n: string) => string) =>
  parseManifestFile('m/web.yaml', new TextEncoder().encode(text), layerIds ? { layerIds } : {});

const layersOf = (r: ReturnType<typeof parse>) =>
  (r.manifests[0]!.parts[0]!.document.Container as { Storage: { Layers: Array<{ Id: string; Path: string }> } }).Storage.Layers;

test('D14: the folder base name is what hcsshim hashes (filepath.Base: trailing separators ignored)', () => {
  assert.equal(layerFolderName('C:\\ProgramData\\layers\\web-app'), 'web-app');
  assert.equal(layerFolderName('C:\\ProgramData\\layers\\web-app\\'), 'web-app');
  assert.equal(layerFolderName('D:\\l\\sha256-abc'), 'sha256-abc');
});

test('D14: a layer without an id gets NameToGuid(folder name); a matching id (any case) is accepted', () => {
  const seen: string[] = [];
  const resolver = (n: string) => {
    seen.push(n);
    return n === 'base' ? '0D9E6A4B-1111-5222-8333-444455556666' : 'aaaaaaaa-1111-5222-8333-444455556666';
  };
  const r = parse(yaml("      - path: 'C:\\layers\\app'\n      - id: 0d9e6a4b-1111-5222-8333-444455556666\n        path: 'C:\\layers\\base'\n"), resolver);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(seen, ['app', 'base']);
  assert.deepEqual(layersOf(r), [
    { Id: 'aaaaaaaa-1111-5222-8333-444455556666', Path: 'C:\\layers\\app' },
    { Id: '0d9e6a4b-1111-5222-8333-444455556666', Path: 'C:\\layers\\base' },
  ]);
});

test('D14: an id that is not the folder\'s NameToGuid is refused at its line, with the id to use; nothing is rendered', () => {
  const r = parse(yaml("      - id: 8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41\n        path: 'C:\\layers\\base'\n"), () => 'aa54c278-e19b-5a7c-bbf7-91e0123aa69a');
  assert.equal(r.manifests.length, 0);
  assert.equal(r.errors.length, 1);
  const e = r.errors[0]!;
  assert.equal(e.path, 'spec.container.layers[0].id');
  assert.equal(e.line, 7);
  assert.equal(e.name, 'web', 'the name is kept, so the running system is held, not pruned');
  assert.match(e.message, /layer id 8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41 is not the id HCS uses for folder "base" \(NameToGuid gives aa54c278-e19b-5a7c-bbf7-91e0123aa69a/);
  assert.match(e.message, /remove id, or set it to aa54c278-e19b-5a7c-bbf7-91e0123aa69a/);
});

test('D14: without a resolver, written ids are kept and a missing one is an error; a failing resolver is an error', () => {
  const kept = parse(yaml("      - id: 8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41\n        path: 'C:\\layers\\base'\n"));
  assert.equal(layersOf(kept)[0]!.Id, '8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41');
  const missing = parse(yaml("      - path: 'C:\\layers\\base'\n"));
  assert.match(missing.errors[0]!.message, /has no id and none can be computed here/);
  const failing = parse(yaml("      - path: 'C:\\layers\\base'\n"), () => {
    throw new Error('NameToGuid: E_INVALIDARG');
  });
  assert.equal(failing.errors[0]!.path, 'spec.container.layers[0].path');
  assert.match(failing.errors[0]!.message, /cannot compute the layer id of folder "base" with NameToGuid \(NameToGuid: E_INVALIDARG\)/);
});

test('D14: image manifests are untouched (the image store already gives NameToGuid ids)', () => {
  const m = { apiVersion: 'hcs-reconciler/v1alpha1', kind: 'ComputeSystem', metadata: { name: 'x' }, spec: { container: { image: 'img' } } } as unknown as Manifest;
  const r = withLayerIds(m, () => assert.fail('not called'));
  assert.ok('manifest' in r && r.manifest === m);
});

test('D14: the CLI binds NameToGuid (the emulator\'s here): validate refuses a wrong id, render prints the derived one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-layerid-'));
  try {
    const bin = join(root, 'src/cli/bin.mjs');
    const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    writeFileSync(join(dir, 'bad.yaml'), yaml("      - id: 8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41\n        path: 'C:\\layers\\base'\n"));
    const bad = cli(['validate', join(dir, 'bad.yaml')]);
    assert.equal(bad.status, 1, bad.stderr);
    assert.match(bad.stderr, new RegExp(`bad\\.yaml:7:\\d+ spec\\.container\\.layers\\[0\\]\\.id: layer id 8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41 is not the id HCS uses for folder "base" \\(NameToGuid gives ${layerIdOf('base')}`));
    writeFileSync(join(dir, 'good.yaml'), yaml("      - path: 'C:\\layers\\base'\n"));
    const r = cli(['render', join(dir, 'good.yaml'), '-o', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const [web] = JSON.parse(r.stdout) as Array<{ parts: Array<{ document: { Container: { Storage: { Layers: Array<{ Id: string }> } } } }> }>;
    assert.deepEqual(web!.parts[0]!.document.Container.Storage.Layers.map((l) => l.Id), [layerIdOf('base')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
