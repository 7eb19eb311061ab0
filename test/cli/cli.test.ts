/**
 * The CLI contracts, exercised from outside as operators and scripts use them: exit codes,
 * `-o json` shapes, stderr messages, and `run` reacting to files end to end on the emulator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { containerYaml } from '../integration/helpers.ts';
import { spawnLogged } from './run-cli.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('validate: exit 0 on the examples, 1 with file:line:col errors, json shape', () => {
  const ok = cli(['validate', 'manifests']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^ok: 6 manifest\(s\) valid in 6 file\(s\)/);
  const bad = cli(['validate', 'test/fixtures/invalid/memory-too-small.yaml']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /memory-too-small\.yaml:\d+:\d+ spec\.container\.memoryMB: must be >= 64 \(got 0\)/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  const json = JSON.parse(cli(['validate', 'manifests', '-o', 'json']).stdout) as { valid: boolean; manifests: Array<{ name: string; ids: string[] }>; errors: unknown[] };
  assert.equal(json.valid, true);
  assert.deepEqual(json.manifests.map((m) => m.name).sort(), ['app-api', 'app-db', 'build-vm', 'raw-vm', 'web', 'web-hyperv']);
  const missing = cli(['validate', 'no/such/folder']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no\/such\/folder/);
});

test('render and schema print documents and the JSON Schema', () => {
  const r = cli(['render', 'manifests/web.yaml', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const [web] = JSON.parse(r.stdout) as Array<{ name: string; configHash: string; parts: Array<{ id: string; document: Record<string, unknown> }> }>;
  assert.equal(web?.name, 'web');
  assert.equal(web?.parts[0]?.id, `web-${web?.configHash.slice(0, 12)}`);
  assert.equal(web?.parts[0]?.document.ShouldTerminateOnLastHandleClosed, false);
  const schema = JSON.parse(cli(['schema']).stdout) as { $schema: string };
  assert.match(schema.$schema, /2020-12/);
});

test('usage errors: exit 64 and one line, never a stack trace', () => {
  const r = cli(['plan']);
  assert.equal(r.code, 64);
  assert.match(r.stderr, /--manifests/);
  const listen = cli(['run', '--manifests', 'manifests', '--listen', '0.0.0.0:9180']);
  assert.equal(listen.code, 64);
  assert.match(listen.stderr, /refusing a non-loopback address/);
});

test('plan exit codes 2/0/1, apply converges, ps lists ours; run reacts to file drops end to end', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-cli-'));
  const socket = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath: socket });
  const env = { HCS_EMULATOR_SOCKET: socket };
  const manifests = join(dir, 'manifests');
  cpSync(join(root, 'manifests'), manifests, { recursive: true });
  t.after(async () => {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const pending = cli(['plan', '--manifests', manifests, '-o', 'json'], env);
  assert.equal(pending.code, 2, pending.stderr);
  const plan = JSON.parse(pending.stdout) as { converged: boolean; nodes: Array<{ id: string; resource: { kind: string; name: string; hcsId?: string }; op: string; reason: string; cause: string; deps: string[] }> };
  assert.deepEqual(Object.keys(plan), ['converged', 'nodes'], 'plan -o json is exactly { converged, nodes }');
  assert.equal(plan.converged, false);
  assert.ok(plan.nodes.some((n) => n.op === 'create' && n.reason === 'notFound' && n.cause === 'not found' && n.resource.kind === 'computeSystem'));
  for (const n of plan.nodes) {
    assert.deepEqual(Object.keys(n), ['id', 'resource', 'op', 'reason', 'cause', 'deps']);
    for (const dep of n.deps) assert.ok(plan.nodes.findIndex((m) => m.id === dep) < plan.nodes.indexOf(n), `${n.id} comes after its dep ${dep}`);
  }
  // The text form lists the same nodes, in the same order, with their causes.
  const text = cli(['plan', '--manifests', manifests], env).stdout.trim().split('\n');
  assert.deepEqual(text.slice(0, plan.nodes.length).map((l) => l.split(' ')[1]), plan.nodes.map((n) => n.op));
  assert.ok(plan.nodes.every((n, i) => text[i]!.endsWith(`: ${n.cause}`)));
  const apply = cli(['apply', '--manifests', manifests, '--timeout', '60s'], env);
  assert.equal(apply.code, 0, apply.stderr);
  assert.equal(cli(['plan', '--manifests', manifests], env).code, 0);
  const ps = JSON.parse(cli(['ps', '-o', 'json'], env).stdout) as Array<{ id: string; owner: string }>;
  assert.equal(ps.length, 5, 'five systems: five manifests running (one is desired Stopped); HCS manages the Hyper-V utility VM itself');
  writeFileSync(join(manifests, 'broken.yaml'), 'apiVersion: [');
  assert.equal(cli(['plan', '--manifests', manifests], env).code, 1);
  unlinkSync(join(manifests, 'broken.yaml'));

  const folder = join(dir, 'live');
  cpSync(join(manifests, 'web.yaml'), join(dir, 'web.yaml'));
  const { mkdirSync } = await import('node:fs');
  mkdirSync(folder);
  const { child, lines, waitLog } = spawnLogged(['--owner', 'cli-run-test', 'run', '--manifests', folder, '--listen', 'off', '--allow-empty', '--log-format', 'json', '--lock-dir', dir], env);
  try {
    await waitLog(/controller running/);
    writeFileSync(join(folder, 'drop.yaml'), containerYaml('drop'));
    await waitLog(/"system":"drop","event":"started"/);
    writeFileSync(join(folder, 'drop.yaml'), containerYaml('drop', { memoryMB: 768 }));
    await waitLog(/"system":"drop","event":"recreated"/);
    await waitLog(/"msg":"drop-[0-9a-f]{12} running".*"event":"started"/);
    unlinkSync(join(folder, 'drop.yaml'));
    await waitLog(/"system":"drop","event":"pruned"/);
    const systems = (await emu.control.list()).filter((s) => s.id.startsWith('drop-') && s.state !== 'Stopped');
    assert.deepEqual(systems, []);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  assert.ok(lines.some((l) => /workloads keep running/.test(l)));
  writeFileSync(join(folder, 'keep.yaml'), containerYaml('keep'));
  const second = cli(['--owner', 'cli-run-test', 'apply', '--manifests', folder], env);
  assert.equal(second.code, 0, second.stderr);
  const { child: child2, waitLog: waitLog2 } = spawnLogged(['--owner', 'cli-run-test', 'run', '--manifests', folder, '--listen', 'off', '--lock-dir', dir], env);
  await waitLog2(/controller running/);
  child2.kill('SIGTERM');
  await new Promise((r) => child2.once('exit', r));
  const kept = JSON.parse(cli(['--owner', 'cli-run-test', 'ps', '-o', 'json'], env).stdout) as Array<{ state: string }>;
  assert.deepEqual(kept.map((s) => s.state), ['Running'], 'SIGTERM leaves workloads running');
  const after = JSON.parse(cli(['ps', '-o', 'json'], env).stdout) as unknown[];
  assert.equal(after.length, 5, 'another owner\'s controller never touched our systems');
});

test('--strict-folder refuses a manifests folder writable by others; without it, run warns', { skip: process.platform === 'win32' ? 'POSIX mode bits only' : false }, async () => {
  const { chmodSync, mkdirSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'hcs-strict-'));
  const folder = join(dir, 'open');
  mkdirSync(folder);
  chmodSync(folder, 0o777);
  try {
    const r = cli(['--owner', 'strict-test', 'run', '--manifests', folder, '--strict-folder', '--listen', 'off', '--lock-dir', dir], { HCS_EMULATOR_SOCKET: join(dir, 'none.sock') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--strict-folder: manifests folder .*open is writable by non-administrators .*whoever can write it controls what this host runs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
