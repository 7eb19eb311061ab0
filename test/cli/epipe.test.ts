/**
 * `hcs-reconciler emulator status | head -1`: a command whose reader closes its end of the pipe
 * early exits quietly (no "Unhandled 'error' event", no stack trace, its normal exit code), for
 * every command, not only `logs` and `exec` (issue 12: `emulator status` died of EPIPE).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

interface Early { code: number | null; signal: NodeJS.Signals | null; firstLine: string; stderr: string }

/**
 * Runs the CLI with stdout into a reader that behaves like `head -1`: it reads up to the first
 * newline and then closes the pipe. `immediately` closes it before anything was read.
 */
function headOne(args: string[], env: NodeJS.ProcessEnv, immediately = false): Promise<Early> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    if (immediately) child.stdout.destroy();
    else {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString('utf8');
        if (out.includes('\n')) child.stdout.destroy();
      });
    }
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, firstLine: out.split('\n')[0] ?? '', stderr }));
  });
}

function assertQuiet(r: Early, code: number, what: string): void {
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}`);
  assert.doesNotMatch(r.stderr, /EPIPE|Unhandled|at .*\(.*:\d+:\d+\)/, `${what}: ${r.stderr}`);
  assert.equal(r.code, code, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
}

test('a closed stdout ends every command quietly (emulator status | head -1, schema, ps)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-epipe-'));
  const env = { ...process.env, HCS_EMULATOR_SOCKET: join(dir, 'emu.sock') };
  const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  t.after(() => {
    cli('emulator', 'stop');
    rmSync(dir, { recursive: true, force: true });
  });
  assertQuiet(await headOne(['emulator', 'status'], env, true), 3, 'emulator status (not running), reader gone at once');
  const schema = await headOne(['schema'], env);
  assertQuiet(schema, 0, 'schema | head -1');
  assert.equal(schema.firstLine, '{');

  assert.equal(cli('emulator', 'start', '--dir', join(dir, 'state')).status, 0);
  for (let i = 0; i < 3; i++) assert.equal(cli('emulator', 'create-foreign', `f${i}`, '--owner', 'docker').status, 0);
  const status = await headOne(['emulator', 'status'], env);
  assertQuiet(status, 0, 'emulator status | head -1');
  assert.match(status.firstLine, /^running: pid \d+/);
  assertQuiet(await headOne(['emulator', 'status'], env, true), 0, 'emulator status, reader gone at once');
  assertQuiet(await headOne(['emulator', 'status', '-o', 'json'], env, true), 0, 'emulator status -o json');
  assertQuiet(await headOne(['ps', '--all'], env, true), 0, 'ps --all');
});
