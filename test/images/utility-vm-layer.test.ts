/**
 * A non-base layer that changes the utility VM image, imported the way hcsshim does it
 * (internal/wclayer/legacy.go initUtilityVM / cloneTree / Add / Remove, importlayer.go
 * legacyLayerWriterWrapper.Close), on the emulator's libraries: the parent's UtilityVM\Files cloned
 * into the new layer folder (hard links, copies of directories, reparse points and the BCD files),
 * the layer's entries written there, its whiteouts removed there, then ImportLayer and
 * ProcessUtilityImage(<layer>\UtilityVM). Also through ImageStore.pull from the in-test registry.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { LayerNative } from '../../src/hcs/layers.ts';
import { applyLayer } from '../../src/images/apply.ts';
import { ImageStore } from '../../src/images/store.ts';
import { LayerWriter } from '../../src/images/writers.ts';
import { RegistryClient } from '../../src/registry/index.ts';
import { startFakeRegistry } from './fake-registry.ts';
import { baseLayerEntries, type EntrySpec, layerTar, RAW_SD, sha, windowsImage } from './synthetic.ts';
import { emulatedLayerOps, recordingLayerOps } from './layer-ops.ts';

const skip = process.platform === 'win32' ? 'the emulator libraries are for Linux; Windows runs the gated suite' : false;
const lib = emulatedLayerOps;
/** Records the layer API calls a writer makes, passing them on to the emulator. */
const recording = (calls: string[]): LayerNative => recordingLayerOps(calls);

const S32 = 'UtilityVM/Files/Windows/System32';
const BOOT = 'UtilityVM/Files/EFI/Microsoft/Boot';
/** The base layer's utility VM image: boot files, unchanged and changed system files, a junction, a folder to white out. */
const BASE_UVM: EntrySpec[] = [
  { name: 'UtilityVM', type: 'directory' },
  { name: 'UtilityVM/Files', type: 'directory' },
  { name: 'UtilityVM/Files/EFI', type: 'directory' },
  { name: 'UtilityVM/Files/EFI/Microsoft', type: 'directory' },
  { name: BOOT, type: 'directory' },
  { name: `${BOOT}/BCD`, data: 'bcd' },
  { name: `${BOOT}/BCD.LOG`, data: 'bcd-log' },
  { name: 'UtilityVM/Files/Windows', type: 'directory' },
  { name: S32, type: 'directory' },
  { name: `${S32}/kernel.dll`, data: 'kernel v1' },
  { name: `${S32}/kernel.dll:Zone.Identifier`, data: 'zone' },
  { name: `${S32}/old.dll`, data: 'old v1' },
  { name: `${S32}/gone.dll`, data: 'gone' },
  { name: `${S32}/alias.dll`, data: 'alias v1' },
  { name: `${S32}/drivers`, type: 'symlink', linkname: 'C:\\Windows\\System32\\DriverStore', attributes: 0x10, pax: { 'MSWINDOWS.mountpoint': '1' } },
  { name: 'UtilityVM/Files/Windows/Temp', type: 'directory' },
  { name: 'UtilityVM/Files/Windows/Temp/scratch.tmp', data: 'x' },
];
/** Windows update times of the update layer's directories (distinct from the base layer's). */
const UPDATED = String(Date.UTC(2025, 5, 1) / 1000);
const UPDATE: EntrySpec[] = [
  { name: 'Files', type: 'directory' },
  { name: 'Files/app.txt', data: 'app' },
  { name: 'UtilityVM', type: 'directory' },
  { name: 'UtilityVM/Files', type: 'directory' },
  { name: S32, type: 'directory', pax: { 'LIBARCHIVE.creationtime': UPDATED } },
  { name: `${S32}/new.dll`, data: 'new v2' },
  { name: `${S32}/old.dll`, data: 'old v2 (patched)' },
  { name: `${S32}/.wh.gone.dll` },
  { name: 'UtilityVM/Files/Windows/.wh.Temp' },
  // Hard links (legacy.go AddLink): a cloned name to a file of this layer, a Files\ name to a parent's file.
  { name: `${S32}/alias.dll`, type: 'link', linkname: `${S32}/new.dll` },
  { name: 'Files/hello-link.txt', type: 'link', linkname: 'Files/Windows/hello.txt' },
];

