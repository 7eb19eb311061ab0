/**
 * Handles die with their process: a child creates two systems and is SIGKILLed. The service
 * sees the connection drop and closes its handles: the system with
 * ShouldTerminateOnLastHandleClosed=true is terminated, the other keeps running (hcs-api.md §5).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { assertNoLeaks, eventually, newClient, startService, type Service } from './harness.ts';

const child = fileURLToPath(new URL('../fixtures/hcs/client-that-dies.ts', import.meta.url));

describe('client process death', () => {
  let svc: Service;
  before(async () => {
    svc = await startService();
  });
  after(async () => svc.stop());

  it('terminates ShouldTerminateOnLastHandleClosed systems only', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child], {
      env: { ...process.env, HCS_EMULATOR_SOCKET: svc.socketPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await eventually(() => out.includes('READY'), 'child to create its systems', 20_000);
    const before = await svc.emu.control.list();
    assert.deepEqual(before.map((s) => [s.id, s.state, s.openHandles]).sort(), [
      ['doomed', 'Running', 1],
      ['survivor', 'Running', 1],
    ]);
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    await eventually(async () => (await svc.emu.control.status()).connections.library === 0, 'the connection to drop');
    const systems = await svc.emu.control.list();
    const doomed = systems.find((s) => s.id === 'doomed');
    assert.ok(doomed === undefined || doomed.stopped, 'doomed was terminated (and, with no handle left, removed)');
    const survivor = systems.find((s) => s.id === 'survivor');
    assert.equal(survivor?.state, 'Running');
    assert.equal(survivor?.openHandles, 0);

    // And it can be adopted again by a new client, like HcsOpenComputeSystem after a restart.
    const hcs = newClient(svc);
    const sys = await hcs.open('survivor');
    await sys.terminate();
    await hcs.close();
    await assertNoLeaks(svc);
  });
});
