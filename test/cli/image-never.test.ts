/**
 * `imagePullPolicy: Never` with the image missing parks the manifest with a permanent error; once
 * the store has the image (here from `hcs-reconciler image pull REF`, another process), the
 * controller sees it on its next observation of the images and converges, with no edit of the
 * manifest. Real registry, real store, the emulator.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from '../images/real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage } from '../images/synthetic.ts';
import { cli, spawnLogged } from './run-cli.ts';

describe('image Never', { skip: process.platform === 'win32' ? 'uses the emulator library' : registrySkip }, () => {
  let reg: RealRegistry;
  let dir: string;
  before(async () => {
    reg = await startRealRegistry();
    await pushImage(reg.base, 'win/never', 'v1', windowsImage([await layerTar(baseLayerEntries())], { config: { Entrypoint: ['C:\\app\\web.exe'] } }));
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-img-never-'));
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a manifest parked on a missing image (Never) converges after `image pull`, without an edit', async () => {
    const socket = join(dir, 'emu.sock');
    const emu = await startEmulator({ socketPath: socket });
    const folder = join(dir, 'manifests');
    mkdirSync(folder);
    const ref = `${reg.host}/win/never:v1`;
    writeFileSync(join(folder, 'web.yaml'), `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: web
spec:
  container:
    image: ${ref}
    imagePullPolicy: Never
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
`);
    const dataRoot = join(dir, 'data');
    const args = ['--data-root', dataRoot, '--owner', 'img-never', 'run', '--manifests', folder, '--listen', 'off', '--log-format', 'json', '--lock-dir', dir, '--resync', '1s'];
    const { child, waitLog } = spawnLogged(args, { HCS_EMULATOR_SOCKET: socket });
    try {
      await waitLog(/^(?=.*"system":"web")(?=.*"event":"error")(?=.*pull failed permanently: .*not in the local image store and imagePullPolicy is Never)/);
      assert.equal((await emu.control.list()).filter((s) => s.owner === 'img-never').length, 0, 'nothing created while parked');
      const pulled = await cli(['--data-root', dataRoot, 'image', 'pull', ref], { HCS_EMULATOR_SOCKET: socket });
      assert.equal(pulled.code, 0, pulled.stderr);
      await waitLog(/"system":"web","event":"started"/);
      const web = (await emu.control.list()).find((s) => s.owner === 'img-never' && s.state === 'Running');
      assert.ok(web, 'the system runs, rendered from the stored image');
      const layers = (web.document.Container as { Storage: { Layers: { Path: string }[] } }).Storage.Layers;
      assert.ok(layers.length === 1 && layers[0]!.Path.startsWith(join(dataRoot, 'layers')));
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await emu.stop();
    }
  });
});
