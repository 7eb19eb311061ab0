/**
 * Both emulator libraries exercised from C (test/emulator/driver.c), not only through koffi: the
 * documented behaviours of the "Done when" list, on a private emulated service.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { emulatorLibraryPath, ensureEmulatorLibrary, vmcomputeLibraryPath } from '../../src/emulator/native/build.mjs';

const cc = [process.env.CC, 'cc', 'gcc', 'clang'].find((c) => c && spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

test('C driver: computecore and vmcompute libraries on the documented behaviours', { skip: cc ? false : 'no C compiler (install gcc)' }, async () => {
  ensureEmulatorLibrary();
  const dir = mkdtempSync(join(tmpdir(), 'hcs-cdriver-'));
  const socketPath = join(dir, 'service.sock');
  const emu = await startEmulator({ socketPath });
  try {
    const exe = join(dir, 'driver');
    const src = fileURLToPath(new URL('./driver.c', import.meta.url));
    const built = spawnSync(cc!, ['-std=gnu11', '-O1', '-Wall', '-o', exe, src, '-ldl', '-pthread'], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const run = spawnSync(exe, [emulatorLibraryPath(), vmcomputeLibraryPath()], {
      encoding: 'utf8', env: { ...process.env, HCS_EMULATOR_SOCKET: socketPath }, timeout: 60_000,
    });
    const lines = run.stdout.trim().split('\n');
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.ok(lines.filter((l) => l.startsWith('ok ')).length >= 18, run.stdout);
    assert.deepEqual(lines.filter((l) => l.startsWith('FAIL')), []);
  } finally {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
