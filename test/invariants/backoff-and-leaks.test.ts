/**
 * Invariant 5: injected HRESULT failures are retried with backoff (kubelet curve, at least 1 s);
 * permanent errors are surfaced and not retried until the spec changes. The bound on calls per
 * minute per system is computed from the same curve and asserted on the emulator's call log.
 * Invariant 6: handles, event registrations and timers return to baseline after many cycles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { backoffDelay } from '../../reconciler/backoff.ts';
import { containerYaml, startController, startRig, until } from '../integration/helpers.ts';
import { maxInWindow } from '../chaos/lib.ts';
import { startWatched } from './harness.ts';

test('invariant 5: transient failures back off on the kubelet curve; calls per minute stay under the computed bound', async () => {
  const rig = await startRig();
  const { controller, clock, hcs } = startController(rig);
  try {
    await rig.emu.control.fault({ op: 'Start', hresult: 'HCS_E_OPERATION_TIMEOUT', count: 1000 });
    rig.write('web', containerYaml('web'));
    controller.applySnapshot(await rig.load());
    const starts = async () => (await rig.emu.control.callLog()).filter((c) => c.op === 'Start').length;
    const attempts: number[] = [];
    for (let i = 0; i < 8; i++) {
      await until(async () => (await starts()) === i + 1 && (controller.status().systems[0]?.nextRetryAt ?? 0) > clock.now(), `attempt ${i + 1} backed off`, controller);
      attempts.push(clock.now());
      clock.increment(controller.status().systems[0]!.nextRetryAt! - clock.now());
    }
    const delays = attempts.slice(1).map((t, i) => t - attempts[i]!);
    const expected = delays.map((_, i) => Math.max(backoffDelay(i + 1), 1000));
    assert.deepEqual(delays, expected, 'delays follow max(1 s, kubelet curve)');
    // Bound: the most attempts the curve allows in any 60 s window (t = 0, 1, 11, 31 s: 4).
    let t = 0;
    const curve = [0, ...expected.map((d) => (t += d))];
    const bound = maxInWindow(curve, 60_000);
    assert.equal(bound, 4);
    const log = (await rig.emu.control.callLog()).filter((c) => c.op === 'Start');
    assert.ok(maxInWindow(attempts, 60_000) <= bound, 'attempts per simulated minute within the bound');
    assert.equal(log.length, attempts.length, 'one Start call per attempt, no hidden retries');
    assert.match(controller.status().systems[0]?.lastError ?? '', /HCS_E_OPERATION_TIMEOUT/, 'the error is surfaced');
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});

test('invariant 5: a permanent error is surfaced and not retried until the spec changes', async () => {
  const rig = await startRig();
  const { controller, clock, hcs } = startController(rig);
  try {
    await rig.emu.control.fault({ op: 'Create', hresult: 'HCS_E_INVALID_JSON', count: 1000 });
    rig.write('db', containerYaml('db'));
    controller.applySnapshot(await rig.load());
    await until(() => /HCS_E_INVALID_JSON/.test(controller.status().systems[0]?.lastError ?? '') && controller.status().converged, 'failure surfaced, parked', controller);
    for (let minute = 0; minute < 10; minute++) {
      const p0 = controller.status().passes;
      clock.increment(60_000);
      controller.reconcile();
      await until(() => controller.status().passes > p0, `pass in minute ${minute + 1}`, controller);
    }
    const creates = (await rig.emu.control.callLog()).filter((c) => c.op === 'Create');
    assert.equal(creates.length, 1, 'one Create in 10 simulated minutes and 10 explicit reconciles');
    assert.ok(controller.status().systems[0]?.pending.some((p) => /^wait: failed/.test(p)), 'status says why it waits');
    await rig.emu.control.clearFaults();
    rig.write('db', containerYaml('db', { memoryMB: 1024 }));
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).some((s) => s.endsWith(':Running')), 'a spec change retries', controller);
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});

test('invariant 6: handles, event registrations and timers return to baseline after many cycles', async () => {
  const rig = await startRig();
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const baseline = { timers: timers(), library: rig.native.emuOpenHandleCount(), callbacks: rig.native.emuCallbacksInFlight() };
  const w = await startWatched(rig, rig.manifests, { allowEmpty: true });
  const sinks = () => (w.hcs as unknown as { events: { size: number } }).events.size;
  const c = rig.emu.control;
  let disposed = false;
  try {
    const names = ['web', 'db', 'api'];
    for (let cycle = 0; cycle < 12; cycle++) {
      const name = names[cycle % 3]!;
      switch (cycle % 4) {
        case 0: rig.write(name, containerYaml(name, { memoryMB: 256 + 64 * cycle })); break;
        case 1: {
          const live = (await rig.systems())[0];
          if (live) await c.crash(live.split(':')[0]!);
          break;
        }
        case 2: await c.restartService({ keepSystems: true }); break;
        case 3: try { rig.remove(name); } catch { /* not there */ } break;
      }
      const want = async () => (await rig.load()).manifests.map((m) => `${m.parts[0]!.id}:Running`).sort();
      await until(async () => JSON.stringify(await rig.systems()) === JSON.stringify(await want()) && w.controller.status().converged, `cycle ${cycle} converged`, w.controller, 30_000);
      const live = (await rig.systems()).length;
      await until(async () => w.controller.openHandles() === live && rig.native.emuOpenHandleCount() === live && sinks() === live
        && (await c.status()).handles === live, `cycle ${cycle}: one handle per running system (${live})`, w.controller);
    }
    await w.dispose();
    disposed = true;
    assert.equal(rig.native.emuOpenHandleCount(), baseline.library, 'library handles back to baseline');
    assert.equal(rig.native.emuCallbacksInFlight(), baseline.callbacks, 'no callback in flight');
    assert.equal(sinks(), 0, 'no event registration left');
    await until(async () => (await c.status()).handles === 0, 'service handles back to 0');
    await until(() => timers() <= baseline.timers, `timers back to baseline (${baseline.timers}, now ${timers()})`);
  } finally {
    if (!disposed) await w.dispose();
    await rig.stop();
  }
});

