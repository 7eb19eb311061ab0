/** `apply` with image manifests against the real registry on the emulator: converge from an empty store (apply pulls), a tag edit pulls and re-creates, delete + prune empties the store. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, } from './run-cli.ts';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from '../images/real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage, type SyntheticImage } from '../images/synthetic.ts';

const manifest = (name: string, image: string) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  container:
    image: ${image}
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
`;

describe('image apply', { skip: process.platform === 'win32' ? 'uses the emulator library' : registrySkip }, () => {
  let reg: RealRegistry;
  let dir: string;
  before(async () => {
    reg = await startRealRegistry();
    const img: SyntheticImage = windowsImage([await layerTar(baseLayerEntries()), await layerTar([{ name: 'Files/app', type: 'directory' }, { name: 'Files/app/web.exe', data: 'MZ' }])], { config: { Entrypoint: ['C:\\app\\web.exe'], Cmd: ['--port', '80'], User: 'ContainerUser' } });
    await pushImage(reg.base, 'win/web', 'v1', img);
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-img-apply-'));
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
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
});
