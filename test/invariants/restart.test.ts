/**
 * Invariant 3: after a kill -9 of the controller in the middle of an apply, a new controller
 * converges with no duplicate systems and without stopping systems that match their manifests.
 * Invariant 4: after an emulated service restart (ServiceDisconnect, every handle invalid), the
 * controller reconnects, re-opens its handles and converges; events flow again.
 * The controller is the real CLI (`run`) as a child process for invariant 3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { parseSystemId } from '../../reconciler/identity.ts';
import { containerYaml, startController, startRig, until } from '../integration/helpers.ts';
import { ControllerChild, idFor, manifestYaml, waitFor, type Spec } from '../chaos/lib.ts';

test('invariant 3: kill -9 mid-apply (hung Start, then between Creates), a new controller converges without duplicates or kills', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-inv3-'));
  const socketPath = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath });
  const c = emu.control;
  const owner = 'inv3';
  const specs: Spec[] = ['web', 'db', 'api'].map((name) => ({ name, memoryMB: 512, state: 'Running', label: 'a' }));
  const manifests = join(dir, 'm');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(manifests);
  for (const s of specs) writeFileSync(join(manifests, `${s.name}.yaml`), manifestYaml(s));
  let child: ControllerChild | undefined;
  try {
    // 1. The first Start hangs: the apply is mid-flight (created, not started) when we kill -9.
    await c.hang({ op: 'Start', count: 1 });
    child = await ControllerChild.start({ owner, manifests, socketPath });
    const first = child.pid;
    await waitFor(async () => (await c.status()).faults.hung > 0, 'a hung Start');
    await child.kill9();
    await c.clearFaults();                 // the hung call of the dead client now runs
    // 2. Edit one manifest, slow Create down, kill -9 right after the first Create of the new hash.
    const edited: Spec = { ...specs[0]!, memoryMB: 1024 };
    child = await ControllerChild.start({ owner, manifests, socketPath });
    await waitFor(async () => (await child!.status()).converged, 'converged after the first kill');
    await c.latency({ op: 'Create', ms: 300 });
    writeFileSync(join(manifests, 'web.yaml'), manifestYaml(edited));
    const second = child.pid;
    await waitFor(async () => (await c.callLog()).some((x) => x.op === 'Create' && x.id === idFor(edited, owner) && x.clientPid === second), 'the new Create', 10_000, 5);
    await child.kill9();
    await c.clearFaults();
    const restartedAt = (await c.callLog()).length;
    // 3. A third controller must converge: one system per manifest, the desired ids, no kills of them.
    child = await ControllerChild.start({ owner, manifests, socketPath });
    const want = [idFor(edited, owner), idFor(specs[1]!, owner), idFor(specs[2]!, owner)].map((id) => `${id}:Running`).sort();
    await waitFor(async () => {
      const live = (await c.list()).filter((s) => s.owner === owner && s.state !== 'Stopped').map((s) => `${s.id}:${s.state}`).sort();
      return JSON.stringify(live) === JSON.stringify(want) && (await child!.status()).converged;
    }, 'convergence after kill -9', 20_000);
    const live = (await c.list()).filter((s) => s.owner === owner && s.state !== 'Stopped');
    const names = live.map((s) => parseSystemId(s.id)?.name);
    assert.equal(new Set(names).size, names.length, 'no duplicate system for one manifest');
    const after = (await c.callLog()).slice(restartedAt);
    const killedCurrent = after.filter((x) => (x.op === 'ShutDown' || x.op === 'Terminate') && want.some((w) => w.startsWith(`${x.id}:`)));
    assert.deepEqual(killedCurrent, [], 'no system matching its manifest was stopped after the restart');
    assert.ok(after.every((x) => x.op !== 'Create' || !want.slice(1).some((w) => w.startsWith(`${x.id}:`))), 'db and api were adopted, not re-created');
    assert.ok([first, second].length === 2);
    await child.stop();
    await waitFor(async () => (await c.status()).handles === 0, 'handles closed after SIGTERM', 5000);
  } finally {
    await child?.kill9();
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invariant 4: after a service restart the controller reconnects, re-opens handles, converges and sees events again', async () => {
  const rig = await startRig();
  const { controller, hcs, clock } = startController(rig);
  try {
    for (const n of ['web', 'db', 'api']) rig.write(n, containerYaml(n));
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).filter((s) => s.endsWith(':Running')).length === 3 && controller.openHandles() === 3, 'three running', controller);
    const running = await rig.systems();
    for (let round = 0; round < 3; round++) {
      await rig.emu.control.restartService({ keepSystems: true });
      await until(async () => controller.openHandles() === 3 && (await rig.emu.control.status()).handles === 3 && controller.status().converged, `reconnected (round ${round + 1})`, controller);
      assert.deepEqual(await rig.systems(), running);
    }
    // Events flow on the new handles: a crash is seen and the system restarted.
    const web = running.find((s) => s.startsWith('web-'))!.split(':')[0]!;
    await rig.emu.control.crash(web);
    await until(async () => (await rig.emu.control.callLog()).filter((x) => x.op === 'Create' && x.id === web).length === 2 && (await rig.systems()).length === 3, 'crash after reconnect handled', controller);
    // Systems lost with the service (keepSystems false) are re-created.
    await rig.emu.control.restartService({ keepSystems: false });
    // Losing a system counts as an exit: web (crashed before) waits out its 10 s backoff (simulated).
    await until(async () => {
      clock.increment(10_000);
      return (await rig.systems()).length === 3 && controller.openHandles() === 3;
    }, 're-created after losing every system', controller);
    const stops = (await rig.emu.control.callLog()).filter((x) => x.op === 'ShutDown' || x.op === 'Terminate');
    assert.deepEqual(stops, []);
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});
