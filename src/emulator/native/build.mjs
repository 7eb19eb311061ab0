#!/usr/bin/env node
// Builds the HCS emulator libraries (libcomputecore.so, libvmcompute.so, libkernel32-emu.so) with the system C compiler.
//
// CLI: node src/emulator/native/build.mjs [--if-possible] [--force]
//   --if-possible  used from postinstall: any failure (no compiler, a failed build) is a warning and exit 0
//   --force        rebuild even when the output is newer than every source
// On win32 it does nothing: the real computecore.dll is used there.
// Importable: emulatorLibraryPath(), ensureEmulatorLibrary() (types in build.d.mts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, 'build');
// -z nodelete: the library runs its own threads (connection reader, callback dispatcher) until the
// process exits, so it must never be unmapped under them. koffi dlcloses loaded libraries when the
// Node environment is torn down, while those threads may still be running (SIGSEGV in unmapped
// code at exit); with DF_1_NODELETE that dlclose leaves the code mapped.
const FLAGS = ['-std=gnu11', '-O2', '-g', '-shared', '-fPIC', '-pthread', '-fvisibility=hidden',
  '-Wl,-z,nodelete', '-Wall', '-Wextra', '-Werror'];

/** Absolute path of the emulator's kernel32 stand-in (ReadFile/WriteFile/CloseHandle on stdio pipes). */
export function kernel32EmulatorLibraryPath() {
  return join(outDir, 'libkernel32-emu.so');
}

/** Absolute path of the emulator library (it may not be built yet). */
export function emulatorLibraryPath() {
  return join(outDir, 'libcomputecore.so');
}

/** Absolute path of the emulator's vmcompute.dll library (schema 1.0 compute API; issue 14 adds layers). */
export function vmcomputeLibraryPath() {
  return join(outDir, 'libvmcompute.so');
}

// The service client both libraries share; then each library's own exports. Add a library's new
// C file to its list (issue 14: 'layers.c' in vmcompute).
const COMMON = ['registry.c', 'conn.c', 'wire.c', 'dispatch.c', 'operation.c', 'stdio.c'];
const LIBRARIES = [
  { out: () => emulatorLibraryPath(), files: [...COMMON, 'system.c', 'process.c', 'host.c'] },
  { out: () => vmcomputeLibraryPath(), files: [...COMMON, 'vmcompute.c', 'layers.c'], defines: ['-DEMU_ROLE=3u'] },
];

function sources() {
  return readdirSync(here).filter((f) => f.endsWith('.c') || f.endsWith('.h')).map((f) => join(here, f));
}

function isUpToDate(out) {
  if (!existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  return sources().every((f) => statSync(f).mtimeMs <= built) && statSync(fileURLToPath(import.meta.url)).mtimeMs <= built;
}

function findCompiler() {
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c) => typeof c === 'string' && c !== '');
  return candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
}

/**
 * Builds the library when a source is newer than it (or `force`), and returns its path.
 * Throws when no C compiler exists or compilation fails; the message says how to fix it.
 */
export function ensureEmulatorLibrary({ force = false } = {}) {
  ensureKernel32Library(force);
  const out = emulatorLibraryPath();
  if (!force && LIBRARIES.every((l) => isUpToDate(l.out()))) return out;
  const cc = findCompiler();
  if (!cc) {
    throw new Error('no C compiler found (tried $CC, cc, gcc, clang) to build the HCS emulator library; ' +
      'install one, e.g. `apt-get install gcc` (Debian/Ubuntu) or `dnf install gcc`');
  }
  mkdirSync(outDir, { recursive: true });
  for (const lib of LIBRARIES) build(cc, lib.out(), [...(lib.defines ?? []), ...lib.files.map((f) => join(here, f)).filter((f) => existsSync(f))]);
  return out;
}

function build(cc, out, cFiles) {
  // Build to a private name, then rename: a concurrent loader never sees a half-written file.
  const tmp = `${out}.${process.pid}.tmp`;
  // -ldl: stdio.c finds the sibling libkernel32-emu.so with dlopen/dladdr.
  const res = spawnSync(cc, [...FLAGS, '-o', tmp, ...cFiles, '-ldl'], { encoding: 'utf8' });
  if (res.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`building ${out} failed (${cc} exited ${res.status}):\n${res.stderr}${res.stdout}`);
  }
  renameSync(tmp, out);
}

/** libkernel32-emu.so from native/kernel32/ (a separate library, loaded where kernel32.dll is on Windows). */
function ensureKernel32Library(force) {
  const out = kernel32EmulatorLibraryPath();
  const src = join(here, 'kernel32', 'kernel32.c');
  const self = fileURLToPath(import.meta.url);
  if (!force && existsSync(out) && statSync(src).mtimeMs <= statSync(out).mtimeMs && statSync(self).mtimeMs <= statSync(out).mtimeMs) return;
  const cc = findCompiler();
  if (!cc) throw new Error('no C compiler found (tried $CC, cc, gcc, clang) to build the HCS emulator library; install one, e.g. `apt-get install gcc`');
  mkdirSync(outDir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  const res = spawnSync(cc, [...FLAGS, '-Wl,-soname,libkernel32-emu.so', '-o', tmp, src], { encoding: 'utf8' });
  if (res.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`building ${out} failed (${cc} exited ${res.status}):\n${res.stderr}${res.stdout}`);
  }
  renameSync(tmp, out);
}

function main(argv) {
  if (process.platform === 'win32') return 0;
  const ifPossible = argv.includes('--if-possible');
  try {
    const out = ensureEmulatorLibrary({ force: argv.includes('--force') });
    console.log(`hcs emulator library: ${out}`);
    return 0;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // At install time nothing may fail the install: the library is built again on first use,
    // where the same message is shown to whoever asks for the emulator.
    if (ifPossible) {
      console.warn(`warning: ${msg}\n(only the HCS emulator needs it; it is built when the emulator is first used)`);
      return 0;
    }
    console.error(`error: ${msg}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(main(process.argv.slice(2)));
