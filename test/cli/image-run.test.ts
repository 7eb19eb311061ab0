/** `run` with image manifests against the real registry on the emulator: converge from an empty store, pull failures with the registry text and permanent ones. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from '../images/real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage, type SyntheticImage } from '../images/synthetic.ts';
import { spawnLogged } from './run-cli.ts';


const manifest = (name: string, image: string) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  container:
    image: ${image}
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
`;

describe('image run', { skip: process.platform === 'win32' ? 'uses the emulator library' : registrySkip }, () => {
  let reg: RealRegistry;
  let img: SyntheticImage;
  let dir: string;
  before(async () => {
    reg = await startRealRegistry();
    img = windowsImage([await layerTar(baseLayerEntries()), await layerTar([{ name: 'Files/app', type: 'directory' }, { name: 'Files/app/web.exe', data: 'MZ' }])], { config: { Entrypoint: ['C:\\app\\web.exe'], Cmd: ['--port', '80'], User: 'ContainerUser' } });
    await pushImage(reg.base, 'win/web', 'v1', img);
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-img-run-'));
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
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
    const { child, waitLog } = spawnLogged(args, { HCS_EMULATOR_SOCKET: socket });
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
