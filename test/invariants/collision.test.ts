/**
 * Issue 12, error messages: a create that collides with a foreign system's id names the owner,
 * says to rename the manifest, and is not retried (it said "already exists; retry in 10s"
 * forever). The foreign system is never touched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerYaml, until, withController } from '../integration/helpers.ts';

test('an id taken by another owner: named, not retried, the foreign system untouched', async () => {
  await withController(async ({ rig, controller, clock }) => {
    rig.write('web', containerYaml('web'));
    const snap = await rig.load();
    const id = snap.manifests[0]!.parts[0]!.id;
    await rig.emu.control.createForeign({ id, owner: 'docker', state: 'Running' });
    controller.applySnapshot(snap);
    await until(() => /owned by "docker", not by this controller; rename the manifest/.test(controller.status().systems[0]?.lastError ?? ''), 'collision explained', controller);
    for (let minute = 0; minute < 5; minute++) {
      const p0 = controller.status().passes;
      clock.increment(60_000);
      controller.reconcile();
      await until(() => controller.status().passes > p0, `pass ${minute}`, controller);
    }
    const calls = await rig.emu.control.callLog();
    assert.equal(calls.filter((c) => c.op === 'Create').length, 1, 'not retried');
    assert.deepEqual(calls.filter((c) => (c.op === 'ShutDown' || c.op === 'Terminate') && c.id === id), [], 'the foreign system is never stopped');
    assert.ok((await rig.emu.control.list()).some((s) => s.id === id && s.owner === 'docker' && s.state === 'Running'));
  });
});