const meta = async (p: string) => Object.fromEntries((await readFile(join(p, '..', '.hcsemu', `${basename(p)}.meta`), 'utf8')).trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
const ino = (p: string) => statSync(p).ino;
const fileTime = (unix: string) => String(BigInt(Number(unix)) * 10_000_000n + 116444736000000000n);

/** Every file under `root` (sidecars included) with its content: what must not change in a parent layer. */
async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    const p = join(e.parentPath, e.name);
    out.push(`${relative(root, p)} ${e.isDirectory() ? '<dir>' : await readFile(p, 'utf8')}`);
  }
  return out.sort();
}

async function blobOf(dir: string, entries: EntrySpec[]): Promise<{ path: string; diffId: string }> {
  const t = await layerTar(entries);
  const path = join(dir, `${sha(t).slice(7, 19)}.tar.gz`);
  await writeFile(path, gzipSync(t));
  return { path, diffId: sha(t) };
}

async function baseLayer(dir: string, extra: EntrySpec[] = BASE_UVM): Promise<string> {
  const root = join(dir, 'base');
  await mkdir(root);
  const b = await blobOf(dir, baseLayerEntries(extra));
  await applyLayer(b.path, 'gzip', b.diffId, LayerWriter.base(lib(), root));
  return root;
}

/** Imports `entries` as a layer on top of `base`; the calls made go to `calls`. */
async function importOn(dir: string, base: string, entries: EntrySpec[], calls: string[] = []): Promise<{ dest: string; staging: string }> {
  const dest = join(dir, 'update');
  const staging = join(dir, 'staging');
  await mkdir(staging);
  const t = await blobOf(dir, entries);
  await applyLayer(t.path, 'gzip', t.diffId, LayerWriter.transport(recording(calls), staging, dest, [{ id: lib().nameToGuid(basename(base)), path: base }]));
  return { dest, staging };
}

