/** The `image` CLI contracts against the real registry: pull output, ls -o json shape, rm refusal while in use, prune. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from '../images/real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage, type SyntheticImage } from '../images/synthetic.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

/** Runs the CLI without blocking the event loop (the registry runs in this process's children). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, HCS_RECONCILER_DEBUG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const manifest = (name: string, image: string) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  container:
    image: ${image}
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
`;

describe('image CLI', { skip: process.platform === 'win32' ? 'uses the emulator library' : registrySkip }, () => {
  let reg: RealRegistry;
  let img: SyntheticImage;
  let dir: string;
  before(async () => {
    reg = await startRealRegistry();
    img = windowsImage([await layerTar(baseLayerEntries()), await layerTar([{ name: 'Files/app', type: 'directory' }, { name: 'Files/app/web.exe', data: 'MZ' }])], { config: { Entrypoint: ['C:\\app\\web.exe'], Cmd: ['--port', '80'], User: 'ContainerUser' } });
    await pushImage(reg.base, 'win/web', 'v1', img);
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-img-'));
    mkdirSync(join(dir, 'manifests'));
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('pull, ls, render, rm refused while in use, prune empties the store', async () => {
    const g = ['--data-root', join(dir, 'data')];
    const ref = `${reg.host}/win/web:v1`;
    const pull = await cli([...g, 'image', 'pull', ref]);
    assert.equal(pull.code, 0, pull.stderr);
    const lines = pull.stdout.trim().split('\n');
    assert.equal(lines.length, 3, 'one line per layer, then the summary');
    assert.match(lines[0]!, /^[0-9a-f]{12}: pulled \d+\.\d MB$/);
    assert.equal(lines[2], `${ref}: ${img.index.digest} (2 layers, os.version 10.0.20348.1)`);

    writeFileSync(join(dir, 'manifests', 'web.yaml'), manifest('web', ref));
    const ls = await cli([...g, 'image', 'ls', '-o', 'json', '--manifests', join(dir, 'manifests')]);
    assert.equal(ls.code, 0, ls.stderr);
    const rows = JSON.parse(ls.stdout) as Record<string, unknown>[];
    assert.equal(rows.length, 1);
    assert.deepEqual(Object.keys(rows[0]!), ['reference', 'digest', 'osVersion', 'sizeBytes', 'layers', 'inUseBy']);
    assert.deepEqual({ ...rows[0], sizeBytes: typeof rows[0]!.sizeBytes }, { reference: ref, digest: img.index.digest, osVersion: '10.0.20348.1', sizeBytes: 'number', layers: 2, inUseBy: ['web'] });

    // The manifest renders from the store: layers top-most first, command line from Entrypoint + Cmd.
    const render = await cli([...g, 'render', join(dir, 'manifests', 'web.yaml'), '-o', 'json']);
    assert.equal(render.code, 0, render.stderr);
    assert.match(render.stdout, /"CommandLine": "C:\\\\app\\\\web.exe --port 80"/);
    assert.match(render.stdout, /"User": "ContainerUser"/, "the image config's User, as ProcessParameters.User");
    assert.match(render.stdout, new RegExp(`"Path": "${join(dir, 'data', 'layers').replace(/[/\\]/g, '.')}`));

    const rm = await cli([...g, 'image', 'rm', ref, '--manifests', join(dir, 'manifests')]);
    assert.equal(rm.code, 1);
    assert.equal(rm.stderr, `hcs-reconciler: image ${ref} is in use by web; remove or change those manifests first\n`);

    const keep = await cli([...g, 'image', 'prune', '-o', 'json', '--manifests', join(dir, 'manifests')]);
    assert.equal(keep.code, 0, keep.stderr);
    assert.deepEqual(JSON.parse(keep.stdout), { layers: [], reclaimedBytes: 0, images: [] });

    rmSync(join(dir, 'manifests', 'web.yaml'));
    const prune = await cli([...g, 'image', 'prune', '-o', 'json', '--manifests', join(dir, 'manifests')]);
    assert.equal(prune.code, 0, prune.stderr);
    const res = JSON.parse(prune.stdout) as { images: string[]; layers: string[]; reclaimedBytes: number };
    assert.deepEqual(res.images, [ref]);
    assert.equal(res.layers.length, 2);
    const empty = await cli([...g, 'image', 'ls', '-o', 'json']);
    assert.deepEqual(JSON.parse(empty.stdout), []);

    const missing = await cli([...g, 'image', 'pull', `${reg.host}/win/nope:v1`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^hcs-reconciler: .*win\/nope:v1: manifest v1: 404 MANIFEST_UNKNOWN: manifest unknown\n$/);
  });

  test('validate and plan without a store do not fail; plan shows the pull node before the system (text and -o json)', async () => {
    const g = ['--data-root', join(dir, 'fresh-never-created')];
    const folder = join(dir, 'ci-manifests');
    mkdirSync(folder);
    const ref = `${reg.host}/win/web:v1`;
    // No scratch: the controller provisions one (issue 15), so the plan has image -> scratch -> system.
    writeFileSync(join(folder, 'web.yaml'), manifest('web', ref).replace(/^    scratch: .*\n/m, ''));
    const validate = await cli([...g, 'validate', folder]);
    assert.equal(validate.code, 0, validate.stderr + validate.stdout);
    const socket = join(dir, 'emu-plan.sock');
    const emu = await startEmulator({ socketPath: socket });
    try {
      const json = await cli([...g, 'plan', '--manifests', folder, '-o', 'json'], { HCS_EMULATOR_SOCKET: socket });
      assert.equal(json.code, 2, json.stderr);
      const doc = JSON.parse(json.stdout) as { converged: boolean; nodes: { id: string; op: string; resource: { kind: string; image?: string }; deps: string[] }[] };
      assert.deepEqual(doc.nodes.map((n) => `${n.op} ${n.resource.kind}`).slice(0, 3), ['pull image', 'create scratch', 'create computeSystem']);
      assert.equal(doc.nodes[0]!.resource.image, ref);
      assert.deepEqual(doc.nodes[1]!.deps, [`pull:image:${ref}`]);
      const text = await cli([...g, 'plan', '--manifests', folder], { HCS_EMULATOR_SOCKET: socket });
      assert.equal(text.code, 2, text.stderr);
      const lines = text.stdout.split('\n');
      assert.equal(lines[0], `↓ pull image ${ref} (web): image ${ref} is not in the local image store (imagePullPolicy IfNotPresent)`);
      assert.equal(lines.length - 2, doc.nodes.length, 'the same nodes as -o json');
      assert.equal(existsSync(join(dir, 'fresh-never-created')), false, 'validate and plan create no store');
    } finally {
      await emu.stop();
    }
  });

  test('apply on the emulator: converges from an empty store (apply pulls); a new tag pulls and re-creates; deleted + pruned leaves the store empty', async () => {
    const g = ['--data-root', join(dir, 'data2'), '--owner', 'img-test'];
    const socket = join(dir, 'emu.sock');
    const emu = await startEmulator({ socketPath: socket });
    const env = { HCS_EMULATOR_SOCKET: socket };
    const folder = join(dir, 'apply-manifests');
    mkdirSync(folder);
    try {
      const v2 = windowsImage([await layerTar(baseLayerEntries()), await layerTar([{ name: 'Files/app', type: 'directory' }, { name: 'Files/app/web.exe', data: 'MZ v2' }])], { config: { Entrypoint: ['C:\\app\\web.exe'], Cmd: ['--v2'] } });
      await pushImage(reg.base, 'win/web', 'v2', v2);
      const v1ref = `${reg.host}/win/web:v1`;
      writeFileSync(join(folder, 'web.yaml'), manifest('web', v1ref));
      const apply = await cli([...g, 'apply', '--manifests', folder, '--timeout', '60s'], env);
      assert.equal(apply.code, 0, apply.stderr + apply.stdout);
      const systems = async () => (await emu.control.list()).filter((s) => s.owner === 'img-test' && s.state === 'Running');
      const [first] = await systems();
      const storage = (first!.document.Container as { Storage: { Layers: { Id: string; Path: string }[] } }).Storage;
      assert.equal(storage.Layers.length, 2);
      assert.ok(storage.Layers.every((l) => l.Path.startsWith(join(dir, 'data2', 'layers'))), 'layers from the store, top-most first');
      assert.equal(first!.processes[0]?.commandLine, 'C:\\app\\web.exe --port 80');

      // A new tag: pulled, then apply re-creates the system (new config hash) with v2's layers.
      writeFileSync(join(folder, 'web.yaml'), manifest('web', `${reg.host}/win/web:v2`));
      const retag = await cli([...g, 'apply', '--manifests', folder, '--timeout', '60s'], env);
      assert.equal(retag.code, 0, retag.stderr);
      const [second] = await systems();
      assert.notEqual(second!.id, first!.id);
      assert.equal(second!.processes[0]?.commandLine, 'C:\\app\\web.exe --v2');

      // Deleted and pruned: nothing of ours runs and the store is empty.
      rmSync(join(folder, 'web.yaml'));
      assert.equal((await cli([...g, 'apply', '--manifests', folder, '--allow-empty', '--timeout', '60s'], env)).code, 0);
      assert.deepEqual(await systems(), []);
      const pruned = await cli([...g, 'image', 'prune', '-o', 'json', '--manifests', folder]);
      assert.equal((JSON.parse(pruned.stdout) as { images: string[] }).images.length, 2);
      assert.deepEqual(JSON.parse((await cli([...g, 'image', 'ls', '-o', 'json'])).stdout), []);
    } finally {
      await emu.stop();
    }
  });

  test('run pulls on demand: converges from an empty store; pull failures are reported on the manifest (retryable with the registry text, permanent naming the host build)', async () => {
    const socket = join(dir, 'emu-run.sock');
    const emu = await startEmulator({ socketPath: socket });
    const folder = join(dir, 'run-manifests');
    mkdirSync(folder);
    const old = windowsImage([await layerTar(baseLayerEntries())], { osVersion: '10.0.17763.1' });
    await pushImage(reg.base, 'win/old', 'ltsc2019', old);
    writeFileSync(join(folder, 'web.yaml'), manifest('web', `${reg.host}/win/web:v1`));
    const args = ['--data-root', join(dir, 'data3'), '--owner', 'img-run', 'run', '--manifests', folder, '--listen', 'off', '--log-format', 'json', '--lock-dir', dir];
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, HCS_EMULATOR_SOCKET: socket } });
    const lines: string[] = [];
    const waiters: { re: RegExp; resolve: () => void }[] = [];
    let buffer = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        for (const w of [...waiters]) {
          if (!w.re.test(line)) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    });
    const waitLog = (re: RegExp) => new Promise<void>((resolve, reject) => {
      if (lines.some((l) => re.test(l))) return resolve();
      const t = setTimeout(() => reject(new Error(`no log line matching ${re}; got:\n${lines.join('\n')}`)), 60_000);
      waiters.push({ re, resolve: () => {
        clearTimeout(t);
        resolve();
      } });
    });
    try {
      await waitLog(/"system":"web","event":"started"/);
      const web = (await emu.control.list()).find((s) => s.owner === 'img-run' && s.state === 'Running');
      const layers = (web!.document.Container as { Storage: { Layers: { Path: string }[] } }).Storage.Layers;
      assert.ok(layers.length === 2 && layers.every((l) => l.Path.startsWith(join(dir, 'data3', 'layers'))));
      writeFileSync(join(folder, 'nope.yaml'), manifest('nope', `${reg.host}/win/nope:v1`));
      await waitLog(/^(?=.*"system":"nope")(?=.*"event":"backoff")(?=.*pull failed: .*win\/nope:v1: manifest v1: 404 MANIFEST_UNKNOWN.*; retry in \d+s)/);
      writeFileSync(join(folder, 'old.yaml'), manifest('old', `${reg.host}/win/old:ltsc2019`));
      await waitLog(/^(?=.*"system":"old")(?=.*"event":"error")(?=.*pull failed permanently: .*10\.0\.20348.*10\.0\.17763\.1)/);
      assert.ok((await emu.control.list()).some((s) => s.id === web!.id && s.state === 'Running'), 'failing manifests change nothing running');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await emu.stop();
    }
  });
});
