/**
 * The log relay process (src/cli/relay.ts, relay-main.mjs, capture-hcs.ts spawnRelay):
 *  - it runs compiled JavaScript on plain node and loads nothing but itself, koffi and node's
 *    built-ins (a loader trace of a real relay run);
 *  - it outlives its spawner: the kill -9 of the spawner's whole process group and session, and,
 *    started through the --launch intermediate (the Windows default), a WinSW-style stop of the
 *    spawner's process tree, which finds children by parent process id (winsw
 *    src/WinSW.Core/Util/ProcessExtensions.cs GetChildren). Without the intermediate that stop
 *    kills the relay, which is why Windows uses it. Linux only (/proc); the Windows half is the
 *    gated test/windows/relay-service.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnRelay } from '../../src/cli/capture-hcs.ts';
import { relayCommand } from '../../src/cli/relay-entry.ts';
import type { NativeHcsClient } from '../../src/hcs/index.ts';
import { generationPath } from '../../src/logs/writer.ts';
import { containerDoc, eventually, newClient, startService, type Service } from '../hcs/harness.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const linux = process.platform === 'linux';

interface ProcStat {
  ppid: number;
  pgrp: number;
  session: number;
  state: string;
  start: number;
}

function stat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), start: Number(f[19]) };
  } catch {
    return undefined;
  }
}

const alive = (pid: number): boolean => {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z' && s.state !== 'X';
};

function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/**
 * WinSW's tree stop on Linux: the descendants of `pid` by parent process id, each started after
 * its parent (WinSW's StartTime check), collected before anything is killed (Windows keeps a dead
 * parent's id in InheritedFromUniqueProcessId; Linux re-parents orphans, so walk first).
 */
function treeByParentPid(pid: number): number[] {
  const stats = new Map(allPids().map((p) => [p, stat(p)] as const));
  const found: number[] = [pid];
  for (let i = 0; i < found.length; i++) {
    const parent = found[i]!;
    const ps = stats.get(parent);
    for (const [p, s] of stats) if (s && ps && s.ppid === parent && s.start >= ps.start && !found.includes(p)) found.push(p);
  }
  return found;
}

