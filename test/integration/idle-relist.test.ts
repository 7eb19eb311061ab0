/**
 * Issue 17: an unchanged relist through the real binding allocates nothing per system. The
 * enumerate answer decodes to the same array, the observation to the same state, the planner is
 * not run (the same plan object comes back), and status rebuilds no row (the same rows and the
 * same systems array). A change of one system rebuilds that system's row only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EnumerateQuery, CallOptions, HcsClient, ObservedSystem } from '../../reconciler/ports.ts';
import { createController } from '../../reconciler/controller.ts';
import type { Plan } from '../../reconciler/plan.ts';
import { SimulatedClock } from 'xstate';
import { NativeHcsClient } from '../../src/hcs/index.ts';
import { containerYaml, OWNER, quiet, startRig, until } from './helpers.ts';

test('unchanged relists share every object; one crashed system rebuilds only its row', async () => {
  const rig = await startRig();
  const raw = new NativeHcsClient(rig.native);
  const answers: ObservedSystem[][] = [];
  const hcs: HcsClient = {
    enumerate: async (q?: EnumerateQuery, o?: CallOptions) => {
      const r = await raw.enumerate(q, o);
      answers.push(r);
      return r;
    },
    create: (id, doc, o) => raw.create(id, doc, o),
    open: (id, o) => raw.open(id, o),
    close: () => raw.close(),
  };
  const clock = new SimulatedClock();
  const controller = createController({
    hcs, owner: OWNER, logger: quiet, resyncMs: 0,
    clock: { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) },
  });
  const names = Array.from({ length: 20 }, (_, i) => `web${i}`);
  const pass = async (): Promise<Plan> => {
    const before = controller.status().passes;
    const next = controller.waitForPass(() => controller.status().passes > before, 15_000);
    controller.reconcile();
    return next;
  };
  try {
    for (const n of names) rig.write(n, containerYaml(n));
    controller.applySnapshot(await rig.load());
    await until(() => controller.status().converged && controller.status().systems.every((s) => s.actual === 'Running'), 'all running', controller);
    await pass(); // a pass after the last settle, so the next two see the same state
    const plan1 = await pass();
    const status1 = controller.status();
    const plan2 = await pass();
    const status2 = controller.status();
    const [a1, a2] = answers.slice(-2);
    assert.equal(a2, a1, 'the enumerate answer decodes to the same array');
    assert.equal(plan2, plan1, 'the planner did not run: the same plan object');
    assert.equal(status2.systems, status1.systems, 'the same systems array');
    for (const [i, row] of status1.systems.entries()) assert.equal(status2.systems[i], row, `row ${row.name} shared`);
    assert.ok(status2.passes > status1.passes);

    const victim = status1.systems[5]!;
    await rig.emu.control.crash(victim.ids[0]!);
    await until(() => controller.status().systems[5]!.restarts === 1 && controller.status().converged, 'restarted', controller);
    await pass();
    const status3 = controller.status();
    const a3 = answers.at(-1)!;
    assert.notEqual(status3.systems, status1.systems);
    status1.systems.forEach((row, i) => {
      if (i === 5) assert.notEqual(status3.systems[i], row, 'the crashed system has a new row');
      else assert.equal(status3.systems[i], row, `row ${row.name} still shared`);
    });
    const byId = new Map(a1!.map((s) => [s.id, s]));
    assert.equal(a3.filter((s) => byId.get(s.id) === s).length, names.length - 1, 'every other system keeps its decoded object');
  } finally {
    await controller.dispose();
    await raw.close();
    await rig.stop();
  }
});
