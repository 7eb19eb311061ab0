/** `hcs-reconciler emulator ...` and `ps --all` from outside: exit codes and effects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

test('emulator start/status/create-foreign/fault/crash/stop and ps --all', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-emucli-'));
  const env = { ...process.env, HCS_EMULATOR_SOCKET: join(dir, 'emu.sock') };
  const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  t.after(() => {
    cli('emulator', 'stop');
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(cli('emulator', 'status').status, 3, 'not running yet');
  assert.equal(JSON.parse(cli('emulator', 'status', '-o', 'json').stdout).running, false);
  const start = cli('emulator', 'start', '--dir', join(dir, 'state'));
  assert.equal(start.status, 0, start.stderr);
  assert.match(start.stdout, /^started: HCS emulator pid \d+/);
  assert.match(cli('emulator', 'start').stdout, /^already running/);
  assert.equal(cli('emulator', 'create-foreign', 'c0ffee', '--owner', 'docker').status, 0);
  const ours = cli('ps', '-o', 'json');
  assert.deepEqual(JSON.parse(ours.stdout), [], 'ps shows only our systems by default');
  const all = JSON.parse(cli('ps', '--all', '-o', 'json').stdout) as Array<{ id: string; owner: string; state: string }>;
  assert.deepEqual(all.map((s) => [s.id, s.owner, s.state]), [['c0ffee', 'docker', 'Running']]);
  assert.match(cli('ps', '--all').stdout, /^ID\s+TYPE\s+STATE\s+OWNER/);
  assert.equal(cli('emulator', 'fault', 'Start', 'NOT_AN_HRESULT').status, 64);
  const fault = cli('emulator', 'fault', 'Start', 'HCS_E_INVALID_STATE', '--count', '2', '--latency', '5');
  assert.equal(fault.status, 0, fault.stderr);
  const status = JSON.parse(cli('emulator', 'status', '-o', 'json').stdout) as { running: boolean; faults: { fail: unknown[]; latency: Record<string, number> } };
  assert.equal(status.faults.fail.length, 1);
  assert.equal(Object.values(status.faults.latency)[0], 5);
  assert.equal(cli('emulator', 'crash', 'c0ffee').status, 0);
  const after = JSON.parse(cli('ps', '--all', '-o', 'json').stdout) as unknown[];
  assert.deepEqual(after, [], 'a crashed system with no handle is cleaned up');
  assert.equal(cli('emulator', 'stop').status, 0);
  assert.equal(cli('emulator', 'status').status, 3);
  const ps = cli('ps');
  assert.equal(ps.status, 1);
  assert.match(ps.stderr, /no HCS emulator is running at .*emu\.sock; start one with "hcs-reconciler emulator start"/);
});
