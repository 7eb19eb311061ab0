// A controller killed with -9 between creating a scratch (and endpoint) and creating the system
// leaves no orphan: the next controller's first sweep finds and removes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeHcsClient, loadHcsLibrary } from '../../src/hcs/index.ts';
import { HcnNative } from '../../src/hcs/hcn.ts';
import { LayerNative } from '../../src/hcs/layers.ts';
import { ScratchNative } from '../../src/hcs/scratch.ts';
import { emulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { NetworkProvisioner } from '../../src/network/provisioner.ts';
import { ProvisioningPort } from '../../src/network/provisioning-port.ts';
import { createController } from '../../reconciler/index.ts';
import { SimulatedClock } from 'xstate';
import { ScratchStore } from '../../src/scratch/store.ts';
import { freePort, hcnLibrary, privateEmulator, probeTcp, vmcomputeLibrary } from './helpers.ts';

test('kill -9 between scratch and system create: no orphan after restart', async () => {
  const emu = await privateEmulator();
  try {
    const dataRoot = mkdtempSync(join(emu.dir, 'data-'));
    const layers = new LayerNative({ libraryPath: vmcomputeLibrary() });
    const base = join(dataRoot, 'layers', 'base');
    const config = join(base, 'Files', 'Windows', 'System32', 'config');
    mkdirSync(config, { recursive: true });
    for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM']) writeFileSync(join(config, h), 'hive');
    layers.enableBackupPrivileges();
    layers.processBaseImage(base);
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/network/half-create.ts', dataRoot, base, layers.nameToGuid('base'), 'web-deadbeef0001', String(port), vmcomputeLibrary(), hcnLibrary()],
      { env: { ...process.env, HCS_EMULATOR_SOCKET: emu.socketPath }, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
      child.once('exit', (code) => reject(new Error(`child exited ${code} before it was ready`)));
    });
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const host = async () => (await emu.control.command('host')) as { endpoints: unknown[]; namespaces: unknown[]; volumes: unknown[] };
    assert.equal((await host()).volumes.length, 1, 'the dead controller left a mounted scratch');
    assert.equal((await host()).endpoints.length, 1, 'and an endpoint holding the port');
    assert.equal(await probeTcp(port), '', 'the port is still published');

    // The restarted controller: its first pass plans the removal of what has no system.
    const scratch = new ScratchStore(dataRoot, new ScratchNative(vmcomputeLibrary()), layers);
    const network = new NetworkProvisioner(new HcnNative({ libraryPath: hcnLibrary() }), dataRoot);
    const hcs = new NativeHcsClient(loadHcsLibrary({ libraryPath: emulatorLibraryPath() }));
    const clock = new SimulatedClock();
    const controller = createController({
      hcs, owner: 'hcs-reconciler', logger: { debug() {}, info() {}, warn() {}, error() {} }, resyncMs: 0, allowEmpty: true,
      provision: new ProvisioningPort(() => ({ scratch, network })),
      clock: { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) },
    });
    controller.applySnapshot({ manifests: [], errors: [], ignored: [], files: [], folderOk: true });
    const removals = await controller.waitForPass((p) => p.nodes.some((n) => n.op === 'remove'), 30_000);
    assert.deepEqual(removals.nodes.map((n) => [n.id, n.reason]), [
      ['remove:namespace:web-deadbeef0001', 'systemGone'], ['remove:endpoint:web-deadbeef0001', 'systemGone'], ['remove:scratch:web-deadbeef0001', 'systemGone'],
    ]);
    const emptyDir = (p: string) => { try { return readdirSync(p).length === 0; } catch { return true; } };
    const waitFor = async (cond: () => Promise<boolean>) => { const end = Date.now() + 30_000; while (!(await cond())) { if (Date.now() > end) assert.fail('timed out'); await new Promise((r) => setTimeout(r, 20)); } };
    await waitFor(async () => emptyDir(scratch.root) && emptyDir(join(dataRoot, 'network')) && (await host()).volumes.length === 0 && (await host()).endpoints.length === 0);
    await controller.dispose();
    assert.deepEqual(await host(), { ...(await host()), endpoints: [], namespaces: [], volumes: [] });

    assert.equal(await probeTcp(port), 'refused');
    await hcs.close();
  } finally {
    await emu.stop();
  }
});
