/**
 * ProcessUtilityImage for a base layer with a utility VM image (hcsshim baselayerwriter.go: after
 * ProcessBaseImage, when the tar had `UtilityVM/Files`), and the emulator's strict exports (a
 * non-base layer's utility VM is in utility-vm-layer.test.ts): ProcessUtilityImage, the directory
 * walk, removals, BackupRead and hard links the clone uses; the one kernel32 stand-in
 * (libkernel32-emu.so) that the layer writer and the stdio pipes share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import koffi from 'koffi';
import { emulatorLibraryPath, kernel32EmulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { FILE_FLAG_BACKUP_SEMANTICS, LayerError, type LayerNative } from '../../src/hcs/layers.ts';
import { applyLayer } from '../../src/images/apply.ts';
import { streamRecord } from '../../src/images/backup.ts';
import { LayerWriter } from '../../src/images/writers.ts';
import { baseLayerEntries, layerTar, RAW_SD, sha } from './synthetic.ts';
import { emulatedLayerOps, recordingLayerOps } from './layer-ops.ts';

const skip = process.platform === 'win32' ? 'the emulator libraries are for Linux; Windows runs the gated suite' : false;
const lib = emulatedLayerOps;
/** Records the layer API calls a writer makes, passing them on to the emulator. */
const recording = (calls: string[]): LayerNative => recordingLayerOps(calls, (p) => p.slice(-20));

const UVM = [
  { name: 'UtilityVM', type: 'directory' as const },
  { name: 'UtilityVM/Files', type: 'directory' as const },
  { name: 'UtilityVM/Files/EFI', type: 'directory' as const },
  { name: 'UtilityVM/Files/EFI/Microsoft', type: 'directory' as const },
  { name: 'UtilityVM/Files/EFI/Microsoft/Boot', type: 'directory' as const },
  { name: 'UtilityVM/Files/EFI/Microsoft/Boot/BCD', data: 'bcd' },
];

async function applyBase(dir: string, entries: Parameters<typeof layerTar>[0], calls: string[]): Promise<string> {
  const t = await layerTar(entries);
  const blob = join(dir, 'blob.tar.gz');
  await writeFile(blob, gzipSync(t));
  const root = join(dir, 'base');
  await mkdir(root);
  await applyLayer(blob, 'gzip', sha(t), LayerWriter.base(recording(calls), root));
  return root;
}

