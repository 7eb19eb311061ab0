/**
 * Invariant 1: a system whose Owner is not ours is never opened, paused, stopped or terminated,
 * whatever the manifests say (ids that collide with manifest names, with our id pattern, even with
 * the exact id we would create). Invariant 2: a running system is never stopped because its
 * manifest became invalid, half-written, empty, unreadable, or because the folder vanished or
 * became empty (without --allow-empty); also not by a controller (re)started in that situation.
 * Checked from the emulator's call log, not from what the controller reports.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, symlinkSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerYaml, OWNER, startController, startRig, until, type Rig } from '../integration/helpers.ts';
import { TOUCH_OPS } from '../chaos/lib.ts';
import { startWatched, stopCalls, type Watched } from './harness.ts';

test('invariant 1: foreign systems are never touched, even with colliding ids; ours converge around them', async () => {
  const rig = await startRig();
  rig.write('web', containerYaml('web'));
  rig.write('db', containerYaml('db'));
  rig.write('api', containerYaml('api'));
  const snapshot = await rig.load();
  const dbId = snapshot.manifests.find((m) => m.name === 'db')!.parts[0]!.id;
  const c = rig.emu.control;
  const foreign = [
    { id: 'web', owner: 'docker', state: 'Running' as const },
    { id: 'web-0123456789ab', owner: 'containerd-shim-runhcs-v1.exe', state: 'Running' as const, shouldTerminateOnLastHandleClosed: true },
    { id: 'api-0123456789ab-uvm', owner: 'docker', state: 'Paused' as const, systemType: 'VirtualMachine' as const },
    { id: dbId, owner: 'docker', state: 'Created' as const },          // the exact id our db manifest renders to
    { id: 'legacy', owner: OWNER, state: 'Running' as const },        // our Owner, an id we never make
  ];
  for (const f of foreign) await c.createForeign(f);
  const { controller, hcs } = startController(rig);
  try {
    controller.applySnapshot(snapshot);
    await until(async () => (await rig.systems()).filter((s) => /^(web|api)-[0-9a-f]{12}:Running$/.test(s)).length === 2, 'web and api running', controller);
    await until(() => /ALREADY_EXISTS/.test(controller.status().systems.find((s) => s.name === 'db')?.lastError ?? ''), 'db collision surfaced', controller);
    const passesBefore = controller.status().passes;
    await c.restartService({ keepSystems: true });
    // Reconnected = a pass after the restart has re-opened both handles (the handle count alone
    // is 2 before the disconnect is even noticed; with db parked, no other pass would follow).
    await until(() => controller.status().passes > passesBefore && controller.openHandles() === 2, 'reconnected', controller);
    const web = (await rig.systems()).find((s) => s.startsWith('web-'))!.split(':')[0]!;
    await c.crash(web);
    await until(async () => (await c.callLog()).filter((x) => x.op === 'Create' && x.id === web).length === 2, 'web re-created after crash', controller);
    rig.remove('web');
    rig.remove('api');
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).filter((s) => !s.startsWith('legacy')).length === 0, 'ours pruned', controller);
    const ids = new Set(foreign.map((f) => f.id));
    const log = await c.callLog();
    const touched = log.filter((x) => ids.has(x.id) && TOUCH_OPS.has(x.op.toLowerCase()));
    assert.deepEqual(touched, [], 'no Open/Start/Pause/ShutDown/Terminate/... on a foreign id');
    assert.ok(log.filter((x) => x.op === 'Create' && x.id === dbId).length <= 1, 'the colliding Create is not hot-looped (backoff on a simulated clock)');
    const after = await c.list();
    for (const f of foreign) assert.equal(after.find((s) => s.id === f.id)?.state, f.state, `${f.id} untouched`);
    assert.deepEqual(controller.status().unrecognised, ['legacy']);
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});

/** Do `step`, wait until the watcher delivered a new snapshot and a reconcile pass ran after it. */
async function settle(w: Watched, step: () => void, what: string): Promise<void> {
  const s0 = w.snapshots.length;
  step();
  await until(() => w.snapshots.length > s0, `snapshot after ${what}`, w.controller);
  const p0 = w.controller.status().passes;
  w.controller.reconcile();
  await until(() => w.controller.status().passes > p0, `pass after ${what}`, w.controller);
}