function lines(path: string): number {
  try {
    return readFileSync(path, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

describe('log relay process', { skip: linux ? false : 'needs /proc (Linux); Windows: test/windows/relay-service.test.ts' }, () => {
  let svc: Service;
  let hcs: NativeHcsClient;
  let dir: string;
  before(async () => {
    svc = await startService();
    hcs = newClient(svc);
    dir = mkdtempSync(join(tmpdir(), 'hcs-relay-'));
  });
  after(async () => {
    await hcs.close();
    await svc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs compiled JavaScript on plain node and loads only itself, koffi and node built-ins', async () => {
    const cmd = await relayCommand();
    const trace = join(dir, 'trace.mjs');
    const hook = "export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('LOADED ' + r.url + '\\n'); return r; }";
    writeFileSync(trace, `import { register } from 'node:module';\nregister('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));\n`);
    // A config for a system that does not exist: the relay loads everything, reports, exits 1.
    const config = { libraryPath: svc.native.libraryPath, systemId: 'nosuch', parameters: {}, logDir: dir, rotation: { maxBytes: 1024, maxFiles: 1 }, timeoutMs: 10_000 };
    const r = spawnSync(process.execPath, ['--import', trace, ...cmd.flags, cmd.main, ...cmd.args], { input: JSON.stringify(config), encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^\{"error":/, 'it reported the failed open');
    const loaded = [...new Set([...r.stderr.matchAll(/^LOADED (.*)$/gm)].map((m) => m[1]!))];
    const foreign = loaded.filter((u) => !u.startsWith('node:') && !u.includes('/node_modules/koffi/') && !u.endsWith('/src/cli/relay-main.mjs') && !/\/relay(-[0-9a-f]+|\.bundle)\.mjs$/.test(u));
    assert.deepEqual(foreign, [], `the relay loaded only itself, koffi and built-ins: ${loaded.join(' ')}`);
    assert.ok(!loaded.some((u) => /\.ts$|\/tsx\//.test(u)), 'no TypeScript, no tsx');
    // The bundle's inputs (esbuild names each in a comment): our sources only, no other package.
    const bundle = fileURLToPath(loaded.find((u) => /\/relay(-[0-9a-f]+|\.bundle)\.mjs$/.test(u))!);
    const inputs = [...readFileSync(bundle, 'utf8').matchAll(/^\/\/ (\S+\.(?:ts|js|mjs|cjs))$/gm)].map((m) => m[1]!);
    assert.ok(inputs.some((i) => i.endsWith('hcs/ffi.ts')) && inputs.some((i) => i.endsWith('logs/writer.ts')), `inputs: ${inputs.join(' ')}`);
    const deps = inputs.filter((i) => i.includes('node_modules') || /commander|ajv|yaml|xstate|prom-client|chokidar|manifest\/|reconciler\//.test(i));
    assert.deepEqual(deps, [], 'no commander/ajv/yaml/xstate/prom-client/chokidar, no manifest or core code');
  });

  it('D6: an entrypoint recovered after a spurious CreateProcess failure is still captured, every line', async () => {
    const sys = await hcs.create('d6relay', containerDoc());
    await sys.start();
    await svc.emu.control.fault({ op: 'CreateProcess', hresult: 'E_INVALIDARG', afterEffect: true, id: 'd6relay' });
    const logDir = join(dir, 'd6relay');
    const parameters = { CommandLine: 'app.exe', Environment: { HCSEMU_PRINT_EVERY_MS: '1', HCSEMU_PRINT_COUNT: '50', HCSEMU_PRINT_STREAM: 'both', HCSEMU_PRINT_EXIT_CODE: '0' } };
    const report = await spawnRelay(
      { libraryPath: svc.native.libraryPath, systemId: 'd6relay', parameters, logDir, rotation: { maxBytes: 1 << 20, maxFiles: 2 }, timeoutMs: 30_000 },
      { env: process.env, launcher: false }, 30_000,
    );
    assert.ok('pid' in report && report.pid >= 1000, JSON.stringify(report));
    await eventually(() => existsSync(join(logDir, 'd6relay.ended')), 'the output to end', 15_000);
    const logs = readFileSync(generationPath(logDir, 'd6relay', 1), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { log: string; stream: string });
    assert.equal(logs.length, 50, 'no line lost');
    assert.deepEqual(logs.map((r) => Number(r.log.split(' ')[1])).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    assert.ok(logs.every((r) => (Number(r.log.split(' ')[1]) % 2 === 1) === (r.stream === 'stdout')), 'each on its stream');
    assert.match(readFileSync(join(logDir, 'relay-d6relay.log'), 'utf8'), /output ended, 50 records/);
    await sys.terminate();
  });

  async function startSpawner(id: string, launcher: boolean) {
    const sys = await hcs.create(id, containerDoc());
    await sys.start();
    const logDir = join(dir, id);
    // The spawner gets its own session and group (detached), so killing them cannot hit this runner.
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/logs/relay-spawner.child.ts'), svc.native.libraryPath, id, logDir, launcher ? '1' : '0'], {
      cwd: root, detached: true, stdio: ['ignore', 'pipe', 'inherit'], env: process.env,
    });
    const report = await new Promise<{ pid: number; relay: number }>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (c: Buffer) => {
        text += c.toString();
        if (text.includes('\n')) resolve(JSON.parse(text.slice(0, text.indexOf('\n'))));
      });
      child.once('exit', (code) => reject(new Error(`spawner exited ${code}: ${text}`)));
    });
    child.stdout.destroy();
    const log = generationPath(logDir, id, 1);
    await eventually(() => lines(log) > 0, 'the first line in the log', 30_000);
    return { sys, spawner: child.pid!, relay: report.relay, log, logDir };
  }

  async function stillCapturing(log: string): Promise<void> {
    const before = lines(log);
    await eventually(() => lines(log) >= before + 5, 'the relay to write on', 10_000);
  }

  it('survives the kill -9 of its spawner, its process group and its whole session', async () => {
    const { sys, spawner, relay, log, logDir } = await startSpawner('sess', false);
    const session = stat(spawner)!.session;
    assert.notEqual(stat(relay)?.session, session, 'the relay has a session of its own');
    const members = allPids().filter((p) => stat(p)?.session === session);
    assert.ok(members.includes(spawner));
    process.kill(-stat(spawner)!.pgrp, 'SIGKILL');
    for (const p of members) if (alive(p)) process.kill(p, 'SIGKILL');
    await eventually(() => !alive(spawner), 'the spawner gone');
    assert.ok(alive(relay), 'the relay lives on');
    await stillCapturing(log);
    await sys.terminate();
    await eventually(() => !alive(relay) && existsSync(join(logDir, 'sess.ended')), 'the relay to end with the entrypoint', 15_000);
  });

  it('through the --launch intermediate it is not in its spawner\'s process tree (WinSW-style stop); without, it is', async () => {
    const launched = await startSpawner('launched', true);
    // The intermediate exits once the relay is spawned: the relay's parent is then no longer in the tree.
    await eventually(() => !treeByParentPid(launched.spawner).includes(launched.relay), 'the relay out of the spawner\'s tree');
    const direct = await startSpawner('direct', false);
    assert.ok(treeByParentPid(direct.spawner).includes(direct.relay), 'a directly spawned relay is the spawner\'s child');
    for (const { spawner } of [launched, direct]) {
      for (const p of treeByParentPid(spawner)) process.kill(p, 'SIGKILL'); // WinSW: Ctrl+C, then TerminateProcess
    }
    await eventually(() => !alive(launched.spawner) && !alive(direct.spawner), 'both spawners gone');
    await eventually(() => !alive(direct.relay), 'the direct relay killed with the tree');
    assert.ok(alive(launched.relay), 'the launched relay survived the tree stop');
    await stillCapturing(launched.log);
    await launched.sys.terminate();
    await direct.sys.terminate();
    await eventually(() => !alive(launched.relay), 'the launched relay to end with its entrypoint', 15_000);
  });
});
