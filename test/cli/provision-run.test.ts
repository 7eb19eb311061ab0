/**
 * The done-when through the CLI: `run` with a manifest that has only an image, ports and
 * scratchSizeGB (real registry → image pull → run on the emulator): the port prints the running
 * system's id; `emulator reboot` while run is going is recovered without operator action; deleting
 * the manifest closes the port and leaves no file of that system under the data root.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, cli, root } from './run-cli.ts';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from '../images/real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage } from '../images/synthetic.ts';
import { freePort, probeTcp } from '../network/helpers.ts';

async function until(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('run provisions scratch and ports', { skip: process.platform === 'win32' ? 'uses the emulator library' : registrySkip }, () => {
  let reg: RealRegistry;
  let dir: string;
  before(async () => {
    reg = await startRealRegistry();
    await pushImage(reg.base, 'win/iis', 'ltsc2022', windowsImage([await layerTar(baseLayerEntries())]));
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-prov-'));
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('converge from nothing, port answers, reboot while run is going, delete closes the port', async () => {
    const dataRoot = join(dir, 'data');
    const socket = join(dir, 'emu.sock');
    const emu = await startEmulator({ socketPath: socket });
    const env = { HCS_EMULATOR_SOCKET: socket, HCS_RECONCILER_DEBUG: '' };
    const g = ['--data-root', dataRoot, '--owner', 'prov-test'];
    const folder = join(dir, 'manifests');
    mkdirSync(folder);
    const ref = `${reg.host}/win/iis:ltsc2022`;
    const port = await freePort();
    let run: ChildProcess | undefined;
    try {
      assert.equal((await cli([...g, 'image', 'pull', ref], env)).code, 0);
      writeFileSync(join(folder, 'web.yaml'), `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: web }
spec:
  container:
    image: ${ref}
    ports: ["${port}:80"]
    scratchSizeGB: 20
`);
      let log = '';
      run = spawn(process.execPath, [bin, ...g, 'run', '--manifests', folder, '--listen', 'off', '--lock-dir', dir, '--resync', '1s', '--allow-empty'], { cwd: root, env: { ...process.env, ...env } });
      run.stdout!.on('data', (d: Buffer) => (log += d.toString()));
      run.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      const runningId = async () => (await emu.control.list()).find((s) => s.owner === 'prov-test' && s.state === 'Running')?.id;
      await until(async () => (await runningId()) !== undefined && (await probeTcp(port)).startsWith('hcs-emulator '), `the port answers (run log: ${log})`);
      const id1 = await runningId();
      assert.equal(await probeTcp(port), `hcs-emulator ${id1} 80\n`);

      await emu.control.command('reboot');
      await until(async () => (await probeTcp(port)).startsWith('hcs-emulator '), 'the port answers again after the reboot');
      const id2 = await runningId();
      assert.equal(await probeTcp(port), `hcs-emulator ${id2} 80\n`);

      rmSync(join(folder, 'web.yaml'));
      await until(async () => (await probeTcp(port)) === 'refused', 'the port is closed');
      await until(async () => !existsSync(join(dataRoot, 'scratch')) || readdirSync(join(dataRoot, 'scratch')).length === 0, 'no scratch left');
      assert.deepEqual(existsSync(join(dataRoot, 'network')) ? readdirSync(join(dataRoot, 'network')) : [], []);
    } finally {
      if (run && run.exitCode === null) {
        const exited = new Promise((r) => run!.once('exit', r));
        run.kill('SIGTERM');
        await exited;
      }
      await emu.stop();
    }
  });
});