test('a base layer with UtilityVM/Files: ProcessBaseImage, then ProcessUtilityImage(<layer>\\UtilityVM), which writes SystemTemplate.vhdx', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-uvm-'));
  try {
    const calls: string[] = [];
    const root = await applyBase(dir, baseLayerEntries(UVM), calls);
    assert.deepEqual(calls, [`processBaseImage ${root.slice(-20)}`, `processUtilityImage ${join(root, 'UtilityVM').slice(-20)}`]);
    // Processing changes the BCD store (hcsshim's mutatedUtilityVMFiles); the emulator marks it with the folder processed.
    assert.equal(await readFile(join(root, 'UtilityVM', 'Files', 'EFI', 'Microsoft', 'Boot', 'BCD'), 'utf8'), `bcd\nhcsemu: ProcessUtilityImage ${join(root, 'UtilityVM')}`);
    assert.ok(existsSync(join(root, 'UtilityVM', 'SystemTemplate.vhdx')), 'the utility VM scratch template');
    assert.equal(await readFile(join(root, 'UtilityVM', '.hcsemu-layer'), 'utf8'), 'kind=utilityvm\n');
    assert.throws(() => lib().processUtilityImage(join(root, 'UtilityVM')), (e: unknown) => e instanceof LayerError && /ERROR_ALREADY_EXISTS/.test(e.message), 'processed once');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a base layer without a utility VM image is not given to ProcessUtilityImage', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-uvm-'));
  try {
    const calls: string[] = [];
    const root = await applyBase(dir, baseLayerEntries(), calls);
    assert.deepEqual(calls, [`processBaseImage ${root.slice(-20)}`]);
    assert.equal(existsSync(join(root, 'UtilityVM')), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the emulated ProcessUtilityImage is strict: a UtilityVM folder with Files, inside a processed base layer', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-uvm-'));
  try {
    const code = (f: () => void) => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return (e as Error).message.replace(/^.*: /, '');
      }
    };
    const unprocessed = join(dir, 'raw');
    await mkdir(join(unprocessed, 'UtilityVM', 'Files'), { recursive: true });
    assert.equal(code(() => lib().processUtilityImage(join(unprocessed, 'UtilityVM'))), 'ERROR_INVALID_DATA (0x8007000D)', 'the parent is not a processed base layer');
    await mkdir(join(dir, 'other', 'Files'), { recursive: true });
    assert.equal(code(() => lib().processUtilityImage(join(dir, 'other'))), 'ERROR_PATH_NOT_FOUND (0x80070003)', 'not a UtilityVM folder');
    await mkdir(join(dir, 'nofiles', 'UtilityVM'), { recursive: true });
    assert.equal(code(() => lib().processUtilityImage(join(dir, 'nofiles', 'UtilityVM'))), 'ERROR_PATH_NOT_FOUND (0x80070003)', 'no Files');
    assert.equal(code(() => lib().processUtilityImage('')), 'ERROR_INVALID_PARAMETER (0x80070057)', 'E_INVALIDARG = HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the emulated ProcessUtilityImage takes an imported layer\'s UtilityVM with its BCD; not one without the BCD or that is a reparse point', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-uvm-'));
  try {
    const base = await applyBase(dir, baseLayerEntries(UVM), []);
    const top = join(dir, 'top');
    const staging = join(dir, 'staging');
    await mkdir(join(staging, 'Files'), { recursive: true });
    await mkdir(join(top, 'UtilityVM', 'Files', 'EFI'), { recursive: true });
    lib().importLayer(top, staging, [{ id: lib().nameToGuid('base'), path: base }]);
    const uvm = join(top, 'UtilityVM');
    assert.throws(() => lib().processUtilityImage(uvm), /ProcessUtilityImage .*UtilityVM: ERROR_FILE_NOT_FOUND/, 'no Files\\EFI\\Microsoft\\Boot\\BCD to process');
    await mkdir(join(uvm, 'Files', 'EFI', 'Microsoft', 'Boot'), { recursive: true });
    await writeFile(join(uvm, 'Files', 'EFI', 'Microsoft', 'Boot', 'BCD'), 'bcd');
    const h = lib().createFile(uvm, 0xc0000000, 1, 3, FILE_FLAG_BACKUP_SEMANTICS);
    lib().setFileBasicInfo(h, { creationTime: 1n, lastAccessTime: 1n, lastWriteTime: 1n, changeTime: 1n, fileAttributes: 0x410 }, uvm);
    lib().closeHandle(h, uvm);
    assert.throws(() => lib().processUtilityImage(uvm), /ERROR_INVALID_DATA/, 'a UtilityVM that is a reparse point');
    await rm(join(top, '.hcsemu', 'UtilityVM.meta'));
    lib().processUtilityImage(uvm);
    assert.equal(await readFile(join(uvm, '.hcsemu-layer'), 'utf8'), 'kind=utilityvm\n');
    assert.ok(existsSync(join(uvm, 'SystemTemplate.vhdx')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the emulated directory walk and removals behave as documented (., .., ERROR_NO_MORE_FILES, ERROR_DIR_NOT_EMPTY, ERROR_DIRECTORY)', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-walk-'));
  try {
    await mkdir(join(dir, 'sub', '.hcsemu'), { recursive: true });
    await writeFile(join(dir, 'sub', 'b.txt'), 'b');
    await writeFile(join(dir, 'sub', 'A.txt'), 'a');
    const first = lib().findFirstFile(join(dir, 'sub', '*'));
    assert.ok(first);
    const names = [first.entry];
    for (let e = lib().findNextFile(first.handle, 'sub'); e; e = lib().findNextFile(first.handle, 'sub')) names.push(e);
    lib().findClose(first.handle, 'sub');
    assert.deepEqual(names.map((e) => `${e.name}:${e.attributes}`), ['.:16', '..:16', 'A.txt:32', 'b.txt:32'], 'the emulator\'s .hcsemu is no entry');
    assert.throws(() => lib().findClose(first.handle, 'sub'), /FindClose sub: ERROR_INVALID_HANDLE/);
    assert.throws(() => lib().findFirstFile(join(dir, 'sub', '*.txt')), /FindFirstFileW .*: ERROR_INVALID_PARAMETER/, 'only <dir>\\* patterns');
    assert.throws(() => lib().findFirstFile(join(dir, 'nope', '*')), /ERROR_PATH_NOT_FOUND/);
    assert.equal(lib().fileAttributes(join(dir, 'nope', 'x')), undefined);
    assert.throws(() => lib().deleteFile(join(dir, 'sub')), /DeleteFileW .*sub: ERROR_ACCESS_DENIED/);
    assert.throws(() => lib().removeDirectory(join(dir, 'sub')), /RemoveDirectoryW .*: ERROR_DIR_NOT_EMPTY/);
    assert.throws(() => lib().removeDirectory(join(dir, 'sub', 'A.txt')), /ERROR_DIRECTORY/);
    lib().deleteFile(join(dir, 'sub', 'A.txt'));
    lib().deleteFile(join(dir, 'sub', 'b.txt'));
    assert.throws(() => lib().deleteFile(join(dir, 'sub', 'b.txt')), /ERROR_FILE_NOT_FOUND/);
    lib().removeDirectory(join(dir, 'sub'));
    assert.equal(existsSync(join(dir, 'sub')), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the emulated BackupRead gives back what BackupWrite wrote (security only when asked); a hard link shares the metadata and streams', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-bread-'));
  try {
    const root = await applyBase(dir, baseLayerEntries(), []);
    const hello = join(root, 'Files', 'Windows', 'hello.txt');
    const read = (path: string, security: boolean) => {
      const h = lib().createFile(path, 0x80000000, 1, 3, FILE_FLAG_BACKUP_SEMANTICS);
      const ctx = { value: null as unknown };
      const parts: Buffer[] = [];
      const buf = Buffer.alloc(7); // odd-sized reads cross the record boundaries
      for (let n = lib().backupRead(h, buf, security, ctx, path); n > 0; n = lib().backupRead(h, buf, security, ctx, path)) parts.push(Buffer.from(buf.subarray(0, n)));
      lib().backupReadEnd(h, security, ctx, path);
      const info = lib().getFileBasicInfo(h, path);
      lib().closeHandle(h, path);
      return { stream: Buffer.concat(parts), info };
    };
    const data = Buffer.from('hello from a base layer\r\n');
    const ads = Buffer.from('alternate data');
    const expected = Buffer.concat([streamRecord(3, RAW_SD), streamRecord(1, data), streamRecord(4, ads, ':stream1:$DATA')]);
    const full = read(hello, true);
    assert.ok(full.stream.equals(expected), 'security, data, then the stream');
    assert.equal(full.info.fileAttributes, 32);
    assert.equal(full.info.creationTime, BigInt(Date.UTC(2024, 0, 1)) * 10_000n + 116444736000000000n);
    assert.ok(read(hello, false).stream.equals(Buffer.concat([streamRecord(1, data), streamRecord(4, ads, ':stream1:$DATA')])), 'no security without bProcessSecurity');
    const linked = join(dir, 'linked.txt');
    lib().createHardLink(linked, hello);
    assert.ok(read(linked, true).stream.equals(expected), 'the link has the same metadata and stream');
    assert.throws(() => lib().createHardLink(join(dir, 'd'), join(root, 'Files')), /CreateHardLinkW .*: ERROR_ACCESS_DENIED/, 'no links to directories');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('one kernel32 stand-in: the layer writer\'s kernel32 exports are in libkernel32-emu.so (with the pipes), not in libvmcompute.so', { skip }, async () => {
  lib();
  const k32 = koffi.load(kernel32EmulatorLibraryPath());
  for (const name of ['CreateFileW', 'CreateDirectoryW', 'CreateHardLinkW', 'SetFileInformationByHandle', 'BackupWrite', 'BackupRead', 'GetFileInformationByHandleEx', 'FindFirstFileW', 'FindNextFileW', 'FindClose', 'GetFileAttributesW', 'DeleteFileW', 'RemoveDirectoryW', 'CloseHandle', 'GetLastError', 'ReadFile', 'WriteFile']) {
    assert.doesNotThrow(() => k32.func(`int32_t ${name}(void)`), `${name} in libkernel32-emu.so`);
  }
  const vm = koffi.load(emulatorLibraryPath('libvmcompute.so'));
  for (const name of ['CreateFileW', 'BackupWrite', 'BackupRead', 'FindFirstFileW', 'CloseHandle', 'GetLastError']) {
    assert.throws(() => vm.func(`int32_t ${name}(void)`), `${name} is not in libvmcompute.so`);
  }
  // A file handle of the layer writer and the error of a failed call go through the one CloseHandle / GetLastError.
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-k32-'));
  try {
    const h = lib().createFile(join(dir, 'f'), 0xc0000000, 1, 1, 0);
    assert.ok(h >= 0x40000000, 'file handles do not overlap the pipe handles (from 0x1000)');
    lib().closeHandle(h, 'f');
    assert.throws(() => lib().closeHandle(h, 'f'), /CloseHandle f: ERROR_INVALID_HANDLE/);
    assert.throws(() => lib().createFile(join(dir, 'f'), 0xc0000000, 1, 1, 0), /CreateFileW .*: ERROR_FILE_EXISTS/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
