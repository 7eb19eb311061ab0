/** The image store: pull, list, remove, prune, and crash safety (kill -9 mid-pull), on the emulator's layer library. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureEmulatorLibrary, emulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { LayerNative } from '../../src/hcs/layers.ts';
import { ImageStore, type LayerProgress } from '../../src/images/store.ts';
import { isDigestMismatch, RegistryClient } from '../../src/registry/index.ts';
import { startFakeRegistry } from './fake-registry.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from './real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage, type SyntheticImage } from './synthetic.ts';

const skip = process.platform === 'win32' ? 'uses the Linux emulator library' : false;
const client = new RegistryClient({ platform: { architecture: 'amd64', osVersion: '10.0.20348.1' } });
let ops: LayerNative;
const layerOps = () => {
  if (!ops) {
    ensureEmulatorLibrary();
    ops = new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
    ops.enableBackupPrivileges();
  }
  return ops;
};
const newStore = async () => ImageStore.open(await mkdtemp(join(tmpdir(), 'hcsr-images-')), layerOps());

async function image(app: string, base?: Buffer): Promise<{ img: SyntheticImage; base: Buffer }> {
  const b = base ?? (await layerTar(baseLayerEntries()));
  const top = await layerTar([{ name: 'Files/app', type: 'directory' }, { name: `Files/app/${app}.exe`, data: `MZ ${app}` }]);
  return { img: windowsImage([b, top]), base: b };
}

describe('image store on the real registry', { skip: skip || registrySkip }, () => {
  let reg: RealRegistry;
  let a: SyntheticImage;
  let b: SyntheticImage;
  before(async () => {
    reg = await startRealRegistry();
    const first = await image('web');
    a = first.img;
    b = (await image('worker', first.base)).img; // shares the base layer
    await pushImage(reg.base, 'win/web', 'v1', a);
    await pushImage(reg.base, 'win/worker', 'v1', b);
  });
  after(async () => reg?.stop());

  test('pull imports every layer once, records the image, leaves no staging; a second pull downloads nothing', async () => {
    const store = await newStore();
    const seen: LayerProgress[] = [];
    const r = await store.pull(`${reg.host}/win/web:v1`, { client, onProgress: (p) => seen.push(p) });
    assert.equal(r.reference, `${reg.host}/win/web:v1`);
    assert.equal(r.manifestDigest, a.manifest.digest);
    assert.equal(r.osVersion, '10.0.20348.1');
    assert.deepEqual(r.process, { cmd: ['c:\\windows\\system32\\cmd.exe'], env: ['PATH=C:\\Windows\\system32;C:\\Windows'], workingDir: 'C:\\', user: 'ContainerUser' });
    assert.deepEqual(seen.filter((p) => p.phase === 'done').map((p) => p.digest), a.layers.map((l) => l.digest));
    const layers = store.hcsLayers(r);
    assert.equal(layers.length, 2);
    assert.ok(existsSync(join(layers[0]!.path, 'Files', 'app', 'web.exe')), 'top-most first');
    assert.ok(existsSync(join(layers[1]!.path, 'blank.vhdx')), 'base last');
    assert.equal(layers[1]!.id, layerOps().nameToGuid(basename(layers[1]!.path)));
    assert.deepEqual(await readdir(store.paths.tmp), []);
    assert.deepEqual((await readdir(store.paths.layers)).filter((n) => n.startsWith('.tmp-')), []);
    assert.deepEqual(await readdir(store.paths.blobs), [], 'blobs are staging: removed once imported');
    const again: LayerProgress[] = [];
    await store.pull(`${reg.host}/win/web:v1`, { client, onProgress: (p) => again.push(p) });
    assert.deepEqual(again.map((p) => p.phase), ['exists', 'exists']);
    assert.equal((await store.list()).length, 1);
    await rm(store.paths.root, { recursive: true });
  });

  test('remove keeps shared layers until the last image that uses them goes; prune keeps what is in use', async () => {
    const store = await newStore();
    await store.pull(`${reg.host}/win/web:v1`, { client });
    await store.pull(`${reg.host}/win/worker:v1`, { client });
    assert.equal((await readdir(store.paths.layers)).length, 3);
    const rm1 = await store.remove(`${reg.host}/win/web:v1`);
    assert.equal(rm1.layers.length, 1, 'only web\'s own layer');
    assert.equal((await readdir(store.paths.layers)).length, 2);
    await store.pull(`${reg.host}/win/web:v1`, { client });
    const kept = await store.prune((r) => r.reference.endsWith('/win/worker:v1'));
    assert.deepEqual(kept.images, [`${reg.host}/win/web:v1`]);
    assert.equal((await store.list()).length, 1);
    const grace = await store.prune(() => false, 3_600_000);
    assert.deepEqual(grace.images, [], 'younger than the grace period');
    const all = await store.prune(() => false);
    assert.equal(all.images.length, 1);
    assert.deepEqual(await readdir(store.paths.layers), []);
    assert.ok(all.reclaimedBytes > 0);
    await rm(store.paths.root, { recursive: true });
  });
});

describe('image store faults', { skip }, () => {
  test('a tampered blob fails the pull with a digest error and stores nothing', async () => {
    const { img } = await image('web');
    const fake = await startFakeRegistry({ faults: new Map([[img.layers[1]!.digest, 'corrupt']]) });
    try {
      fake.add('win/web', 'v1', img);
      const store = await newStore();
      await assert.rejects(store.pull(`${fake.host}/win/web:v1`, { client }), (e: unknown) => isDigestMismatch(e));
      assert.deepEqual(await store.list(), []);
      assert.equal((await readdir(store.paths.layers)).filter((n) => n.startsWith('.tmp-')).length, 0);
      await rm(store.paths.root, { recursive: true });
    } finally {
      await fake.close();
    }
  });

  test('the base layer is imported from its download stream; when that stream breaks, from the resumed file', async () => {
    const { img } = await image('web');
    const fake = await startFakeRegistry({ faults: new Map([[img.layers[0]!.digest, 'truncate-once']]) });
    try {
      fake.add('win/web', 'v1', img);
      const store = await newStore();
      const phases: string[] = [];
      const r = await store.pull(`${fake.host}/win/web:v1`, { client, onProgress: (p) => p.digest === img.layers[0]!.digest && phases.push(p.phase) });
      assert.equal(fake.blobGets.get(img.layers[0]!.digest), 2, 'resumed once');
      assert.ok(phases.includes('import'), `imported from the file after the stream broke: ${phases.join(',')}`);
      assert.ok(existsSync(join(store.hcsLayers(r)[1]!.path, 'blank.vhdx')));
      assert.deepEqual((await readdir(store.paths.layers)).filter((n) => n.startsWith('.tmp-')), []);
      const clean = await newStore();
      const phases2: string[] = [];
      const fake2 = await startFakeRegistry();
      fake2.add('win/web', 'v1', img);
      await clean.pull(`${fake2.host}/win/web:v1`, { client, onProgress: (p) => p.digest === img.layers[0]!.digest && phases2.push(p.phase) });
      assert.ok(!phases2.includes('import'), 'a clean download is imported while it streams (no second read)');
      await fake2.close();
      await rm(store.paths.root, { recursive: true });
      await rm(clean.paths.root, { recursive: true });
    } finally {
      await fake.close();
    }
  });

  test('kill -9 in the middle of a pull, then a new pull: resumed, no duplicate or half layer', async () => {
    // A big incompressible top layer, streamed slowly (half, then a stall), so the child is killed mid-download.
    const { randomBytes } = await import('node:crypto');
    const big = await layerTar([{ name: 'Files/big.bin', data: randomBytes(4 << 20) }]);
    const base = await layerTar(baseLayerEntries());
    const img = windowsImage([base, big]);
    const fake = await startFakeRegistry({ faults: new Map([[img.layers[1]!.digest, 'slow']]) });
    const root = await mkdtemp(join(tmpdir(), 'hcsr-kill-'));
    try {
      fake.add('win/big', 'v1', img);
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/images/pull-child.ts', root, `${fake.host}/win/big:v1`], { stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<string | null>((r) => child.once('exit', (_c, sig) => r(sig)));
      const lines = createInterface({ input: child.stdout! });
      for await (const line of lines) {
        // The base is imported and half the big blob is on disk: kill now.
        if (line.startsWith(`download ${img.layers[1]!.digest}`) && Number(line.split(' ')[2]!.split('/')[0]) >= img.layers[1]!.size >> 1) break;
      }
      child.kill('SIGKILL');
      assert.equal(await exited, 'SIGKILL');
      assert.ok((await readdir(join(root, 'tmp'))).some((n) => n.endsWith('.partial')), 'a partial download was left');
      const store = await ImageStore.open(root, layerOps());
      const layerDirs = () => readdir(store.paths.layers);
      assert.deepEqual((await layerDirs()).filter((n) => n.startsWith('.tmp-')), []);
      fake.release();
      const r = await store.pull(`${fake.host}/win/big:v1`, { client });
      assert.equal((await layerDirs()).length, 2);
      assert.ok(existsSync(join(store.hcsLayers(r)[0]!.path, 'Files', 'big.bin')));
      assert.equal(fake.blobGets.get(img.layers[1]!.digest), 2, 'the second pull resumed the same blob');
      assert.deepEqual((await readdir(store.paths.tmp)), []);
    } finally {
      await fake.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});
