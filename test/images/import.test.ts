/** Layer import through the layer binding against the emulator's libvmcompute.so (same C ABI as vmcompute.dll + kernel32). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ensureEmulatorLibrary, emulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { LayerNative, isInvalidLayerData, isPrivilegeNotHeld, LayerError, CREATE_NEW, FILE_FLAG_BACKUP_SEMANTICS } from '../../src/hcs/layers.ts';
import { applyLayer } from '../../src/images/apply.ts';
import { LayerWriter } from '../../src/images/writers.ts';
import { isDigestMismatch } from '../../src/registry/index.ts';
import { streamHeader } from '../../src/images/backup.ts';
import { baseLayerEntries, layerTar, RAW_SD, sha } from './synthetic.ts';

const skip = process.platform === 'win32' ? 'the emulator library is for Linux; Windows runs the gated suite' : false;
let ops: LayerNative;
const lib = (): LayerNative => {
  if (!ops) {
    ensureEmulatorLibrary();
    ops = new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
  }
  return ops;
};
const meta = async (p: string) => Object.fromEntries((await readFile(join(p, '..', '.hcsemu', `${basename(p)}.meta`), 'utf8')).trim().split('\n').map((l) => l.split('=', 2) as [string, string]));

async function blobOf(entries: Parameters<typeof layerTar>[0], dir: string): Promise<{ path: string; diffId: string }> {
  const t = await layerTar(entries);
  const path = join(dir, `${sha(t).slice(7, 19)}.tar.gz`);
  await writeFile(path, gzipSync(t));
  return { path, diffId: sha(t) };
}

test('without SeBackup/SeRestore the privilege call fails and the layer APIs refuse', { skip }, async () => {
  process.env.HCSEMU_PRIVILEGES_NOT_HELD = '1';
  try {
    assert.throws(() => lib().enableBackupPrivileges(), (e: unknown) => isPrivilegeNotHeld(e) && /AdjustTokenPrivileges.*ERROR_NOT_ALL_ASSIGNED \(0x80070514\)/.test((e as Error).message));
    const dir = await mkdtemp(join(tmpdir(), 'hcsr-priv-'));
    assert.throws(() => lib().processBaseImage(dir), (e: unknown) => isPrivilegeNotHeld(e));
    await rm(dir, { recursive: true });
  } finally {
    delete process.env.HCSEMU_PRIVILEGES_NOT_HELD;
  }
});

test('a base layer is written with BackupWrite and processed; a child layer is imported from the transport format', { skip }, async () => {
  lib().enableBackupPrivileges();
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-import-'));
  const base = join(dir, 'base');
  await mkdir(base);
  const b = await blobOf(baseLayerEntries([{ name: 'Files/Windows/hardlink.txt', type: 'link', linkname: 'Files/Windows/hello.txt' }]), dir);
  await applyLayer(b.path, 'gzip', b.diffId, LayerWriter.base(lib(), base));
  const hello = join(base, 'Files', 'Windows', 'hello.txt');
  assert.equal(await readFile(hello, 'utf8'), 'hello from a base layer\r\n');
  assert.equal(await readFile(join(base, 'Files', 'Windows', 'hardlink.txt'), 'utf8'), 'hello from a base layer\r\n');
  const m = await meta(hello);
  assert.equal(m.attributes, '32');
  assert.equal(m.sd, RAW_SD.toString('hex'));
  assert.equal(m.ads, 'stream1');
  assert.equal(m.creation, String(BigInt(Date.UTC(2024, 0, 1)) * 10_000n + 116444736000000000n));
  assert.equal(await readFile(join(base, 'Files', 'Windows', '.hcsemu', 'hello.txt:stream1'), 'utf8'), 'alternate data');
  assert.equal((await meta(join(base, 'Files', 'Windows'))).attributes, '16');
  assert.ok(existsSync(join(base, 'blank.vhdx')) && existsSync(join(base, 'blank-base.vhdx')));
  assert.equal(await readFile(join(base, '.hcsemu-layer'), 'utf8'), 'kind=base\n');
  assert.equal(lib().layerExists(base), true);

  const top = join(dir, 'top');
  const staging = join(dir, 'staging');
  await mkdir(staging);
  const t = await blobOf([
    { name: 'Files/app', type: 'directory', attributes: 0x10 },
    { name: 'Files/app/server.exe', data: 'MZ server', attributes: 0x20 },
    { name: 'Files/app/server.exe:Zone.Identifier', data: '[ZoneTransfer]' },
    { name: 'Files/Windows/.wh.hello.txt' },
    { name: 'Hives', type: 'directory' },
    { name: 'Hives/Software_Delta', data: 'regf-software-delta' },
  ], dir);
  const id = lib().nameToGuid(basename(base));
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(lib().nameToGuid(basename(base)), id, 'NameToGuid is deterministic');
  await applyLayer(t.path, 'gzip', t.diffId, LayerWriter.transport(lib(), staging, top, [{ id, path: base }]));
  assert.equal(await readFile(join(top, 'Files', 'app', 'server.exe'), 'utf8'), 'MZ server');
  assert.equal((await meta(join(top, 'Files', 'app', 'server.exe'))).sd, RAW_SD.toString('hex'));
  assert.equal((await meta(join(top, 'Files', 'app'))).type, 'directory');
  assert.equal(await readFile(join(top, 'Files', 'app', '.hcsemu', 'server.exe:Zone.Identifier'), 'utf8'), '[ZoneTransfer]');
  assert.equal(await readFile(join(top, 'Hives', 'Software_Delta'), 'utf8'), 'regf-software-delta');
  assert.equal(await readFile(join(top, '.hcsemu-tombstones'), 'utf8'), '\\Files\\Windows\\hello.txt\n');
  assert.equal(await readFile(join(top, '.hcsemu-layer'), 'utf8'), 'kind=import\nparents=1\n');
  // Importing onto an existing folder, or without a processed base as the last parent, is refused.
  assert.throws(() => lib().importLayer(top, staging, [{ id, path: base }]), /ImportLayer .*ERROR_ALREADY_EXISTS/);
  assert.throws(() => lib().importLayer(join(dir, 'x'), staging, [{ id, path: top }]), /0x80070057/);
  lib().destroyLayer(top);
  assert.equal(existsSync(top), false);
  await rm(dir, { recursive: true });
});

test('a diff_id mismatch fails the apply', { skip }, async () => {
  lib().enableBackupPrivileges();
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-diffid-'));
  await mkdir(join(dir, 'base'));
  const b = await blobOf(baseLayerEntries(), dir);
  await assert.rejects(applyLayer(b.path, 'gzip', sha('other'), LayerWriter.base(lib(), join(dir, 'base'))), (e: unknown) => isDigestMismatch(e));
  assert.equal(existsSync(join(dir, 'base', '.hcsemu-layer')), false, 'not processed');
  await rm(dir, { recursive: true });
});

test('the emulated BackupWrite refuses malformed streams', { skip }, async () => {
  lib().enableBackupPrivileges();
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-backup-'));
  const open = (n: string) => lib().createFile(join(dir, n), 0xc0000000, 1, CREATE_NEW, FILE_FLAG_BACKUP_SEMANTICS);
  const cases: [string, Buffer][] = [
    ['unknown stream id', streamHeader(77, 0)],
    ['sparse block', streamHeader(9, 0)],
    ['bad security descriptor', Buffer.concat([streamHeader(3, 4), Buffer.from([9, 9, 9, 9])])],
    ['ADS without :$DATA', Buffer.concat([streamHeader(4, 1, ':x'), Buffer.from('a')])],
    ['odd name size', Buffer.from([4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0])],
    ['two data streams', Buffer.concat([streamHeader(1, 0), streamHeader(1, 0)])],
  ];
  for (const [i, [what, bytes]] of cases.entries()) {
    const h = open(`f${i}`);
    const ctx = { value: null as unknown };
    assert.throws(() => lib().backupWrite(h, bytes, true, ctx, what), (e: unknown) => isInvalidLayerData(e), what);
    lib().closeHandle(h, what);
  }
  // A stream that ends inside a record is an error at the closing BackupWrite(bAbort).
  const h = open('trunc');
  const ctx = { value: null as unknown };
  lib().backupWrite(h, Buffer.concat([streamHeader(1, 10), Buffer.from('abc')]), true, ctx, 'trunc');
  assert.throws(() => lib().backupWriteEnd(h, true, ctx, 'trunc'), (e: unknown) => e instanceof LayerError && isInvalidLayerData(e));
  lib().closeHandle(h, 'trunc');
  assert.throws(() => lib().closeHandle(h, 'twice'), /ERROR_INVALID_HANDLE/);
  assert.ok((await readdir(dir)).includes('trunc'));
  await rm(dir, { recursive: true });
});

test('a layer larger than the reused zlib input buffers applies intact from a file and from a stream in odd-sized chunks (buffers are refilled only after zlib consumed them)', { skip }, async () => {
  lib().enableBackupPrivileges();
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-ring-'));
  try {
    const { randomBytes } = await import('node:crypto');
    const { Readable } = await import('node:stream');
    const big = randomBytes(3 * 1024 * 1024 + 12_345); // > three 1 MiB ring buffers, not a multiple of one
    const b = await blobOf(baseLayerEntries([{ name: 'Files/big.bin', data: big }]), dir);
    const gz = await readFile(b.path);
    const fromFile = join(dir, 'file');
    await mkdir(fromFile);
    await applyLayer(b.path, 'gzip', b.diffId, LayerWriter.base(lib(), fromFile));
    assert.ok((await readFile(join(fromFile, 'Files', 'big.bin'))).equals(big), 'from the blob file');
    for (const size of [7919, 3 * 1024 * 1024 + 1]) {
      const fromStream = join(dir, `stream-${size}`);
      await mkdir(fromStream);
      const chunks = function* () {
        for (let off = 0; off < gz.length; off += size) yield Buffer.from(gz.subarray(off, off + size)); // copies: the source reuses nothing
      };
      await applyLayer(Readable.from(chunks(), { objectMode: false }), 'gzip', b.diffId, LayerWriter.base(lib(), fromStream));
      assert.ok((await readFile(join(fromStream, 'Files', 'big.bin'))).equals(big), `from a stream in ${size}-byte chunks`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
