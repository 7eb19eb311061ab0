/** The `image` CLI contracts against the real registry: pull output, ls -o json shape, rm refusal while in use, prune. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, } from './run-cli.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from '../images/real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage, type SyntheticImage } from '../images/synthetic.ts';

const manifest = (name: string, image: string) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  container:
    image: ${image}
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
`;

describe('image CLI', { skip: process.platform === 'win32' ? 'uses the emulator library' : registrySkip }, () => {
  let reg: RealRegistry;
  let img: SyntheticImage;
  let dir: string;
  before(async () => {
    reg = await startRealRegistry();
    img = windowsImage([await layerTar(baseLayerEntries()), await layerTar([{ name: 'Files/app', type: 'directory' }, { name: 'Files/app/web.exe', data: 'MZ' }])], { config: { Entrypoint: ['C:\\app\\web.exe'], Cmd: ['--port', '80'], User: 'ContainerUser' } });
    await pushImage(reg.base, 'win/web', 'v1', img);
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-img-'));
    mkdirSync(join(dir, 'manifests'));
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pull, ls, render, rm refused while in use, prune empties the store', async () => {
    const g = ['--data-root', join(dir, 'data')];
    const ref = `${reg.host}/win/web:v1`;
    const pull = await cli([...g, 'image', 'pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    const lines = pull.stdout.trim().split('\n');
    assert.equal(lines.length, 3, 'one line per layer, then the summary');
    assert.match(lines[0]!, /^[0-9a-f]{12}: pulled \d+\.\d MB$/);
    assert.equal(lines[2], `${ref}: ${img.index.digest} (2 layers, os.version 10.0.20348.1)`);

    writeFileSync(join(dir, 'manifests', 'web.yaml'), manifest('web', ref));
    const ls = await cli([...g, 'image', 'ls', '-o', 'json', '--manifests', join(dir, 'manifests')]);
    assert.equal(ls.code, 0, ls.stderr);
    const rows = JSON.parse(ls.stdout) as Record<string, unknown>[];
    assert.equal(rows.length, 1);
    assert.deepEqual(Object.keys(rows[0]!), ['reference', 'digest', 'osVersion', 'sizeBytes', 'layers', 'inUseBy']);
    assert.deepEqual({ ...rows[0], sizeBytes: typeof rows[0]!.sizeBytes }, { reference: ref, digest: img.index.digest, osVersion: '10.0.20348.1', sizeBytes: 'number', layers: 2, inUseBy: ['web'] });

    // The manifest renders from the store: layers top-most first, command line from Entrypoint + Cmd.
    const render = await cli([...g, 'render', join(dir, 'manifests', 'web.yaml'), '-o', 'json']);
    assert.equal(render.code, 0, render.stderr);
    assert.match(render.stdout, /"CommandLine": "C:\\\\app\\\\web.exe --port 80"/);
    assert.match(render.stdout, /"User": "ContainerUser"/, "the image config's User, as ProcessParameters.User");
    assert.match(render.stdout, new RegExp(`"Path": "${join(dir, 'data', 'layers').replace(/[/\\]/g, '.')}`));

    const rm = await cli([...g, 'image', 'rm', ref, '--manifests', join(dir, 'manifests')]);
    assert.equal(rm.code, 1);
    assert.equal(rm.stderr, `hcs-reconciler: image ${ref} is in use by web; remove or change those manifests first\n`);

    const keep = await cli([...g, 'image', 'prune', '-o', 'json', '--manifests', join(dir, 'manifests')]);
    assert.equal(keep.code, 0, keep.stderr);
    assert.deepEqual(JSON.parse(keep.stdout), { layers: [], reclaimedBytes: 0, images: [] });

    rmSync(join(dir, 'manifests', 'web.yaml'));
    const prune = await cli([...g, 'image', 'prune', '-o', 'json', '--manifests', join(dir, 'manifests')]);
    assert.equal(prune.code, 0, prune.stderr);
    const res = JSON.parse(prune.stdout) as { images: string[]; layers: string[]; reclaimedBytes: number };
    assert.deepEqual(res.images, [ref]);
    assert.equal(res.layers.length, 2);
    const empty = await cli([...g, 'image', 'ls', '-o', 'json']);
    assert.deepEqual(JSON.parse(empty.stdout), []);

    const missing = await cli([...g, 'image', 'pull', `${reg.host}/win/nope:v1`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^hcs-reconciler: .*win\/nope:v1: manifest v1: 404 MANIFEST_UNKNOWN: manifest unknown\n$/);
  });
});
