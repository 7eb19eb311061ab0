/**
 * The package as a user gets it: `npm pack` (which runs `prepare`, the build), then `npm install`
 * of that tarball into an empty folder, run with plain node (no tsx anywhere). Slow-ish (a build
 * and an install from npm's local cache, --prefer-offline). Checks the Done-when of issue 17:
 * `npx hcs-reconciler --version`, every export importable, no tsx/typescript installed, no test
 * files packed; and the installed command validates manifests and drives the emulator (its C
 * library is compiled inside the installed package on first use).
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const hasCompiler = ['cc', 'gcc', 'clang'].some((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);

function run(cmd: string, args: string[], opts: SpawnSyncOptions & { cwd: string }) {
  // Plain node: no loader inherited through NODE_OPTIONS.
  const env = { ...process.env, NODE_OPTIONS: '', npm_config_yes: 'false', ...(opts.env ?? {}) };
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 240_000, shell: process.platform === 'win32', ...opts, env });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

test('npm pack + npm install into an empty folder: the installed package runs on plain node', { timeout: 300_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-pack-'));
  const socket = join(dir, 'emu.sock');
  t.after(() => {
    run(join(dir, 'app/node_modules/.bin/hcs-reconciler'), ['emulator', 'stop'], { cwd: join(dir, 'app'), env: { HCS_EMULATOR_SOCKET: socket } });
    rmSync(dir, { recursive: true, force: true });
  });
  // Packed from a copy of the sources (node_modules linked), so the build that `npm pack` runs
  // (prepare) never replaces the checkout's dist/ under a concurrently running test.
  const src = join(dir, 'src-copy');
  for (const entry of ['package.json', 'package-lock.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'src', 'reconciler']) {
    cpSync(join(root, entry), join(src, entry), { recursive: true, filter: (p) => !/[\\/]build$|validators\.generated\.cjs$/.test(p) || p.endsWith('build.mjs') });
  }
  symlinkSync(join(root, 'node_modules'), join(src, 'node_modules'), 'junction');
  const pack = run(npm, ['pack', '--json', '--pack-destination', dir], { cwd: src });
  assert.equal(pack.status, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = info!.files.map((f) => f.path);
  assert.ok(files.includes('dist/src/cli/bin.mjs') && files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts'));
  assert.ok(files.includes('dist/src/manifest/validators.generated.cjs'), 'the build-time validators are shipped');
  assert.deepEqual(files.filter((f) => /(^|\/)test\/|\.test\.|fixtures/.test(f)), [], 'no test files in the tarball');
  assert.deepEqual(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')), [], 'no TypeScript sources');
  assert.deepEqual(files.filter((f) => /\.(so|o)$/.test(f)), [], 'no compiled emulator library');

  const app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
  const install = run(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, info!.filename)], { cwd: app });
  assert.equal(install.status, 0, install.stderr);
  for (const dev of ['tsx', 'typescript', 'esbuild', '@types/node']) assert.ok(!existsSync(join(app, 'node_modules', dev)), `${dev} is installed`);

  const version = run(npm, ['exec', '--no', '--', 'hcs-reconciler', '--version'], { cwd: app });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), '0.1.0');
  const imports = run(process.execPath, ['--input-type=module', '-e', [
    "const hcs = await import('hcs-reconciler/hcs');",
    "const core = await import('hcs-reconciler/reconciler');",
    "const top = await import('hcs-reconciler');",
    "console.log(typeof hcs.openHcs, typeof core.createController, typeof top.loadManifests, typeof top.main);",
  ].join('\n')], { cwd: app });
  assert.equal(imports.status, 0, imports.stderr);
  assert.equal(imports.stdout.trim(), 'function function function function');

  const bin = join(app, 'node_modules/.bin/hcs-reconciler');
  writeFileSync(join(dir, 'web.yaml'), 'apiVersion: hcs-reconciler/v1alpha1\nkind: ComputeSystem\nmetadata: { name: web }\nspec:\n  container:\n    layers: [{ id: aa54c278-e19b-5a7c-bbf7-91e0123aa69a, path: C:\\layers\\base }]\n    scratch: \\\\?\\Volume{0b7d6c1e-2f4a-4c3b-9d8e-5a6f7b8c9d0e}\\\n');
  const ok = run(bin, ['validate', join(dir, 'web.yaml')], { cwd: app });
  assert.equal(ok.status, 0, ok.stderr);
  writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: hcs-reconciler/v1alpha1\nkind: ComputeSystem\nmetadata: { name: Bad_Name }\nspec: {}\n');
  const bad = run(bin, ['validate', join(dir, 'bad.yaml')], { cwd: app });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /bad\.yaml:3:\d+ metadata\.name: must be a lowercase DNS label/);

  if (process.platform === 'win32' || !hasCompiler) return t.diagnostic('emulator part skipped: no C compiler (or Windows)');
  const env = { HCS_EMULATOR_SOCKET: socket };
  // No compiler on PATH (only node): a clear message, not a stack trace. The library may have
  // been built by postinstall, so it is removed first (this test's own install).
  const libDir = join(app, 'node_modules/hcs-reconciler/dist/src/emulator/native/build');
  rmSync(libDir, { recursive: true, force: true });
  const nodeOnly = join(dir, 'node-only');
  mkdirSync(nodeOnly);
  symlinkSync(process.execPath, join(nodeOnly, 'node'));
  const noCc = run(process.execPath, [join(app, 'node_modules/hcs-reconciler/dist/src/cli/bin.mjs'), 'ps'], { cwd: app, env: { ...env, PATH: nodeOnly, CC: '' } });
  assert.equal(noCc.status, 1);
  assert.match(noCc.stderr, /^hcs-reconciler: no C compiler found \(tried \$CC, cc, gcc, clang\) to build the HCS emulator library; install one, e\.g\. `apt-get install gcc`/);
  const start = run(bin, ['emulator', 'start'], { cwd: app, env });
  assert.equal(start.status, 0, start.stderr);
  assert.ok(existsSync(join(app, 'node_modules/hcs-reconciler/dist/src/emulator/native/build/libcomputecore.so')), 'library built inside the installed package');
  const ps = run(bin, ['ps', '--all', '-o', 'json'], { cwd: app, env });
  assert.equal(ps.status, 0, ps.stderr);
  assert.deepEqual(JSON.parse(ps.stdout), []);
});
