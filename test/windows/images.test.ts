/**
 * Functional checks of the image import path against the real vmcompute.dll, kernel32 and advapi32
 * (Windows with the Containers feature, elevated). Skipped everywhere else. They settle the
 * UNVERIFIED items of docs/images.md that need no registry: privileges, the backup-stream writes
 * into a base layer folder, ProcessBaseImage on a synthetic layer (expected to fail for a layer
 * without real hives: the error is recorded, not asserted away), NameToGuid's format, DestroyLayer.
 *
 * Run (PowerShell, elevated):  $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { LayerNative, LayerError } from '../../src/hcs/layers.ts';
import { applyLayer } from '../../src/images/apply.ts';
import { LayerWriter } from '../../src/images/writers.ts';
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
