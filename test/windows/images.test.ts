/**
 * Functional checks of the image import path against the real vmcompute.dll, kernel32 and advapi32
 * (Windows with the Containers feature, elevated). Skipped everywhere else. They settle the
 * UNVERIFIED items of docs/images.md that need no registry: privileges, the backup-stream writes
 * into a base layer folder, ProcessBaseImage on a synthetic layer (expected to fail for a layer
 * without real hives: the error is recorded, not asserted away), NameToGuid's format, DestroyLayer;
 * and, over Docker's layer folders (HCS_TEST_LAYERS), a non-base layer that changes the real base
 * layer's utility VM image (the clone, BackupRead, the hard links, ImportLayer onto a folder that
 * already holds UtilityVM, ProcessUtilityImage of a non-base layer: docs/images.md UNVERIFIED items).
 *
 * Run (PowerShell, elevated):  $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { LayerNative, LayerError } from '../../src/hcs/layers.ts';
import { applyLayer } from '../../src/images/apply.ts';
import { readDir } from '../../src/images/utility-vm.ts';
import { LayerWriter } from '../../src/images/writers.ts';
import { dockerLayers } from './helpers.ts';
import { baseLayerEntries, layerTar, sha } from '../images/synthetic.ts';

const enabled = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1';
const skip = enabled ? false : 'needs Windows with the Containers feature, elevated, and HCS_FUNCTIONAL=1 (real vmcompute.dll)';

test('privileges, NameToGuid, a base layer written with BackupWrite, ProcessBaseImage, DestroyLayer', { skip }, async (t) => {
  const ops = new LayerNative();
  ops.enableBackupPrivileges();
  const id = ops.nameToGuid('hcs-reconciler-functional-layer');
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(ops.nameToGuid('hcs-reconciler-functional-layer'), id);
  t.diagnostic(`NameToGuid("hcs-reconciler-functional-layer") = ${id}`);

  const dir = await mkdtemp(join(tmpdir(), 'hcsr-win-layer-'));
  const layer = join(dir, 'base');
  await mkdir(layer);
  const tar = await layerTar(baseLayerEntries());
  const blob = join(dir, 'base.tar.gz');
  await writeFile(blob, gzipSync(tar));
  let processed: unknown;
  try {
    await applyLayer(blob, 'gzip', sha(tar), LayerWriter.base(ops, layer));
    processed = 'ok';
  } catch (err) {
    processed = err;
  }
  // The BackupWrite part must have worked whatever ProcessBaseImage says about synthetic hives.
  assert.equal(await readFile(join(layer, 'Files', 'Windows', 'hello.txt'), 'utf8'), 'hello from a base layer\r\n');
  assert.equal(await readFile(join(layer, 'Files', 'Windows', 'hello.txt:stream1'), 'utf8'), 'alternate data');
  t.diagnostic(`ProcessBaseImage on a synthetic layer: ${processed instanceof LayerError ? processed.message : String(processed)}`);
  t.diagnostic(`blank.vhdx after processing: ${existsSync(join(layer, 'blank.vhdx'))}`);
  ops.destroyLayer(layer);
  assert.equal(existsSync(layer), false);
});

const withLayers = skip || (dockerLayers.length === 0 ? 'needs HCS_TEST_LAYERS (Docker\'s nanoserver layer folders, topmost first)' : false);

test('a non-base layer that adds, replaces and whites out utility VM files on the real base layer', { skip: withLayers }, async (t) => {
  const ops = new LayerNative();
  ops.enableBackupPrivileges();
  const base = dockerLayers.at(-1)!;
  const win = join(base, 'UtilityVM', 'Files', 'Windows');
  // Two plain files of the real image: one to replace, one to white out.
  const plain = readDir(ops, win).filter((e) => (e.attributes & 0x410) === 0).map((e) => e.name);
  assert.ok(plain.length >= 2, `two plain files in ${win}`);
  const [replaced, removed] = plain as [string, string];
  const before = await readFile(join(win, replaced));
  const tar = await layerTar([
    { name: 'Files', type: 'directory' },
    { name: 'Files/hcsr-functional.txt', data: 'app' },
    { name: 'UtilityVM', type: 'directory' },
    { name: 'UtilityVM/Files', type: 'directory' },
    { name: 'UtilityVM/Files/hcsr-added.txt', data: 'added' },
    { name: `UtilityVM/Files/Windows/${replaced}`, data: 'replaced' },
    { name: `UtilityVM/Files/Windows/.wh.${removed}` },
  ]);
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-win-uvm-'));
  const dest = join(dir, 'update');
  const staging = join(dir, 'staging');
  await mkdir(staging);
  const blob = join(dir, 'update.tar.gz');
  await writeFile(blob, gzipSync(tar));
  const parents = dockerLayers.map((path) => ({ id: ops.nameToGuid(basename(path)), path }));
  let result: unknown = 'ok';
  try {
    await applyLayer(blob, 'gzip', sha(tar), LayerWriter.transport(ops, staging, dest, parents));
  } catch (err) {
    result = err; // ImportLayer / ProcessUtilityImage on a synthetic layer: recorded, the clone is checked below
  }
  t.diagnostic(`ImportLayer + ProcessUtilityImage of a non-base layer with a utility VM: ${result instanceof Error ? result.message : String(result)}`);
  const uvm = join(dest, 'UtilityVM', 'Files');
  assert.equal(await readFile(join(uvm, 'hcsr-added.txt'), 'utf8'), 'added');
  assert.equal(await readFile(join(uvm, 'Windows', replaced), 'utf8'), 'replaced');
  assert.equal(existsSync(join(uvm, 'Windows', removed)), false);
  assert.ok((await readFile(join(win, replaced))).equals(before), 'the base layer\'s file is unchanged (the link was removed before the create)');
  assert.ok(existsSync(join(win, removed)), 'the whiteout removed the clone\'s link only');
  const kept = plain.slice(2).find((n) => existsSync(join(uvm, 'Windows', n)));
  if (kept) t.diagnostic(`unchanged ${kept}: same file index as the base's: ${statSync(join(uvm, 'Windows', kept)).ino === statSync(join(win, kept)).ino}`);
  t.diagnostic(`SystemTemplate.vhdx after processing: ${existsSync(join(dest, 'UtilityVM', 'SystemTemplate.vhdx'))}`);
  ops.destroyLayer(dest);
  assert.ok(existsSync(join(win, removed)), 'DestroyLayer of the new layer leaves the base alone');
});
