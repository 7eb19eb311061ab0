import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { createController, type Controller } from '../../reconciler/controller.ts';
import type { Clock, Logger } from '../../reconciler/ports.ts';
import type { Plan } from '../../reconciler/plan.ts';
import { FakeHcs } from '../fakes/fake-hcs.ts';
import { desired, snapshot } from '../fakes/desired.ts';

const OWNER = 'hcs-reconciler';
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function setup(hcs = new FakeHcs(), extra: { allowEmpty?: boolean } = {}) {
  const clock = new SimulatedClock();
  const simulated: Clock = { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) };
  const controller = createController({ hcs, owner: OWNER, clock: simulated, logger: quiet, resyncMs: 0, ...extra });
  return { hcs, clock, controller };
}

const converged = (p: Plan) => p.converged;

/** Resolves on the next history event of this kind (explicit wait, no sleeps). */
function nextHistory(controller: Controller, kind: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} event`)), 10_000);
    const sub = controller.history.subscribe((e) => {
      if (e.kind !== kind) return;
      clearTimeout(timer);
      sub.dispose();
      resolve();
    });
  });
}
const mainId = (d: ReturnType<typeof desired>) => d.parts.find((p) => p.role === 'main')!.id;
const liveIds = (hcs: FakeHcs) => hcs.live(OWNER).map((s) => `${s.id}:${s.state}`).sort();

/** Wait until `check` holds (polled; explicit deadline, no fixed sleeps). */
async function settle(_controller: Controller, hcs: FakeHcs, check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}; HCS: ${liveIds(hcs).join(', ')}; calls: ${hcs.calls.slice(-10).join(' | ')}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('converges from empty, then idles with nothing left to do', async () => {
  const { hcs, controller } = setup();
  const web = desired('web');
  const db = desired('db');
  controller.applySnapshot(snapshot([web, db]));
  await settle(controller, hcs, () => hcs.live(OWNER).filter((s) => s.state === 'Running').length === 2, 'both running');
  await controller.waitForPass(converged, 10_000);
  assert.deepEqual(liveIds(hcs), [`${mainId(db)}:Running`, `${mainId(web)}:Running`]);
  const status = controller.status();
  assert.equal(status.systems.find((s) => s.name === 'web')?.actual, 'Running');
  assert.equal(controller.openHandles(), 2, 'one handle per system, for SystemExited');
  await controller.dispose();
  assert.equal(hcs.openHandles, 0, 'dispose closes every handle');
  assert.equal(hcs.live(OWNER).length, 2, 'dispose leaves workloads running');
});

test('edit re-creates (stop old, create new); delete prunes', async () => {
  const { hcs, controller } = setup();
  const v1 = desired('web');
  controller.applySnapshot(snapshot([v1]));
  await settle(controller, hcs, () => hcs.systems.get(mainId(v1))?.state === 'Running', 'v1 running');
  const v2 = desired('web', { config: 'v2' });
  controller.applySnapshot(snapshot([v2]));
  await settle(controller, hcs, () => liveIds(hcs).join() === `${mainId(v2)}:Running`, 'v2 replaced v1');
  const order = hcs.calls.filter((c) => c.startsWith('shutdown') || c.startsWith('create'));
  assert.deepEqual(order, [`create ${mainId(v1)}`, `shutdown ${mainId(v1)}`, `create ${mainId(v2)}`]);
  assert.ok(controller.history.list('web').some((e) => e.kind === 'recreated'));
  controller.applySnapshot(snapshot([desired('other', { state: 'Stopped' })]));
  await settle(controller, hcs, () => hcs.live(OWNER).length === 0, 'pruned');
  assert.ok(controller.history.list('web').some((e) => e.kind === 'pruned'));
  await controller.dispose();
  assert.equal(hcs.openHandles, 0);
});

test('unexpected exit: first restart immediate, second after 10 s of (simulated) backoff', async () => {
  const { hcs, clock, controller } = setup();
  const web = desired('web');
  const id = mainId(web);
  controller.applySnapshot(snapshot([web]));
  await settle(controller, hcs, () => hcs.systems.get(id)?.state === 'Running', 'running');
  hcs.crash(id);
  await settle(controller, hcs, () => hcs.systems.get(id)?.state === 'Running', 'restarted at once');
  assert.equal(controller.status().systems[0]?.restarts, 1);
  hcs.crash(id);
  const backoff = await controller.waitForPass((p) => p.nodes.some((a) => a.op === 'wait' && a.reason === 'backoff'));
  assert.match(JSON.stringify(backoff.nodes), /exited unexpectedly \(restart 2, backoff 10s\)/);
  assert.equal(hcs.systems.has(id), false);
  clock.increment(9_999);
  assert.equal(hcs.systems.has(id), false, 'still backing off');
  clock.increment(1);
  await settle(controller, hcs, () => hcs.systems.get(id)?.state === 'Running', 'restarted after backoff');
  assert.ok(controller.history.list('web').filter((e) => e.kind === 'exited').length >= 2);
  await controller.dispose();
});

test('shutdown that never completes is followed by terminate after stopTimeout', async () => {
  const { hcs, clock, controller } = setup();
  const vm = desired('vm', { vm: true, stopTimeoutMs: 5_000 });
  controller.applySnapshot(snapshot([vm]));
  await settle(controller, hcs, () => hcs.systems.get(mainId(vm))?.state === 'Running', 'running');
  hcs.systems.get(mainId(vm))!.ignoreShutdown = true;
  controller.applySnapshot(snapshot([desired('vm', { vm: true, stopTimeoutMs: 5_000, state: 'Stopped' })]));
  await settle(controller, hcs, () => hcs.calls.includes(`shutdown ${mainId(vm)}`), 'shutdown sent');
  // Just short of the stop timeout, and a whole reconcile pass later (the executor has had every
  // chance to act): no terminate. One more millisecond: terminate.
  clock.increment(4_999);
  const passes = controller.status().passes;
  controller.reconcile();
  await controller.waitForPass(() => controller.status().passes > passes);
  assert.ok(!hcs.calls.includes(`terminate ${mainId(vm)}`), 'no terminate before stopTimeout');
  clock.increment(1);
  await settle(controller, hcs, () => !hcs.systems.has(mainId(vm)), 'terminated');
  assert.ok(hcs.calls.includes(`terminate ${mainId(vm)}`));
  await controller.dispose();
});

test('foreign systems are never opened or stopped, even with colliding names', async () => {
  const hcs = new FakeHcs();
  hcs.addForeign('web', 'docker');
  const web = desired('web');
  hcs.addForeign(`${mainId(web)}-x`, 'containerd-shim-runhcs-v1.exe');
  const { controller } = setup(hcs);
  controller.applySnapshot(snapshot([web]));
  await settle(controller, hcs, () => hcs.systems.get(mainId(web))?.state === 'Running', 'ours running');
  controller.applySnapshot(snapshot([desired('other', { state: 'Stopped' })]));
  await settle(controller, hcs, () => !hcs.systems.has(mainId(web)), 'ours pruned');
  const touchedForeign = hcs.calls.filter((c) => / (web|.*-x)$/.test(c) && !c.includes(mainId(web)));
  assert.deepEqual(touchedForeign, []);
  assert.equal(hcs.systems.get('web')?.state, 'Running');
  await controller.dispose();
});

test('an invalid edit keeps the running system on its last valid spec; an empty folder does not prune', async () => {
  const { hcs, controller } = setup();
  const web = desired('web');
  controller.applySnapshot(snapshot([web]));
  await settle(controller, hcs, () => hcs.systems.get(mainId(web))?.state === 'Running', 'running');
  const err = { file: web.source.file, line: 3, col: 1, path: 'spec', message: 'broken', name: 'web' };
  controller.applySnapshot(snapshot([], { errors: [err], files: [web.source.file] }));
  await controller.waitForPass(converged);
  assert.equal(controller.status().systems[0]?.lastKnownGood, true);
  controller.applySnapshot(snapshot([], { files: [] }));
  const p = await controller.waitForPass(() => true);
  assert.equal(p.nodes.length, 0);
  assert.match(controller.status().pruneHold ?? '', /folder is empty/);
  controller.applySnapshot(snapshot([], { folderOk: false, folderError: 'ENOENT', files: [] }));
  await controller.waitForPass(() => true);
  assert.equal(hcs.systems.get(mainId(web))?.state, 'Running');
  assert.ok(!hcs.calls.some((c) => c.startsWith('shutdown') || c.startsWith('terminate')));
  await controller.dispose();
});

test('transient faults back off and converge; permanent faults park without hot-looping', async () => {
  const { hcs, clock, controller } = setup();
  const web = desired('web');
  hcs.failNext('start', 'transient', { count: 2 });
  controller.applySnapshot(snapshot([web]));
  for (let i = 0; i < 2; i++) {
    await nextHistory(controller, 'backoff');
    await new Promise((r) => setImmediate(r));
    assert.equal(controller.status().systems[0]?.phase, 'backoff');
    clock.increment(60_000);
  }
  await settle(controller, hcs, () => hcs.systems.get(mainId(web))?.state === 'Running', 'converged after faults');
  const bad = desired('bad');
  hcs.failNext('create', 'invalidConfig', { permanent: true, id: mainId(bad) });
  controller.applySnapshot(snapshot([web, bad]));
  await settle(controller, hcs, () => controller.status().systems.find((s) => s.name === 'bad')?.phase === 'failed', 'bad parked');
  const creates = () => hcs.calls.filter((c) => c === `create ${mainId(bad)}`).length;
  const before = creates();
  clock.increment(600_000);
  controller.reconcile();
  await controller.waitForPass(() => true);
  assert.equal(creates(), before, 'no retry of a permanent failure');
  assert.match(controller.status().systems.find((s) => s.name === 'bad')?.lastError ?? '', /invalidConfig/);
  await controller.dispose();
});

test('a restarted controller adopts running systems: no create, no stop', async () => {
  const first = setup();
  const web = desired('web');
  first.controller.applySnapshot(snapshot([web]));
  await settle(first.controller, first.hcs, () => first.hcs.systems.get(mainId(web))?.state === 'Running', 'running');
  await first.controller.dispose();
  const calls = first.hcs.calls.length;
  const second = setup(first.hcs);
  second.controller.applySnapshot(snapshot([web]));
  await second.controller.waitForPass(converged);
  const after = first.hcs.calls.slice(calls).filter((c) => !c.startsWith('enumerate') && !c.startsWith('open'));
  assert.deepEqual(after, []);
  assert.ok(second.controller.history.list('web').some((e) => e.kind === 'adopted'));
  first.hcs.crash(mainId(web));
  await settle(second.controller, first.hcs, () => first.hcs.systems.get(mainId(web))?.state === 'Running', 'adopted system restarted after crash');
  await second.controller.dispose();
});

test('entrypoint exit shuts the container down; OnFailure with code 0 leaves it stopped', async () => {
  const { hcs, controller } = setup();
  const app = desired('app', { commandLine: 'C:\\app\\job.exe', restartPolicy: 'OnFailure' });
  const id = mainId(app);
  controller.applySnapshot(snapshot([app]));
  await settle(controller, hcs, () => (hcs.systems.get(id)?.processes.length ?? 0) === 1, 'entrypoint started');
  hcs.exitProcess(id, 0);
  await settle(controller, hcs, () => !hcs.systems.has(id), 'container shut down');
  const p = await controller.waitForPass(converged);
  assert.match(JSON.stringify(p.nodes), /exit code 0\), restartPolicy OnFailure/);
  await controller.dispose();
  assert.equal(hcs.openHandles, 0);
});

test('dependency order: db is started before api', async () => {
  const { hcs, controller } = setup();
  const db = desired('db');
  const api = desired('api', { dependsOn: ['db'] });
  controller.applySnapshot(snapshot([api, db]));
  await settle(controller, hcs, () => hcs.live(OWNER).filter((s) => s.state === 'Running').length === 2, 'both running');
  const starts = hcs.calls.filter((c) => c.startsWith('start') || c.startsWith('create'));
  assert.deepEqual(starts, [`create ${mainId(db)}`, `start ${mainId(db)}`, `create ${mainId(api)}`, `start ${mainId(api)}`]);
  await controller.dispose();
});

test('a step that finds its system gone (crash mid-sequence) does not count as another restart', async () => {
  const { hcs, controller } = setup();
  const app = desired('app', { commandLine: 'C:\\app\\a.exe' });
  hcs.failNext('createProcess', 'alreadyStopped');
  controller.applySnapshot(snapshot([app]));
  await settle(controller, hcs, () => (hcs.systems.get(mainId(app))?.processes.length ?? 0) === 1, 'entrypoint started on the retry');
  assert.equal(controller.status().systems[0]?.restarts, 0);
  assert.ok(controller.history.list('app').some((e) => e.kind === 'error' && /found the system gone/.test(e.message)));
  await controller.dispose();
});
