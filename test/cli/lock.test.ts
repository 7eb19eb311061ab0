/**
 * The owner's single-instance lock (issue 12, findings 1 and 2): `apply` while a controller of
 * the same owner runs changes nothing and names the holder; the lock follows the HCS it drives
 * (next to the emulator socket), not $XDG_RUNTIME_DIR; `status` finds the controller through it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { lockFileFor } from '../../src/cli/lock.ts';
import { containerYaml } from '../integration/helpers.ts';
import { spawnController } from './controller-child.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

test('lock file: machine-wide on Windows, next to the emulator socket elsewhere, --lock-dir wins', () => {
  assert.equal(lockFileFor({ owner: 'o', platform: 'win32', programData: 'C:\\ProgramData' }), 'C:\\ProgramData\\hcs-reconciler\\o.lock');
  assert.equal(lockFileFor({ owner: 'o', platform: 'win32', socketPath: '/x/s.sock', programData: 'D:\\PD\\' }), 'D:\\PD\\hcs-reconciler\\o.lock');
  assert.equal(lockFileFor({ owner: 'a/b', platform: 'linux', socketPath: '/run/hcs/service.sock' }), '/run/hcs/service.sock.a_b.lock');
  assert.equal(lockFileFor({ owner: 'o', platform: 'linux', socketPath: '/s', lockDir: '/l' }), '/l/o.lock');
});

test('apply and a second run are refused while a controller of the same owner runs on the same HCS', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-lock-'));
  const socket = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath: socket });
  const folder = join(dir, 'm');
  const other = join(dir, 'other');
  mkdirSync(folder);
  mkdirSync(other);
  writeFileSync(join(folder, 'web.yaml'), containerYaml('web'));
  writeFileSync(join(other, 'intruder.yaml'), containerYaml('intruder'));
  const port = await freePort();
  const xdg1 = join(dir, 'xdg1');
  const xdg2 = join(dir, 'xdg2');
  mkdirSync(xdg1);
  mkdirSync(xdg2);
  const env = (xdg: string) => ({ ...process.env, HCS_EMULATOR_SOCKET: socket, XDG_RUNTIME_DIR: xdg });
  const { child, log } = spawnController(t, { bin, root, args: ['--owner', 'lock-test', 'run', '--manifests', folder, '--listen', `127.0.0.1:${port}`], env: env(xdg1), emu, dir });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ours = (await emu.control.list()).filter((s) => s.owner === 'lock-test' && s.state === 'Running');
    if (ours.length === 1 && /controller running/.test(log.text)) break;
    if (Date.now() > deadline) assert.fail(`web never ran: ${log.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const before = (await emu.control.list()).map((s) => `${s.id}:${s.state}`).sort();

  const apply = spawnSync(process.execPath, [bin, '--owner', 'lock-test', 'apply', '--manifests', other, '--timeout', '20s'], { cwd: root, env: env(xdg2), encoding: 'utf8', timeout: 30_000 });
  assert.equal(apply.status, 1, apply.stderr);
  assert.match(apply.stderr, new RegExp(`another controller for owner "lock-test" is running: pid ${child.pid} \\(run\\), started .*, manifests ${folder.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, endpoint http://127\\.0\\.0\\.1:${port}`));
  assert.deepEqual((await emu.control.list()).map((s) => `${s.id}:${s.state}`).sort(), before, 'apply changed nothing');

  const second = spawnSync(process.execPath, [bin, '--owner', 'lock-test', 'run', '--manifests', other, '--listen', 'off'], { cwd: root, env: env(xdg2), encoding: 'utf8', timeout: 30_000 });
  assert.equal(second.status, 1, second.stderr);
  assert.match(second.stderr, new RegExp(`another controller for owner "lock-test" is running: pid ${child.pid}`));
  assert.deepEqual((await emu.control.list()).map((s) => `${s.id}:${s.state}`).sort(), before, 'the second run changed nothing');

  // `status` without --listen finds the controller from the lock record (its endpoint).
  const status = spawnSync(process.execPath, [bin, '--owner', 'lock-test', 'status', '-o', 'json'], { cwd: root, env: env(xdg2), encoding: 'utf8', timeout: 30_000 });
  assert.equal(status.status, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { owner: string }).owner, 'lock-test');

  const nosuch = spawnSync(process.execPath, [bin, '--owner', 'lock-test', 'events', 'nosuch'], { cwd: root, env: env(xdg2), encoding: 'utf8', timeout: 30_000 });
  assert.equal(nosuch.status, 1, nosuch.stderr);
  assert.match(nosuch.stderr, /no system or manifest named nosuch/);
  const events = spawnSync(process.execPath, [bin, '--owner', 'lock-test', 'events', 'web', '-o', 'json'], { cwd: root, env: env(xdg2), encoding: 'utf8', timeout: 30_000 });
  assert.equal(events.status, 0, events.stderr);
  assert.ok((JSON.parse(events.stdout) as unknown[]).length > 0, 'events found the controller without --listen');

  child.kill('SIGTERM');
  assert.equal(await new Promise((r) => child.once('exit', r)), 0, log.text);
  const applied = spawnSync(process.execPath, [bin, '--owner', 'lock-test', 'apply', '--manifests', folder, '--timeout', '20s'], { cwd: root, env: env(xdg2), encoding: 'utf8', timeout: 30_000 });
  assert.equal(applied.status, 0, `apply works once the controller is gone: ${applied.stderr}`);
});
