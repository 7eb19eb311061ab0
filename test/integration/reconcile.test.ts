/**
 * The reconciler through the real koffi binding against the emulator: converge, edit, delete,
 * crash/backoff, foreign systems, faults, invalid edits, dependency order, handle accounting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerYaml, OWNER, startController, startRig, until, withController } from './helpers.ts';

test('converge from empty, edit re-creates, delete prunes; no handle leaks', async () => {
  const rig = await startRig();
  const { controller, hcs } = startController(rig);
  try {
    rig.write('web', containerYaml('web'));
    rig.write('db', containerYaml('db'));
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).filter((s) => s.endsWith(':Running')).length === 2, 'two running', controller);
    const [before] = (await rig.systems()).filter((s) => s.startsWith('web-'));
    rig.write('web', containerYaml('web', { memoryMB: 1024 }));
    controller.applySnapshot(await rig.load());
    await until(async () => {
      const web = (await rig.systems()).filter((s) => s.startsWith('web-'));
      return web.length === 1 && web[0] !== before && web[0]!.endsWith(':Running');
    }, 'web re-created with the new hash', controller);
    rig.remove('db');
    controller.applySnapshot(await rig.load());
    await until(async () => !(await rig.systems()).some((s) => s.startsWith('db-')), 'db pruned', controller);
    const log = await rig.emu.control.callLog();
    assert.ok(log.some((c) => c.op === 'ShutDown' && c.id?.startsWith('db-')), 'db was shut down gracefully');
  } finally {
    await controller.dispose();
    await hcs.close();
    assert.equal(rig.native.emuOpenHandleCount(), 0, 'library handles all closed');
    await until(async () => (await rig.emu.control.status()).handles === 0, 'service handles back to 0');
    await rig.stop();
  }
});

test('emulator crash: restart at once, then with backoff (simulated clock); one crash counts once', async () => {
  await withController(async ({ rig, controller, clock }) => {
    // With an entrypoint, a crash reports twice (ProcessExited, then SystemExited): one restart.
    rig.write('web', containerYaml('web', { commandLine: 'C:\\app\\web.exe' }));
    controller.applySnapshot(await rig.load());
    await until(() => controller.history.list('web').some((e) => e.kind === 'process-started'), 'running with its entrypoint', controller);
    const id = (await rig.systems())[0]!.split(':')[0]!;
    await rig.emu.control.crash(id);
    const creates = async () => (await rig.emu.control.callLog()).filter((c) => c.op === 'Create').length;
    const started = () => controller.history.list('web').filter((e) => e.kind === 'process-started').length;
    await until(async () => (await creates()) === 2 && started() === 2, 'first restart (immediate), entrypoint running', controller);
    assert.equal(controller.status().systems[0]?.restarts, 1);
    await rig.emu.control.crash(id);
    await until(() => controller.status().systems[0]?.nextRetryAt !== undefined, 'backoff scheduled', controller);
    assert.deepEqual(await rig.systems(), []);
    clock.increment(10_000);
    await until(async () => (await rig.systems()).length === 1, 'second restart after 10 s backoff', controller);
    // Each crash is in the history: the entrypoint's exit always; the system's own exit when its
    // SystemExited was handled before the controller stopped the container for the process's exit
    // (completions and events come from a thread pool, in either order, as on HCS).
    const history = controller.history.list('web').map((e) => e.kind);
    assert.equal(history.filter((k) => k === 'process-exited').length, 2, `history: ${history.join(',')}`);
    assert.ok(history.filter((k) => k === 'exited').length <= 2, `history: ${history.join(',')}`);
  });
});

test('foreign systems (docker, containerd) are never touched, even when a name collides', async () => {
  await withController(async ({ rig, controller }) => {
    await rig.emu.control.createForeign({ id: 'web', owner: 'docker', state: 'Running' });
    await rig.emu.control.createForeign({ id: 'web-0123456789ab', owner: 'containerd-shim-runhcs-v1.exe', state: 'Running', shouldTerminateOnLastHandleClosed: true });
    rig.write('web', containerYaml('web'));
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).length === 1, 'ours running', controller);
    rig.write('other', containerYaml('other', { state: 'Stopped' }));
    rig.remove('web');
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).length === 0, 'ours pruned', controller);
    const touched = (await rig.emu.control.callLog()).filter((c) => c.id === 'web' || c.id === 'web-0123456789ab');
    assert.deepEqual(touched, [], 'no call ever named a foreign id');
    assert.deepEqual((await rig.systems('docker')), ['web:Running']);
    assert.deepEqual((await rig.systems('containerd-shim-runhcs-v1.exe')), ['web-0123456789ab:Running']);
  });
});

test('injected HRESULT faults are retried with backoff until convergence', async () => {
  await withController(async ({ rig, controller, clock }) => {
    await rig.emu.control.fault({ op: 'Start', hresult: 'HCS_E_OPERATION_TIMEOUT', count: 2 });
    rig.write('web', containerYaml('web'));
    controller.applySnapshot(await rig.load());
    for (let i = 0; i < 2; i++) {
      await until(() => controller.status().systems[0]?.phase === 'backoff', `backoff #${i + 1}`, controller);
      clock.increment(60_000);
    }
    await until(async () => (await rig.systems()).some((s) => s.endsWith(':Running')), 'running after faults', controller);
    const starts = (await rig.emu.control.callLog()).filter((c) => c.op === 'Start');
    assert.equal(starts.length, 3);
    assert.ok(controller.history.list('web').some((e) => e.kind === 'backoff' && /HCS_E_OPERATION_TIMEOUT/.test(e.message)));
  });
});

test('an invalid or half-written edit never stops the running system; the error is reported', async () => {
  await withController(async ({ rig, controller }) => {
    rig.write('web', containerYaml('web'));
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).some((s) => s.endsWith(':Running')), 'running', controller);
    const running = await rig.systems();
    rig.write('web', containerYaml('web').replace('memoryMB: 512', 'memoryMB: 0'));
    controller.applySnapshot(await rig.load());
    await controller.waitForPass(() => true);
    rig.write('web', containerYaml('web').slice(0, 90));
    controller.applySnapshot(await rig.load());
    await controller.waitForPass((p) => p.converged);
    assert.deepEqual(await rig.systems(), running);
    const status = controller.status();
    assert.equal(status.systems[0]?.lastKnownGood, true);
    assert.ok(status.manifestErrors.length > 0);
    const stops = (await rig.emu.control.callLog()).filter((c) => c.op === 'ShutDown' || c.op === 'Terminate');
    assert.deepEqual(stops, []);
  });
});

test('dependsOn: the dependency is created and started before its dependent (emulator call log)', async () => {
  await withController(async ({ rig, controller }) => {
    rig.write('api', containerYaml('api', { dependsOn: ['db'] }));
    rig.write('db', containerYaml('db'));
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).filter((s) => s.endsWith(':Running')).length === 2, 'both running', controller);
    const order = (await rig.emu.control.callLog()).filter((c) => c.op === 'Create' || c.op === 'Start').map((c) => `${c.op} ${c.id?.split('-')[0]}`);
    assert.deepEqual(order, ['Create db', 'Start db', 'Create api', 'Start api']);
  });
});

test('entrypoint: started once, found again after a controller restart, exit shuts the container down', async () => {
  const rig = await startRig();
  let { controller, hcs } = startController(rig);
  try {
    rig.write('job', containerYaml('job', { commandLine: 'C:\\app\\job.exe --serve', restartPolicy: 'OnFailure' }));
    controller.applySnapshot(await rig.load());
    await until(() => controller.history.list('job').some((e) => e.kind === 'process-started'), 'entrypoint running', controller);
    await controller.dispose();
    await hcs.close();
    ({ controller, hcs } = startController(rig));
    controller.applySnapshot(await rig.load());
    await controller.waitForPass((p) => p.converged, 15_000);
    await until(() => controller.history.list('job').some((e) => e.kind === 'adopted' && /found entrypoint/.test(e.message)), 'entrypoint found again', controller);
    const creates = (await rig.emu.control.callLog()).filter((c) => c.op === 'CreateProcess');
    assert.equal(creates.length, 1, 'the entrypoint was not started twice');
    const sys = (await rig.emu.control.list()).find((s) => s.owner === OWNER)!;
    await rig.emu.control.exitProcess(sys.id, sys.processes[0]!.pid, 0);
    await until(async () => (await rig.systems()).length === 0, 'container shut down after entrypoint exit 0', controller);
    await controller.waitForPass((p) => p.converged);
    assert.match(controller.status().systems[0]?.pending.join() ?? '', /restartPolicy OnFailure/);
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});
