/** The image adapter the controller drives: policies, one pull per reference, Pulling progress, permanent vs retryable failures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureEmulatorLibrary, emulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { LayerNative } from '../../src/hcs/layers.ts';
import { ImagePuller } from '../../src/images/puller.ts';
import { ImageStore } from '../../src/images/store.ts';
import { RegistryClient } from '../../src/registry/index.ts';
import { startFakeRegistry } from './fake-registry.ts';
import { baseLayerEntries, layerTar, windowsImage } from './synthetic.ts';

const skip = process.platform === 'win32' ? 'uses the Linux emulator library' : false;
const host = '10.0.20348.1';

async function setup(faults?: Parameters<typeof startFakeRegistry>[0]) {
  ensureEmulatorLibrary();
  const ops = new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
  ops.enableBackupPrivileges();
  const store = await ImageStore.open(await mkdtemp(join(tmpdir(), 'hcsr-puller-')), ops);
  const fake = await startFakeRegistry(faults);
  const changed: string[] = [];
  const puller = new ImagePuller(store, new RegistryClient({ platform: { architecture: 'amd64', osVersion: host } }), { hostOsVersion: host, onStoreChanged: (r) => changed.push(r) });
  return { store, fake, puller, changed, done: async () => {
    await fake.close();
    await rm(store.paths.root, { recursive: true });
  } };
}

test('IfNotPresent pulls once; concurrent ensures share the pull and observe shows Pulling with bytes', { skip }, async () => {
  const img = windowsImage([await layerTar(baseLayerEntries([{ name: 'Files/pad.bin', data: Buffer.alloc(200_000, 7) }]))], { gzip: false });
  const { fake, puller, changed, done } = await setup({ faults: new Map([[img.layers[0]!.digest, 'slow']]) });
  try {
    fake.add('win/app', 'v1', img);
    const ref = `${fake.host}/win/app:v1`;
    const a = puller.ensure(ref);
    const b = puller.ensure(ref, 'IfNotPresent');
    let seen: Awaited<ReturnType<typeof puller.observe>>[number] | undefined;
    for (;;) {
      [seen] = await puller.observe([ref]);
      if (seen!.state === 'Pulling' && (seen!.doneBytes ?? 0) > 0) break;
      await new Promise((r) => setImmediate(r)); // until the first half of the stalled blob is in
    }
    assert.equal(seen!.totalBytes, img.layers[0]!.size);
    assert.ok(seen!.doneBytes! < seen!.totalBytes!);
    fake.release();
    const [ra, rb] = await Promise.all([a, b]);
    assert.ok(ra.ok && rb.ok && ra.pulled);
    assert.equal(fake.blobGets.get(img.layers[0]!.digest), 1);
    assert.deepEqual(changed, [ref]);
    assert.deepEqual((await puller.observe([ref]))[0], { reference: ref, state: 'Present', digest: img.index.digest, osVersion: '10.0.20348.1' });
    const again = await puller.ensure(ref);
    assert.ok(again.ok && !again.pulled);
    assert.equal(fake.blobGets.get(img.layers[0]!.digest), 1, 'present: no download');
  } finally {
    await done();
  }
});

test('Always re-resolves: an unchanged tag changes nothing, a moved tag pulls and reports the change', { skip }, async () => {
  const { fake, puller, changed, done } = await setup();
  try {
    const v1 = windowsImage([await layerTar(baseLayerEntries())]);
    const v2 = windowsImage([await layerTar(baseLayerEntries([{ name: 'Files/v2.txt', data: 'two' }]))]);
    fake.add('win/app', 'latest', v1);
    const ref = `${fake.host}/win/app:latest`;
    assert.ok((await puller.ensure(ref, 'Always')).ok);
    const same = await puller.ensure(ref, 'Always');
    assert.ok(same.ok && !same.pulled);
    assert.equal(changed.length, 1);
    fake.add('win/app', 'latest', v2);
    const moved = await puller.ensure(ref, 'IfNotPresent');
    assert.ok(moved.ok && moved.record.digest === v1.index.digest, 'IfNotPresent keeps the stored image when the tag moves');
    const always = await puller.ensure(ref, 'Always');
    assert.ok(always.ok && always.pulled && always.record.digest === v2.index.digest);
    assert.equal(changed.length, 2);
  } finally {
    await done();
  }
});

test('failures: Never + missing and a platform mismatch are permanent and name the host build; a 404 is retryable with the registry text', { skip }, async () => {
  const { fake, puller, done } = await setup();
  try {
    fake.add('win/old', 'ltsc2019', windowsImage([await layerTar(baseLayerEntries())], { osVersion: '10.0.17763.1' }));
    const never = await puller.ensure(`${fake.host}/win/app:v1`, 'Never');
    assert.ok(!never.ok && never.permanent);
    assert.match(never.error, /not in the local image store and imagePullPolicy is Never \(host build 10\.0\.20348\.1\)/);
    const mismatch = await puller.ensure(`${fake.host}/win/old:ltsc2019`);
    assert.ok(!mismatch.ok && mismatch.permanent);
    assert.match(mismatch.error, /no image for this host \(windows\/amd64 10\.0\.20348\.1\); the index offers windows\/amd64 10\.0\.17763\.1/);
    const missing = await puller.ensure(`${fake.host}/win/nope:v1`);
    assert.ok(!missing.ok && !missing.permanent);
    assert.match(missing.error, /404 MANIFEST_UNKNOWN: manifest unknown/);
    const bad = await puller.ensure('Not A Reference');
    assert.ok(!bad.ok && bad.permanent);
  } finally {
    await done();
  }
});
