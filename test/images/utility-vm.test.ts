/**
 * ProcessUtilityImage for a base layer with a utility VM image (hcsshim baselayerwriter.go: after
 * ProcessBaseImage, when the tar had `UtilityVM/Files`), and the emulator's strict export; the one
 * kernel32 stand-in (libkernel32-emu.so) that the layer writer and the stdio pipes share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import koffi from 'koffi';
import { emulatorLibraryPath, ensureEmulatorLibrary, kernel32EmulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { LayerError, LayerNative } from '../../src/hcs/layers.ts';
import { applyLayer } from '../../src/images/apply.ts';
import { LayerWriter } from '../../src/images/writers.ts';
import { baseLayerEntries, layerTar, sha } from './synthetic.ts';

const skip = process.platform === 'win32' ? 'the emulator libraries are for Linux; Windows runs the gated suite' : false;
let ops: LayerNative | undefined;
const lib = (): LayerNative => {
  if (!ops) {
    ensureEmulatorLibrary();
    ops = new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
    ops.enableBackupPrivileges();
  }
  return ops;
};

/** Records the layer API calls a writer makes, passing them on to the emulator. */
function recording(calls: string[]): LayerNative {
  const real = lib();
  return new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || !['processBaseImage', 'processUtilityImage', 'importLayer'].includes(String(prop))) return typeof v === 'function' ? v.bind(target) : v;
      return (...args: unknown[]) => {
        calls.push(`${String(prop)} ${String(args[0]).slice(-20)}`);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

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
    assert.equal(await readFile(join(root, 'UtilityVM', 'Files', 'EFI', 'Microsoft', 'Boot', 'BCD'), 'utf8'), `bcd\nhcsemu: ProcessUtilityImage ${join(root, 'UtilityVM')}\n`);
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

test('a utility VM image in a non-base layer is refused with a clear error that says what Windows would do (not implemented)', { skip }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-uvm-'));
  try {
    const t = await layerTar([{ name: 'Files', type: 'directory' }, ...UVM]);
    const blob = join(dir, 'blob.tar.gz');
    await writeFile(blob, gzipSync(t));
    await mkdir(join(dir, 'staging'));
    const w = LayerWriter.transport(lib(), join(dir, 'staging'), join(dir, 'dest'), []);
    await assert.rejects(applyLayer(blob, 'gzip', sha(t), w), /UtilityVM: a utility VM image in a non-base layer is not supported .*clone the parent layer's UtilityVM and process it after ImportLayer \(hcsshim legacy.go initUtilityVM\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('one kernel32 stand-in: the layer writer\'s kernel32 exports are in libkernel32-emu.so (with the pipes), not in libvmcompute.so', { skip }, async () => {
  lib();
  const k32 = koffi.load(kernel32EmulatorLibraryPath());
  for (const name of ['CreateFileW', 'CreateDirectoryW', 'CreateHardLinkW', 'SetFileInformationByHandle', 'BackupWrite', 'CloseHandle', 'GetLastError', 'ReadFile', 'WriteFile']) {
    assert.doesNotThrow(() => k32.func(`int32_t ${name}(void)`), `${name} in libkernel32-emu.so`);
  }
  const vm = koffi.load(emulatorLibraryPath('libvmcompute.so'));
  for (const name of ['CreateFileW', 'BackupWrite', 'CloseHandle', 'GetLastError']) {
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
