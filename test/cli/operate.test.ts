/**
 * Operating the controller: /status, /events, /metrics of a running `run` against the emulator
 * (Prometheus text parsed, values checked to move), `status`/`events` commands, the single
 * instance lock, shutdown leaving systems running, and the Windows service definition.
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
import { winswXml, serviceOptions } from '../../src/cli/commands/service.ts';
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

/** Parse Prometheus text into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function until<T>(fn: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a running controller serves status, events and moving metrics; a second instance is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-op-'));
  const socket = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath: socket });
  const folder = join(dir, 'm');
  mkdirSync(folder);
  writeFileSync(join(folder, 'web.yaml'), containerYaml('web'));
  writeFileSync(join(folder, 'bad.yaml'), containerYaml('bad').replace('memoryMB: 512', 'memoryMB: 1'));
  const port = await freePort();
  const env = { ...process.env, HCS_EMULATOR_SOCKET: socket };
  const args = ['--owner', 'op-test', 'run', '--manifests', folder, '--listen', `127.0.0.1:${port}`, '--lock-dir', dir];
  const { child, log } = spawnController(t, { bin, root, args: args, env: env, emu, dir });
  const base = `http://127.0.0.1:${port}`;
  const status = await until(async () => {
    const s = (await (await fetch(`${base}/status`)).json()) as { converged: boolean; systems: Array<{ name: string; actual: string }>; manifestErrors: Array<{ file: string; line: number; message: string }> };
    return s.converged && s.systems.some((x) => x.name === 'web' && x.actual === 'Running') ? s : undefined;
  }, 'web running');
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  assert.equal(status.manifestErrors.length, 1);
  assert.match(status.manifestErrors[0]!.message, /must be >= 64 \(got 1\)/);

  const m1 = parseMetrics(await (await fetch(`${base}/metrics`)).text());
  assert.equal(m1.get('hcs_reconciler_systems{desired="Running",actual="Running"}'), 1);
  assert.equal(m1.get('hcs_reconciler_manifest_errors'), 1);
  assert.ok((m1.get('hcs_reconciler_hcs_calls_total{op="create"}') ?? 0) >= 1);
  const passes1 = m1.get('hcs_reconciler_reconcile_passes_total')!;
  await emu.control.fault({ op: 'Create', hresult: 'HCS_E_OPERATION_TIMEOUT', count: 1 });
  const id = (await emu.control.list()).find((s) => s.owner === 'op-test')!.id;
  await emu.control.crash(id);
  const m2 = await until(async () => {
    const m = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    return (m.get('hcs_reconciler_hcs_errors_total{op="create",hresult="0x80370118"}') ?? 0) >= 1 ? m : undefined;
  }, 'create error counted');
  assert.ok(m2.get('hcs_reconciler_reconcile_passes_total')! > passes1, 'passes moved');
  assert.ok((m2.get('hcs_reconciler_system_restarts{system="web"}') ?? 0) >= 1, 'restart counted');

  const cliEnv = { ...env };
  const statusJson = spawnSync(process.execPath, [bin, 'status', '-o', 'json', '--listen', `127.0.0.1:${port}`], { cwd: root, env: cliEnv, encoding: 'utf8' });
  assert.equal(statusJson.status, 0, statusJson.stderr);
  assert.equal((JSON.parse(statusJson.stdout) as { owner: string }).owner, 'op-test');
  const statusText = spawnSync(process.execPath, [bin, 'status', '--listen', `127.0.0.1:${port}`], { cwd: root, env: cliEnv, encoding: 'utf8' });
  assert.match(statusText.stdout, /^NAME\s+DESIRED\s+ACTUAL/);
  assert.match(statusText.stdout, /bad\.yaml:\d+:\d+ spec\.container\.memoryMB: must be >= 64/);
  const events = spawnSync(process.execPath, [bin, 'events', 'web', '-o', 'json', '--listen', `127.0.0.1:${port}`], { cwd: root, env: cliEnv, encoding: 'utf8' });
  const kinds = (JSON.parse(events.stdout) as Array<{ kind: string }>).map((e) => e.kind);
  assert.ok(kinds.includes('created') && kinds.includes('exited'), kinds.join(','));

  const second = spawnSync(process.execPath, [bin, ...args.slice(0, -4), '--listen', 'off', '--lock-dir', dir], { cwd: root, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(second.status, 1);
  assert.match(second.stderr, new RegExp(`another controller for owner "op-test" is running: pid ${child.pid}`));

  await until(async () => {
    const s = (await (await fetch(`${base}/status`)).json()) as { converged: boolean; systems: Array<{ name: string; actual: string }> };
    return s.converged && s.systems.some((x) => x.name === 'web' && x.actual === 'Running') ? true : undefined;
  }, 'web running again after the crash and the injected fault');
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0, log.text);
  const live = (await emu.control.list()).filter((s) => s.owner === 'op-test' && s.state === 'Running');
  assert.equal(live.length, 1, 'SIGTERM leaves the workload running');
  assert.equal((await emu.control.status()).handles, 0, 'and every handle was released');
});

test('status with no controller falls back to a plan view; loopback-only endpoint', () => {
  const r = spawnSync(process.execPath, [bin, 'status', '--listen', '127.0.0.1:1', '--manifests', 'manifests'], { cwd: root, encoding: 'utf8', env: { ...process.env, HCS_EMULATOR_SOCKET: '/nonexistent/sock' } });
  assert.match(r.stderr, /no controller answering at 127\.0\.0\.1:1; showing what a controller would do/);
  const any = spawnSync(process.execPath, [bin, 'run', '--manifests', 'manifests', '--listen', '192.168.1.5:9180'], { cwd: root, encoding: 'utf8' });
  assert.equal(any.status, 64);
  assert.match(any.stderr, /refusing a non-loopback address/);
});

test('Windows service definition: LocalSystem, thread pool, automatic start, restart on failure', () => {
  const xml = winswXml({ ...serviceOptions({ manifests: 'C:\\gitops\\manifests', threadpool: '128', args: ['--policy', 'C:\\gitops\\policy.yaml'] }), nodePath: 'C:\\Program Files\\nodejs\\node.exe', binPath: 'C:\\hcs-reconciler\\src\\cli\\bin.mjs' });
  assert.match(xml, /<executable>C:\\Program Files\\nodejs\\node\.exe<\/executable>/);
  assert.match(xml, /<arguments>--max-semi-space-size=2 C:\\hcs-reconciler\\src\\cli\\bin\.mjs run --manifests .*manifests --log-format json --policy C:\\gitops\\policy\.yaml<\/arguments>/);
  assert.match(xml, /<env name="UV_THREADPOOL_SIZE" value="128"\/>/);
  assert.match(xml, /<username>LocalSystem<\/username>/);
  assert.match(xml, /<startmode>Automatic<\/startmode>/);
  assert.match(xml, /<onfailure action="restart"/);
  assert.match(xml, /<stopparentprocessfirst>true<\/stopparentprocessfirst>/, 'the controller gets the Ctrl+C first (WinSW v2)');
  const r = spawnSync(process.execPath, [bin, 'service', 'install', '--winsw', 'x.exe'], { cwd: root, encoding: 'utf8' });
  if (process.platform !== 'win32') assert.match(r.stderr, /service install runs on Windows only/);
});
