/** `hcs-reconciler emulator reboot`: systems vanish, exit codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

test('emulator reboot: compute systems are gone, exit 0; without an emulator exit 1 with what to do', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-reboot-'));
  const env = { ...process.env, HCS_EMULATOR_SOCKET: join(dir, 'emu.sock') };
  const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  t.after(() => {
    cli('emulator', 'stop');
    rmSync(dir, { recursive: true, force: true });
  });
  const none = cli('emulator', 'reboot');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no HCS emulator is running at .*emulator start/);
  assert.equal(cli('emulator', 'start').status, 0);
  assert.equal(cli('emulator', 'create-foreign', 'c0ffee', '--owner', 'docker').status, 0);
  const reboot = cli('emulator', 'reboot');
  assert.equal(reboot.status, 0, reboot.stderr);
  assert.match(reboot.stdout, /^rebooted: compute systems, mounted scratches, endpoints, namespaces and NAT networks are gone; files stay/);
  assert.deepEqual(JSON.parse(cli('ps', '--all', '-o', 'json').stdout), []);
});
