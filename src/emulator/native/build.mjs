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

const MAIN = 'libcomputecore.so';

// Every library and its C files (headers count for every library). The service client
// (COMMON) is compiled into each library that talks to the service asynchronously, with hidden
// symbols, so each library has its own copy; hostcall.c is the synchronous client of the
// computenetwork and scratch exports (PROTOCOL.md "Host role").
// - libcomputecore.so: computecore.dll (compute systems, processes) and ntdll's RtlGetVersion (host.c).
// - libvmcompute.so: vmcompute.dll, the schema 1.0 compute API (vmcompute.c, HELLO role 3), the layer
//   exports (layers-vmcompute.c and layers-process.c, with layers.c's parser) and the scratch exports (scratch.c).
// - libcomputenetwork.so: computenetwork.dll, HCN (hcn.c).
// - libkernel32-emu.so (native/kernel32/): kernel32's ReadFile/WriteFile/CloseHandle on stdio pipes,
//   and the layer writer's file calls and token privileges (kernel32/files.c, with layers.c's parser),
//   BackupRead and GetFileInformationByHandleEx (kernel32/backup-read.c) and the directory walk and
//   removals (kernel32/walk.c: FindFirstFileW, GetFileAttributesW, DeleteFileW, RemoveDirectoryW).
const COMMON = ['registry.c', 'conn.c', 'wire.c', 'dispatch.c', 'operation.c', 'stdio.c', 'sock.c', 'handles.c', 'sibling.c'];
const LIBRARIES = {
  'libcomputecore.so': { files: [...COMMON, 'system.c', 'process.c', 'host.c'] },
  'libvmcompute.so': { files: [...COMMON, 'vmcompute.c', 'layers.c', 'layers-vmcompute.c', 'layers-process.c', 'scratch.c', 'hostcall.c'], defines: ['-DEMU_ROLE=3u'] },
  'libcomputenetwork.so': { files: ['hcn.c', 'hostcall.c', 'sock.c'] },
  'libkernel32-emu.so': { files: ['kernel32/kernel32.c', 'kernel32/files.c', 'kernel32/backup-read.c', 'kernel32/walk.c', 'layers.c'], flags: ['-Wl,-soname,libkernel32-emu.so'] },
};

/** Absolute path of an emulator library, default libcomputecore.so (it may not be built yet). */
export function emulatorLibraryPath(name = MAIN) {
  return join(outDir, name);
}

/** Absolute path of the emulator's vmcompute.dll library (schema 1.0 compute API, layers, scratch). */
export function vmcomputeLibraryPath() {
  return emulatorLibraryPath('libvmcompute.so');
}

/** Absolute path of the emulator's kernel32 stand-in (ReadFile/WriteFile/CloseHandle on stdio pipes). */
export function kernel32EmulatorLibraryPath() {
  return emulatorLibraryPath('libkernel32-emu.so');
}

function sources(name) {
  const headers = readdirSync(here).filter((f) => f.endsWith('.h'));
  return [...headers, ...LIBRARIES[name].files].map((f) => join(here, f));
}

function isUpToDate(out, name) {
  if (!existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  return sources(name).every((f) => !existsSync(f) || statSync(f).mtimeMs <= built) && statSync(fileURLToPath(import.meta.url)).mtimeMs <= built;
}

function findCompiler() {
  const candidates = [process.env.CC, 'cc', 'gcc', 'clang'].filter((c) => typeof c === 'string' && c !== '');
  return candidates.find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
}

/**
 * Builds every emulator library whose sources are newer than it (or all with `force`), and
 * returns the path of libcomputecore.so. Throws when no C compiler exists or compilation fails;
 * the message says how to fix it.
 */
export function ensureEmulatorLibrary({ force = false } = {}) {
  const stale = Object.keys(LIBRARIES).filter((name) => force || !isUpToDate(emulatorLibraryPath(name), name));
  if (stale.length === 0) return emulatorLibraryPath();
  const cc = findCompiler();
  if (!cc) {
    throw new Error('no C compiler found (tried $CC, cc, gcc, clang) to build the HCS emulator library; ' +
      'install one, e.g. `apt-get install gcc` (Debian/Ubuntu) or `dnf install gcc`');
  }
  mkdirSync(outDir, { recursive: true });
  for (const name of stale) build(cc, name);
  return emulatorLibraryPath();
}

function build(cc, name) {
  const lib = LIBRARIES[name];
  const out = emulatorLibraryPath(name);
  // Build to a private name, then rename: a concurrent loader never sees a half-written file.
  const tmp = `${out}.${process.pid}.tmp`;
  const cFiles = sources(name).filter((f) => f.endsWith('.c'));
  // -ldl: stdio.c finds the sibling libkernel32-emu.so with dlopen/dladdr.
  const res = spawnSync(cc, [...FLAGS, ...(lib.flags ?? []), ...(lib.defines ?? []), '-o', tmp, ...cFiles, '-ldl'], { encoding: 'utf8' });
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
