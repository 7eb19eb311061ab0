/**
 * Issue 12, finding 3: a backoff can no longer be zero (a floor in the schema with a clear
 * error), and whatever the backoff settings, a system restarts at most RESTART_CAP times per
 * minute: over the cap it is parked (failed for its hash, shown in status, never restarted until
 * its manifest changes).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatError, parseManifestFile } from '../../src/manifest/index.ts';
import { countRestart, RESTART_CAP } from '../../reconciler/restart-cap.ts';
import { containerYaml, until, withController } from '../integration/helpers.ts';

test('the schema refuses a backoff under 1s, with a clear error', () => {
  const text = containerYaml('web').replace('  stopTimeout: 5s\n', '  stopTimeout: 5s\n  backoff: { initial: 0ms, max: 500ms }\n');
  const r = parseManifestFile('m/web.yaml', new TextEncoder().encode(text));
  assert.deepEqual(r.errors.map(formatError), [
    'm/web.yaml:9:23 spec.backoff.initial: must be at least 1s: a shorter restart delay makes a crashing workload restart in a tight loop (got "0ms")',
    'm/web.yaml:9:33 spec.backoff.max: must be at least 1s: a shorter restart delay makes a crashing workload restart in a tight loop (got "500ms")',
  ]);
  const ok = parseManifestFile('m/web.yaml', new TextEncoder().encode(text.replace('0ms', '1s').replace('500ms', '2s')));
  assert.deepEqual(ok.errors, []);
});

test('countRestart: a sliding minute per config hash', () => {
  let w = countRestart(undefined, 'h', 0);
  for (let i = 1; i < RESTART_CAP; i++) w = countRestart(w.window, 'h', i * 100);
  assert.equal(w.parked, undefined, `${RESTART_CAP} restarts within a minute are allowed`);
  assert.match(countRestart(w.window, 'h', 5000).parked ?? '', /^parked: exited 11 times within 60s/);
  assert.equal(countRestart(w.window, 'h', 60_050).parked, undefined, 'the oldest left the window');
  assert.equal(countRestart(w.window, 'other', 5000).parked, undefined, 'a new config starts a new count');
});

test('a system that keeps crashing is parked after the cap, whatever its backoff, and shown', async () => {
  await withController(async ({ rig, controller }) => {
    rig.write('loop', containerYaml('loop'));
    const snap = await rig.load();
    // As if the schema let a zero backoff through: the cap must hold on its own.
    const zero = { ...snap, manifests: snap.manifests.map((m) => ({ ...m, backoff: { initialMs: 0, maxMs: 0, resetAfterMs: 600_000 } })) };
    controller.applySnapshot(zero);
    const creates = async () => (await rig.emu.control.callLog()).filter((c) => c.op === 'Create').length;
    for (let crash = 1; crash <= RESTART_CAP + 1; crash++) {
      await until(async () => (await rig.systems()).some((s) => s.endsWith(':Running')) && (await creates()) === crash, `run ${crash}`, controller);
      const id = (await rig.systems())[0]!.split(':')[0]!;
      await rig.emu.control.crash(id);
    }
    await until(() => /^parked: exited 11 times within 60s/.test(controller.status().systems[0]?.lastError ?? ''), 'parked', controller);
    const p0 = controller.status().passes;
    controller.reconcile();
    await until(() => controller.status().passes > p0, 'another pass', controller);
    assert.equal(await creates(), RESTART_CAP + 1, 'not restarted once parked');
    assert.deepEqual(await rig.systems(), []);
    const row = controller.status().systems[0]!;
    assert.ok(row.pending.some((p) => /parked/.test(p)), `status says why: ${JSON.stringify(row)}`);
    assert.ok(controller.history.list('loop').some((e) => /parked/.test(e.message)), 'and the history');
  });
});
