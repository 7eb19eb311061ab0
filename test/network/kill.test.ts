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
import { provisioningHcs } from '../../src/network/provisioning-hcs.ts';
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

    // The restarted controller: its first relist sweeps what has no system.
    const scratch = new ScratchStore(dataRoot, new ScratchNative(vmcomputeLibrary()), layers);
    const hcs = provisioningHcs(new NativeHcsClient(loadHcsLibrary({ libraryPath: emulatorLibraryPath() })), {
      scratch, network: new NetworkProvisioner(new HcnNative({ libraryPath: hcnLibrary() }), dataRoot),
    });
    await hcs.enumerate();
    await hcs.idle();
    assert.deepEqual(await host(), { ...(await host()), endpoints: [], namespaces: [], volumes: [] });
    assert.deepEqual(readdirSync(scratch.root), []);
    assert.deepEqual(readdirSync(join(dataRoot, 'network')), []);
    assert.equal(await probeTcp(port), 'refused');
    await hcs.close();
  } finally {
    await emu.stop();
  }
});
