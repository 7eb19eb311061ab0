/**
 * Issue 12, finding 10: large junk must not flood everything. At most MAX_ERRORS_PER_FILE
 * errors per file, then one "and N more"; a per-file size limit (1 MiB by default,
 * --max-file-bytes to change it); and a running controller logs an unchanged error once, not on
 * every snapshot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { combineSnapshot, parseManifestFile } from '../../src/manifest/index.ts';
import { DesiredStore } from '../../reconciler/desired.ts';
import { containerYaml } from '../integration/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

function junk(name: string, keys: number): string {
  const lines = [];
  for (let i = 0; i < keys; i++) lines.push(`unknown_key_${i}: ${i}`);
  return `${containerYaml(name)}${lines.join('\n')}\n`;
}

test('at most 20 errors per file, then "and N more"; the names stay held', () => {
  const text = junk('web', 40_000);
  assert.ok(text.length > 800_000 && text.length < 1024 * 1024, `${text.length} bytes`);
  const r = parseManifestFile('m/junk.yaml', new TextEncoder().encode(text));
  assert.equal(r.errors.length, 21);
  assert.equal(r.errors.at(-1)!.message, 'and 39980 more error(s) in this file (only the first 20 are shown)');
  // A file whose last errors were cut still keeps the systems it declared before.
  const store = new DesiredStore();
  const ok = parseManifestFile('m/junk.yaml', new TextEncoder().encode(containerYaml('web')));
  store.apply(combineSnapshot([ok]));
  const multi = `${containerYaml('api')}${Array.from({ length: 30 }, (_, i) => `bad${i}: 1`).join('\n')}\n---\n${containerYaml('web').replace('memoryMB: 512', 'memoryMB: 1')}`;
  const both = parseManifestFile('m/junk.yaml', new TextEncoder().encode(multi));
  assert.ok(!both.errors.some((e) => e.name === 'web'), 'the second document\'s error was cut');
  store.apply(combineSnapshot([both]));
  assert.deepEqual(store.list().map((d) => d.name), ['web'], 'web is kept on its last valid spec');
});

test('--max-file-bytes: a clear error, default 1 MiB', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-limits-'));
  try {
    const f = join(dir, 'web.yaml');
    writeFileSync(f, `${containerYaml('web')}# ${'x'.repeat(2000)}\n`);
    const small = spawnSync(process.execPath, [bin, '--max-file-bytes', '1000', 'validate', f], { cwd: root, encoding: 'utf8' });
    assert.equal(small.status, 1);
    assert.match(small.stderr, /web\.yaml:1:1 file is \d+ bytes, over the 1000 bytes limit \(maxFileBytes\)/);
    assert.equal(spawnSync(process.execPath, [bin, 'validate', f], { cwd: root, encoding: 'utf8' }).status, 0);
    const bad = spawnSync(process.execPath, [bin, '--max-file-bytes', 'lots', 'validate', f], { cwd: root, encoding: 'utf8' });
    assert.equal(bad.status, 64);
    assert.match(bad.stderr, /--max-file-bytes: expected a positive number of bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run logs an unchanged manifest error once, not on every snapshot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-limits-'));
  const socket = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath: socket });
  const folder = join(dir, 'm');
  mkdirSync(folder);
  writeFileSync(join(folder, 'bad.yaml'), containerYaml('bad').replace('memoryMB: 512', 'memoryMB: 1'));
  writeFileSync(join(folder, 'web.yaml'), containerYaml('web'));
  const child = spawn(process.execPath, [bin, '--owner', 'limits-test', 'run', '--manifests', folder, '--listen', 'off', '--log-format', 'json', '--settle', '20ms'], { cwd: root, env: { ...process.env, HCS_EMULATOR_SOCKET: socket } });
  let out = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const waitFor = async (re: RegExp, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!re.test(out)) {
      if (Date.now() > deadline) assert.fail(`no ${what}:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(/"system":"web","event":"started"/, 'web started');
  for (const memoryMB of [768, 1024]) {
    writeFileSync(join(folder, 'web.yaml'), containerYaml('web', { memoryMB }));
    await waitFor(new RegExp(`"system":"web","event":"recreated"[\\s\\S]*`.repeat(memoryMB === 768 ? 1 : 2)), `web recreated for ${memoryMB}`);
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const lines = out.split('\n').filter((l) => /"msg":"manifest error"/.test(l) && /bad\.yaml/.test(l));
  assert.equal(lines.length, 1, lines.join('\n'));
});
