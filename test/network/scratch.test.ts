// Scratch layers (src/scratch/store.ts over src/hcs/scratch.ts) against the emulator's libvmcompute.so:
// the Docker/containerd sequence, ownership, crash leftovers and an emulated reboot.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LayerNative } from '../../src/hcs/layers.ts';
import { ScratchNative } from '../../src/hcs/scratch.ts';
import { ScratchStore } from '../../src/scratch/store.ts';
import { privateEmulator, vmcomputeLibrary } from './helpers.ts';

type HostDump = { volumes: Array<{ path: string; volume: string; prepared: boolean }> };

describe('scratch layers on the emulator', () => {
  let emu: Awaited<ReturnType<typeof privateEmulator>>;
  let layers: LayerNative;
  let native: ScratchNative;
  let base: { id: string; path: string };
  let root: string;
  before(async () => {
    emu = await privateEmulator();
    layers = new LayerNative({ libraryPath: vmcomputeLibrary() });
    native = new ScratchNative(vmcomputeLibrary());
    root = mkdtempSync(join(emu.dir, 'data-'));
    const path = join(root, 'layers', 'base');
    const config = join(path, 'Files', 'Windows', 'System32', 'config');
    mkdirSync(config, { recursive: true });
    for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM']) writeFileSync(join(config, h), 'hive');
    layers.enableBackupPrivileges();
    layers.processBaseImage(path);
    base = { id: layers.nameToGuid('base'), path };
  });
  after(() => emu.stop());
  const volumes = async () => ((await emu.control.command('host')) as unknown as HostDump).volumes;

  test('create: sandbox.vhdx from blank.vhdx, expanded, activated, prepared, \\\\?\\Volume{GUID}\\; remove undoes all', async () => {
    const store = new ScratchStore(root, native, layers);
    const m = await store.create('web-1', [base], 30);
    assert.match(m.volumePath, /^\\\\\?\\Volume\{[0-9a-f-]{36}\}\\$/);
    assert.ok(existsSync(join(m.dir, 'sandbox.vhdx')));
    assert.equal(readFileSync(join(m.dir, 'sandbox.vhdx'), 'utf8'), readFileSync(join(base.path, 'blank.vhdx'), 'utf8'), 'a copy of the template');
    assert.match(readFileSync(join(m.dir, '.hcsemu-layer'), 'utf8'), /size=32212254720/, 'ExpandSandboxSize(30 GiB)');
    assert.deepEqual((await volumes()).map((v) => [v.path, v.prepared]), [[m.dir, true]]);
    assert.deepEqual(await store.mounted('web-1'), m);
    assert.deepEqual(store.list(), ['web-1']);
    assert.equal(await store.remove('web-1'), true);
    assert.deepEqual(await volumes(), []);
    assert.deepEqual(readdirSync(store.root), [], 'no file of that system is left');
  });

  test('a leftover after a crash (mounted, not removed) is swept; a foreign folder is never touched', async () => {
    const store = new ScratchStore(root, native, layers);
    await store.create('crashed-1', [base]);
    const foreign = join(store.root, 'not-ours');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'sandbox.vhdx'), 'someone else');
    // A new controller process: a fresh store over the same root.
    const again = new ScratchStore(root, native, layers);
    assert.deepEqual(again.list(), ['crashed-1']);
    assert.deepEqual(await again.sweep(new Set()), ['crashed-1']);
    assert.deepEqual(await volumes(), [], 'the activated leftover was unmounted');
    assert.deepEqual(readdirSync(store.root), ['not-ours']);
    await assert.rejects(again.create('not-ours', [base]), /was not made by hcs-reconciler; it is left alone/);
    assert.equal(await again.remove('not-ours'), false);
    assert.equal(readFileSync(join(foreign, 'sandbox.vhdx'), 'utf8'), 'someone else');
  });

  test('after an emulated reboot the scratch is no longer mounted but its files stay; create anew cleans it first', async () => {
    const store = new ScratchStore(root, native, layers);
    const before = await store.create('rb-1', [base]);
    await emu.control.command('reboot');
    assert.deepEqual(await volumes(), []);
    assert.ok(existsSync(join(before.dir, 'sandbox.vhdx')), 'files on disk survive');
    assert.equal(await store.mounted('rb-1'), undefined);
    const after = await store.create('rb-1', [base]);
    assert.notEqual(after.volumePath, before.volumePath, 'a new volume');
    assert.equal(await store.remove('rb-1'), true);
  });

  test('the emulator refuses the sequence out of order', async () => {
    const dir = join(root, 'manual');
    await assert.rejects(native.activateLayer(dir), /layers ActivateLayer .*manual: ERROR_PATH_NOT_FOUND/, 'no sandbox.vhdx yet');
    await native.createSandboxLayer(dir, [base]);
    await assert.rejects(native.createSandboxLayer(dir, [base]), /ERROR_FILE_EXISTS/);
    await assert.rejects(native.prepareLayer(dir, [base]), /WIN32_1168|0x80070490/, 'prepare before activate');
    assert.equal(await native.getLayerMountPath(dir), '');
    await native.activateLayer(dir);
    await native.prepareLayer(dir, [base]);
    await assert.rejects(native.deactivateLayer(dir), /0x800700AA/, 'deactivate while prepared');
    await native.unprepareLayer(dir);
    await native.deactivateLayer(dir);
    layers.destroyLayer(dir);
    assert.equal(existsSync(dir), false);
  });
});
