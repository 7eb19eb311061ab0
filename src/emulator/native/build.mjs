#!/usr/bin/env node
// Builds the HCS emulator library (libcomputecore.so) with the system C compiler.
//
// CLI: node src/emulator/native/build.mjs [--if-possible] [--force]
//   --if-possible  used from postinstall: a missing compiler is a warning and exit 0, not an error
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

// The libraries besides libcomputecore.so and their C files; every other .c file goes to libcomputecore.so.
// libvmcompute.so: the vmcompute.dll layer exports plus the kernel32/advapi32-ABI calls the layer
// writer makes (BackupWrite & co., layers.c).
// libcomputenetwork.so: the computenetwork.dll (HCN) exports (hcn.c); host.c is the synchronous service
// client it shares with the scratch exports (scratch.c), one copy per library (hidden symbols).
const LIBRARIES = { 'libvmcompute.so': ['layers.c', 'layers-vmcompute.c', 'scratch.c', 'host.c'], 'libcomputenetwork.so': ['hcn.c', 'host.c'] };
const MAIN = 'libcomputecore.so';

/** Absolute path of an emulator library, default libcomputecore.so (it may not be built yet). */
export function emulatorLibraryPath(name = MAIN) {
  return join(outDir, name);
}

function sources(name = MAIN) {
  const all = readdirSync(here).filter((f) => f.endsWith('.c') || f.endsWith('.h'));
  const elsewhere = new Set(Object.values(LIBRARIES).flat());
  const mine = name === MAIN ? all.filter((f) => !elsewhere.has(f)) : all.filter((f) => f.endsWith('.h') || LIBRARIES[name].includes(f));
  return mine.map((f) => join(here, f));
}

function isUpToDate(out, name) {
  if (!existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  return sources(name).every((f) => statSync(f).mtimeMs <= built) && statSync(fileURLToPath(import.meta.url)).mtimeMs <= built;
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
  for (const name of Object.keys(LIBRARIES)) buildLibrary(name, force);
  return buildLibrary(MAIN, force);
}

function buildLibrary(name, force) {
  const out = emulatorLibraryPath(name);
  if (!force && isUpToDate(out, name)) return out;
  const cc = findCompiler();
  if (!cc) {
    throw new Error('no C compiler found (tried $CC, cc, gcc, clang) to build the HCS emulator library; ' +
      'install one, e.g. `apt-get install gcc` (Debian/Ubuntu) or `dnf install gcc`');
  }
  mkdirSync(outDir, { recursive: true });
  // Build to a private name, then rename: a concurrent loader never sees a half-written file.
  const tmp = `${out}.${process.pid}.tmp`;
  const cFiles = sources(name).filter((f) => f.endsWith('.c'));
  const res = spawnSync(cc, [...FLAGS, '-o', tmp, ...cFiles], { encoding: 'utf8' });
  if (res.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`building ${out} failed (${cc} exited ${res.status}):\n${res.stderr}${res.stdout}`);
  }
  renameSync(tmp, out);
  return out;
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
    if (ifPossible && /no C compiler/.test(msg)) {
      console.warn(`warning: ${msg}\n(the emulator and its tests need it; run \`npm run build\` afterwards)`);
      return 0;
    }
    console.error(`error: ${msg}`);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exit(main(process.argv.slice(2)));