test('invariant 2: invalid, half-written, empty, garbage, unreadable files and a vanished/empty folder never stop a running system', async () => {
  const rig: Rig = await startRig();
  const real = join(rig.dir, 'v1');
  const link = join(rig.dir, 'current');
  mkdirSync(real);
  symlinkSync(real, link);
  const good = { web: containerYaml('web'), db: containerYaml('db') };
  for (const [n, y] of Object.entries(good)) writeFileSync(join(real, `${n}.yaml`), y);
  const repoint = (target: string) => {
    symlinkSync(target, join(rig.dir, 'tmp-link'));
    renameSync(join(rig.dir, 'tmp-link'), link);
  };
  let w = await startWatched(rig, link);
  try {
    await until(async () => (await rig.systems()).filter((s) => s.endsWith(':Running')).length === 2, 'both running', w.controller);
    const running = await rig.systems();
    const web = join(real, 'web.yaml');
    const steps: Array<[string, () => void]> = [
      ['invalid field', () => writeFileSync(web, good.web.replace('memoryMB: 512', 'memoryMB: 0'))],
      ['half-written', () => writeFileSync(web, good.web.slice(0, 100))],
      ['empty file (truncated, not yet written)', () => writeFileSync(web, '')],
      ['binary garbage', () => writeFileSync(web, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00, 0xfe]))],
      ['yaml syntax error', () => writeFileSync(web, `${good.web}  : [\n`)],
      ['repaired', () => writeFileSync(web, good.web)],
      ['folder vanished', () => repoint(join(rig.dir, 'nowhere'))],
      ['folder empty', () => { mkdirSync(join(rig.dir, 'empty')); repoint(join(rig.dir, 'empty')); }],
      ['folder is a file', () => { writeFileSync(join(rig.dir, 'a-file'), 'x'); repoint(join(rig.dir, 'a-file')); }],
      ['folder back', () => repoint(real)],
    ];
    if (process.getuid?.() !== 0) steps.splice(5, 0, ['unreadable (mode 000)', () => chmodSync(web, 0o000)], ['readable again', () => chmodSync(web, 0o644)]);
    for (const [what, step] of steps) {
      await settle(w, step, what);
      assert.deepEqual(await stopCalls(rig), [], `no stop after: ${what}`);
      assert.deepEqual(await rig.systems(), running, `still running after: ${what}`);
    }
    // A controller (re)started while the folder is empty, or while a file is broken or empty,
    // has never seen those manifests valid: it must hold pruning, not kill what runs.
    const restarts: Array<[string, () => void, RegExp]> = [
      ['empty folder', () => repoint(join(rig.dir, 'empty')), /folder is empty/],
      // A half-written file still shows its name: only that name is held (issue 12, finding 12).
      ['half-written file', () => { repoint(real); writeFileSync(web, good.web.slice(0, 100)); }, /not pruning web \(declared by invalid .*web\.yaml\)/],
      ['empty file', () => writeFileSync(web, ''), /web\.yaml is invalid or empty/],
      ['invalid field', () => writeFileSync(web, good.web.replace('memoryMB: 512', 'memoryMB: 0')), /not pruning web \(declared by invalid .*web\.yaml\)/],
    ];
    for (const [what, step, hold] of restarts) {
      await w.dispose();
      step();
      w = await startWatched(rig, link);
      await w.controller.waitForPass(() => true, 15_000);
      assert.match(w.controller.status().pruneHold ?? '', hold, `prune held after a restart with: ${what}`);
      assert.deepEqual(await stopCalls(rig), [], `no stop after a restart with: ${what}`);
      assert.deepEqual(await rig.systems(), running, `still running after a restart with: ${what}`);
    }
    writeFileSync(web, good.web);
    await until(() => w.controller.status().pruneHold === undefined && w.controller.status().converged, 'hold released once fixed', w.controller);
    const creates = (await rig.emu.control.callLog()).filter((c) => c.op === 'Create');
    assert.equal(creates.length, 2, 'nothing was ever re-created');
    // Control: with --allow-empty an empty folder does prune (the checks above can see prunes).
    await w.dispose();
    repoint(join(rig.dir, 'empty'));
    w = await startWatched(rig, link, { allowEmpty: true });
    await until(async () => (await rig.systems()).length === 0, 'allow-empty prunes', w.controller);
    assert.equal((await stopCalls(rig)).length, 2);
  } finally {
    await w.dispose();
    await rig.stop();
  }
});
