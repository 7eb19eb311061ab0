/** Automatic image GC with an injected clock: in-use images stay, unused ones go after the grace period. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureEmulatorLibrary, emulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { LayerNative } from '../../src/hcs/layers.ts';
import { ImageGc } from '../../src/images/gc.ts';
import { ImageStore } from '../../src/images/store.ts';
import { RegistryClient } from '../../src/registry/index.ts';
import { startFakeRegistry } from './fake-registry.ts';
import { baseLayerEntries, layerTar, windowsImage } from './synthetic.ts';

test('GC removes an image only after it was unused for the grace period, never one in use', { skip: process.platform === 'win32' ? 'uses the Linux emulator library' : false }, async () => {
  ensureEmulatorLibrary();
  const ops = new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
  ops.enableBackupPrivileges();
  const store = await ImageStore.open(await mkdtemp(join(tmpdir(), 'hcsr-gc-')), ops);
  const fake = await startFakeRegistry();
  try {
    const base = await layerTar(baseLayerEntries());
    fake.add('win/a', 'v1', windowsImage([base, await layerTar([{ name: 'Files/a.txt', data: 'a' }])]));
    fake.add('win/b', 'v1', windowsImage([base, await layerTar([{ name: 'Files/b.txt', data: 'b' }])]));
    const client = new RegistryClient({ platform: { architecture: 'amd64', osVersion: '10.0.20348.1' } });
    const a = `${fake.host}/win/a:v1`;
    const b = `${fake.host}/win/b:v1`;
    await store.pull(a, { client });
    await store.pull(b, { client });
    let now = 1_000_000;
    const gc = new ImageGc(store, { graceMs: 60_000, now: () => now });
    assert.deepEqual((await gc.sweep([a, b])).images, []);
    assert.deepEqual((await gc.sweep([a])).images, [], 'b just became unused');
    now += 59_999;
    assert.deepEqual((await gc.sweep([a])).images, []);
    now += 1;
    const r = await gc.sweep([a]);
    assert.deepEqual(r.images, [b]);
    assert.equal(r.layers.length, 1, 'only b\'s own layer; the shared base stays for a');
    assert.equal((await readdir(store.paths.layers)).length, 2);
    now += 3_600_000;
    assert.deepEqual((await gc.sweep([`${fake.host}/win/a:v1`])).images, [], 'in use: never removed');
    assert.deepEqual((await gc.sweep([])).images, [], 'unused from now on: the grace period starts again');
  } finally {
    await fake.close();
    await rm(store.paths.root, { recursive: true });
  }
});
