/**
 * Issue 12, "Error messages": usage errors are one line; validate reports each skipped entry
 * (FIFO, ELOOP link, folders deeper than the depth) and exits 1 for a named file it cannot read;
 * the emulator fault CLI clears faults and takes every HRESULT name the tool prints;
 * create-foreign --help shows --owner; service print keeps a Windows path as given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { containerYaml } from '../integration/helpers.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a usage error is one line saying what to do', () => {
  for (const args of [['plan'], ['nosuch'], ['validate', '--bogus', 'x']]) {
    const r = cli(args);
    assert.equal(r.code, 64, args.join(' '));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^hcs-reconciler: .*\(see --help\)$/m);
    assert.doesNotMatch(r.stderr, /Usage:/);
  }
});

test('validate reports FIFOs, link loops and too-deep folders; a named unreadable file exits 1', { skip: process.platform === 'win32' ? 'mkfifo' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-msg-'));
  try {
    const m = join(dir, 'm');
    mkdirSync(join(m, 'a', 'b'), { recursive: true });
    execFileSync('mkfifo', [join(m, 'pipe.yaml')]);
    symlinkSync('loop.yaml', join(m, 'loop.yaml'));
    writeFileSync(join(m, 'a', 'b', 'deep.yaml'), containerYaml('deep'));
    const r = cli(['validate', m]);
    assert.equal(r.code, 1, r.stdout);
    assert.doesNotMatch(r.stdout, /^ok:/m);
    assert.match(r.stderr, /pipe\.yaml:1:1 skipped: not a regular file \(FIFO, socket or device\); not read/);
    assert.match(r.stderr, /loop\.yaml:1:1 skipped: symlink loop \(ELOOP\); not read/);
    assert.match(r.stderr, /a.b:1:1 skipped: folder deeper than the depth read \(1\); its manifest files are not read/);
    const named = cli(['validate', join(m, 'pipe.yaml')]);
    assert.equal(named.code, 1);
    assert.match(named.stderr, /pipe\.yaml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('emulator fault: --clear, every HRESULT name the tool prints; create-foreign --help shows --owner', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-msg-'));
  const socket = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath: socket });
  t.after(async () => {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = { HCS_EMULATOR_SOCKET: socket };
  for (const name of ['E_ABORT', 'RPC_S_SERVER_UNAVAILABLE', 'HCS_E_INVALID_STATE', '0x80370105']) {
    const r = cli(['--emulator-socket', socket, 'emulator', 'fault', 'Create', name], env);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
  assert.ok((await emu.control.status()).faults.fail.length > 0);
  const clear = cli(['--emulator-socket', socket, 'emulator', 'fault', '--clear'], env);
  assert.equal(clear.code, 0, clear.stderr);
  assert.equal((await emu.control.status()).faults.fail.length, 0, 'faults cleared');
  const bad = cli(['--emulator-socket', socket, 'emulator', 'fault', 'Create', 'E_NOPE'], env);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /unknown HRESULT "E_NOPE": use a hex value like 0x80370105 or one of .*HCS_E_INVALID_STATE/);
  assert.match(cli(['emulator', 'create-foreign', '--help']).stdout, /--owner <name>/);
});

test('service print keeps a Windows manifests path as given', () => {
  const r = cli(['service', 'print', '--manifests', 'C:\\gitops\\manifests']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /run --manifests C:\\gitops\\manifests /);
  assert.doesNotMatch(r.stdout, /\/C:\\gitops/);
});