describe('a utility VM image in a non-base layer', { skip }, () => {
  test('the parent UtilityVM is cloned into the new layer (links, copies), changed there, and processed after ImportLayer; the parent is unchanged', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hcsr-uvm-layer-'));
    try {
      const base = await baseLayer(dir);
      const before = await snapshot(base);
      const calls: string[] = [];
      const { dest } = await importOn(dir, base, UPDATE, calls);
      const uvm = join(dest, 'UtilityVM');
      assert.deepEqual(calls, [`importLayer ${dest}`, `processUtilityImage ${uvm}`], 'ImportLayer gets the transport folder; ProcessUtilityImage the new layer\'s UtilityVM, last');
      assert.equal(await readFile(join(dest, 'Files', 'app.txt'), 'utf8'), 'app', 'the Files part is imported as before');
      const at = (layer: string, rel: string) => join(layer, ...rel.split('/'));
      // Unchanged files are hard links to the parent's, with their metadata and streams.
      assert.equal(ino(at(dest, `${S32}/kernel.dll`)), ino(at(base, `${S32}/kernel.dll`)), 'kernel.dll is linked');
      assert.equal((await meta(at(dest, `${S32}/kernel.dll`))).sd, RAW_SD.toString('hex'));
      assert.equal(await readFile(at(dest, `${S32}/.hcsemu/kernel.dll:Zone.Identifier`), 'utf8'), 'zone');
      // The replaced file is a new file: the link was removed before the create.
      assert.equal(await readFile(at(dest, `${S32}/old.dll`), 'utf8'), 'old v2 (patched)');
      assert.notEqual(ino(at(dest, `${S32}/old.dll`)), ino(at(base, `${S32}/old.dll`)));
      assert.equal(await readFile(at(dest, `${S32}/new.dll`), 'utf8'), 'new v2');
      assert.equal((await meta(at(dest, `${S32}/new.dll`))).sd, RAW_SD.toString('hex'), 'written with BackupWrite, security included');
      // Whiteouts are gone from the clone: a file and a whole folder.
      assert.equal(existsSync(at(dest, `${S32}/gone.dll`)), false);
      assert.equal(existsSync(at(dest, 'UtilityVM/Files/Windows/Temp')), false);
      // Links after ImportLayer: the cloned alias.dll was removed, then linked to this layer's new.dll; the Files link goes to the parent's file.
      assert.equal(ino(at(dest, `${S32}/alias.dll`)), ino(at(dest, `${S32}/new.dll`)));
      assert.equal(await readFile(at(base, `${S32}/alias.dll`), 'utf8'), 'alias v1');
      assert.equal(ino(at(dest, 'Files/hello-link.txt')), ino(at(base, 'Files/Windows/hello.txt')));
      // Directories, the junction and the BCD files are copies, not links.
      assert.notEqual(ino(at(dest, `${BOOT}/BCD`)), ino(at(base, `${BOOT}/BCD`)));
      assert.notEqual(ino(at(dest, `${BOOT}/BCD.LOG`)), ino(at(base, `${BOOT}/BCD.LOG`)));
      assert.equal(await readFile(at(dest, `${BOOT}/BCD`), 'utf8'), `bcd\nhcsemu: ProcessUtilityImage ${join(base, 'UtilityVM')}\nhcsemu: ProcessUtilityImage ${uvm}`, 'the copy, then processed for the new layer');
      const junction = await meta(at(dest, `${S32}/drivers`));
      assert.equal(junction.reparse, (await meta(at(base, `${S32}/drivers`))).reparse);
      assert.equal(junction.attributes, String(0x10 | 0x400));
      // Directory times: the clone's are the parent's, the layer's own directories get theirs back after everything.
      assert.equal((await meta(at(dest, S32))).creation, fileTime(UPDATED));
      assert.equal((await meta(at(dest, 'UtilityVM/Files/EFI'))).creation, (await meta(at(base, 'UtilityVM/Files/EFI'))).creation);
      assert.ok(existsSync(join(uvm, 'SystemTemplate.vhdx')));
      assert.equal(await readFile(join(uvm, '.hcsemu-layer'), 'utf8'), 'kind=utilityvm\n');
      assert.deepEqual(await snapshot(base), before, 'the parent layer is byte for byte as it was');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('malformed layers fail with hcsshim\'s errors, naming the entry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hcsr-uvm-bad-'));
    try {
      const base = await baseLayer(dir);
      const cases: [string, EntrySpec[], RegExp][] = [
        ['no UtilityVM entry first', [{ name: 'UtilityVM/Files', type: 'directory' }], /UtilityVM\/Files: missing UtilityVM directory/],
        ['outside UtilityVM/Files', [{ name: 'UtilityVM', type: 'directory' }, { name: 'UtilityVM/Other', data: 'x' }], /UtilityVM\/Other: invalid UtilityVM layer/],
        ['a whiteout of what the parent does not have', [{ name: `${S32}/.wh.nothere.dll` }], /whiteout UtilityVM\/Files\/Windows\/System32\/nothere.dll: not in the parent's utility VM image/],
        ['a whiteout of UtilityVM/Files itself', [{ name: 'UtilityVM/.wh.Files' }], /invalid tombstone UtilityVM\/Files/],
        ['a link to nothing', [{ name: 'Files', type: 'directory' }, { name: 'Files/x', type: 'link', linkname: 'Files/nothere' }], /failed to find link target for 'Files\/x' -> 'Files\/nothere'/],
        ['a link outside Files and UtilityVM/Files', [{ name: 'Hives', type: 'directory' }, { name: 'Hives/x', type: 'link', linkname: 'Files/Windows/hello.txt' }], /invalid hard link in layer: Hives\/x/],
      ];
      for (const [what, entries, error] of cases) {
        const sub = await mkdtemp(join(dir, 'case-'));
        await assert.rejects(importOn(sub, base, entries), error, what);
      }
      const plain = await baseLayer(await mkdtemp(join(dir, 'plain-')), []);
      await assert.rejects(importOn(await mkdtemp(join(dir, 'case-')), plain, UPDATE), /cloning the parent utility VM image failed .*UtilityVM: not found/, 'hcsshim clones from the layer just below only');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a two-layer image whose second layer changes the utility VM, through the store', { skip }, () => {
  const client = new RegistryClient({ platform: { architecture: 'amd64', osVersion: '10.0.20348.1' } });

  test('pull imports it into the final layer folder: cloned, changed, processed; no staging left', async () => {
    const img = windowsImage([await layerTar(baseLayerEntries(BASE_UVM)), await layerTar(UPDATE)]);
    const fake = await startFakeRegistry();
    const store = await ImageStore.open(await mkdtemp(join(tmpdir(), 'hcsr-uvm-store-')), lib());
    try {
      fake.add('win/servercore', 'ltsc2022', img);
      const r = await store.pull(`${fake.host}/win/servercore:ltsc2022`, { client });
      const [top, base] = store.hcsLayers(r).map((l) => l.path) as [string, string];
      assert.equal(ino(join(top, ...`${S32}/kernel.dll`.split('/'))), ino(join(base, ...`${S32}/kernel.dll`.split('/'))));
      assert.equal(await readFile(join(top, ...`${S32}/old.dll`.split('/')), 'utf8'), 'old v2 (patched)');
      assert.equal(await readFile(join(base, ...`${S32}/old.dll`.split('/')), 'utf8'), 'old v1');
      assert.equal(existsSync(join(top, ...`${S32}/gone.dll`.split('/'))), false);
      assert.equal(await readFile(join(top, 'UtilityVM', '.hcsemu-layer'), 'utf8'), 'kind=utilityvm\n');
      assert.deepEqual((await readdir(store.paths.layers)).filter((n) => n.startsWith('.tmp-')), []);
      assert.deepEqual(await readdir(store.paths.tmp), []);
    } finally {
      await fake.close();
      await rm(store.paths.root, { recursive: true, force: true });
    }
  });

  test('a malformed utility VM change fails the pull and leaves no half layer; the base stays as it was', async () => {
    const img = windowsImage([await layerTar(baseLayerEntries(BASE_UVM)), await layerTar([...UPDATE, { name: `${S32}/.wh.nothere.dll` }])]);
    const fake = await startFakeRegistry();
    const store = await ImageStore.open(await mkdtemp(join(tmpdir(), 'hcsr-uvm-store-')), lib());
    try {
      fake.add('win/broken', 'v1', img);
      await assert.rejects(store.pull(`${fake.host}/win/broken:v1`, { client }), /nothere\.dll: not in the parent's utility VM image/);
      const left = await readdir(store.paths.layers);
      assert.equal(left.length, 1, `only the base layer's folder: ${left.join(', ')}`);
      const base = join(store.paths.layers, left[0]!);
      assert.equal(await readFile(join(base, ...`${S32}/gone.dll`.split('/')), 'utf8'), 'gone');
      const bcd = await readFile(join(base, ...`${BOOT}/BCD`.split('/')), 'utf8');
      assert.equal(bcd.match(/ProcessUtilityImage/g)?.length, 1, `processed once, for the base only: ${bcd}`);
      assert.deepEqual((await readdir(store.paths.tmp)).filter((n) => n.startsWith('import-')), []);
      assert.deepEqual(await store.list(), []);
    } finally {
      await fake.close();
      await rm(store.paths.root, { recursive: true, force: true });
    }
  });
});
