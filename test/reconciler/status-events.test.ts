/** Events and status say what happened: the misleading cases found by review, one test each. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { createController, type Controller } from '../../reconciler/controller.ts';
import type { Clock, Logger } from '../../reconciler/ports.ts';
import { FakeHcs } from '../fakes/fake-hcs.ts';
import { desired, snapshot } from '../fakes/desired.ts';

const OWNER = 'hcs-reconciler';
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const mainId = (d: ReturnType<typeof desired>) => d.parts.find((p) => p.role === 'main')!.id;

function setup(hcs = new FakeHcs()) {
  const clock = new SimulatedClock();
  const simulated: Clock = { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) };
  const controller = createController({ hcs, owner: OWNER, clock: simulated, logger: quiet, resyncMs: 0, listStaleMs: 5_000 });
  return { hcs, clock, controller };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(what);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const messages = (c: Controller, name: string) => c.history.list(name).map((e) => `${e.kind}: ${e.message}`);
const row = (c: Controller, name: string) => c.status().systems.find((s) => s.name === name)!;

test('a created event says created, not the plan cause "not found"', async () => {
  const { hcs, controller } = setup();
  const web = desired('web');
  controller.applySnapshot(snapshot([web]));
  await until(() => hcs.systems.get(mainId(web))?.state === 'Running', 'running');
  await controller.waitForPass((p) => p.converged);
  assert.deepEqual(messages(controller, 'web').slice(0, 2), [`created: ${mainId(web)} created`, `started: ${mainId(web)} running`]);
  assert.ok(!messages(controller, 'web').some((m) => /not found/.test(m)));
  await controller.dispose();
});

test('a desired Stopped is not a restart: re-enabling starts fresh and the next crash restarts at once', async () => {
  const { hcs, controller } = setup();
  const app = desired('app', { commandLine: 'C:\\app\\a.exe' });
  const id = mainId(app);
  controller.applySnapshot(snapshot([app]));
  await until(() => (hcs.systems.get(id)?.processes.length ?? 0) === 1, 'entrypoint running');
  controller.applySnapshot(snapshot([desired('app', { commandLine: 'C:\\app\\a.exe', state: 'Stopped' })]));
  await until(() => !hcs.systems.has(id), 'stopped');
  await controller.waitForPass((p) => p.converged);
  assert.equal(row(controller, 'app').restarts, 0, 'the deliberate stop is not counted');
  controller.applySnapshot(snapshot([app]));
  const again = await controller.waitForPass((p) => p.nodes.some((n) => n.op === 'create'));
  assert.equal(again.nodes.find((n) => n.op === 'create')?.reason, 'notFound', 're-enabling is not "exited unexpectedly"');
  await until(() => hcs.systems.get(id)?.state === 'Running' && (hcs.systems.get(id)?.processes.length ?? 0) === 1, 'running again');
  assert.ok(!messages(controller, 'app').some((m) => /unexpectedly/.test(m)), messages(controller, 'app').join('\n'));
  await until(() => controller.history.list('app').filter((e) => e.kind === 'started').length === 2, 'the controller knows the new run');
  hcs.crash(id);
  await until(() => hcs.systems.get(id)?.state === 'Running', 'first crash restarts at once (no 10 s backoff)');
  assert.equal(row(controller, 'app').restarts, 1);
  await controller.dispose();
});

test('a GracefulExit is reported as such, not as "exited unexpectedly"', async () => {
  const { hcs, controller } = setup();
  const vm = desired('vm', { vm: true });
  controller.applySnapshot(snapshot([vm]));
  // Crash once the controller knows the run (its `started` event), not merely once HCS runs it.
  await until(() => controller.history.list('vm').some((e) => e.kind === 'started'), 'running');
  await controller.waitForPass((q) => q.converged); // so that the next create seen is the re-create
  hcs.crash(mainId(vm), 'GracefulExit');
  const p = await controller.waitForPass((q) => q.nodes.some((n) => n.op === 'create'));
  const create = p.nodes.find((n) => n.op === 'create')!;
  assert.equal(create.reason, 'exited');
  assert.equal(create.cause, 'exited (GracefulExit) (restart 1)');
  await until(() => hcs.systems.get(mainId(vm))?.state === 'Running', 'restarted');
  assert.ok(!messages(controller, 'vm').some((m) => /unexpectedly/.test(m)), messages(controller, 'vm').join('\n'));
  await controller.dispose();
});

test('MESSAGE clears after recovery; AGE restarts with a re-create', async () => {
  const { hcs, clock, controller } = setup();
  const web = desired('web');
  hcs.failNext('start', 'transient');
  controller.applySnapshot(snapshot([web]));
  await until(() => row(controller, 'web').lastError !== undefined, 'error shown');
  clock.increment(1_000);
  await until(() => hcs.systems.get(mainId(web))?.state === 'Running', 'recovered');
  await controller.waitForPass((p) => p.converged);
  assert.equal(row(controller, 'web').lastError, undefined, 'no stale error once it works');
  const firstSince = row(controller, 'web').since;
  clock.increment(60_000);
  controller.applySnapshot(snapshot([desired('web', { config: 'v2' })]));
  await until(() => hcs.systems.get(mainId(desired('web', { config: 'v2' })))?.state === 'Running', 're-created');
  assert.equal(row(controller, 'web').since, firstSince! + 61_000, 'AGE counts from the re-create');
  await controller.dispose();
});

test('status is not converged while a desired Running system is absent, HCS errors, or an enumerate hangs', async () => {
  const { hcs, clock, controller } = setup();
  const web = desired('web');
  controller.applySnapshot(snapshot([web]));
  await until(() => hcs.systems.get(mainId(web))?.state === 'Running', 'running');
  await controller.waitForPass((p) => p.converged);
  await until(() => controller.status().converged, 'converged');
  // Gone without an event, while the last plan still says converged.
  hcs.systems.delete(mainId(web));
  controller.reconcile();
  const release = hcs.hangEnumerate();
  await until(() => hcs.calls.filter((c) => c === 'enumerate').length >= 2, 'enumerate in flight');
  assert.equal(controller.status().converged, true, 'a fresh listing is not yet stale');
  clock.increment(5_000);
  assert.equal(controller.status().converged, false, 'an enumerate that hangs is not converged');
  assert.match(controller.status().listError ?? '', /has not answered for 5 s/);
  assert.equal(row(controller, 'web').actual, 'Unknown', 'no stale Running row while HCS does not answer');
  hcs.failNext('enumerate', 'disconnected');
  release();
  await until(() => controller.status().listError !== undefined && !/has not answered/.test(controller.status().listError!), 'the hung enumerate failed');
  clock.increment(2_000); // list retry
  await until(() => hcs.systems.get(mainId(web))?.state === 'Running', 're-created');
  await controller.waitForPass((p) => p.converged);
  assert.equal(controller.status().converged, true);
  await controller.dispose();
});

test('status with an HCS error is not converged and shows no stale rows', async () => {
  const { hcs, controller } = setup();
  const web = desired('web');
  controller.applySnapshot(snapshot([web]));
  await until(() => hcs.systems.get(mainId(web))?.state === 'Running', 'running');
  await until(() => controller.status().converged, 'converged');
  hcs.failNext('enumerate', 'disconnected', { count: 1000 });
  controller.reconcile();
  await until(() => controller.status().listError !== undefined, 'list error');
  assert.equal(controller.status().converged, false);
  assert.equal(row(controller, 'web').actual, 'Unknown');
  await controller.dispose();
});

test('buildStatus: a converged plan does not make a missing desired Running system converged (unless parked)', async () => {
  const { buildStatus } = await import('../../reconciler/status.ts');
  const { DesiredStore } = await import('../../reconciler/desired.ts');
  const { EventHistory } = await import('../../reconciler/history.ts');
  const web = desired('web');
  const store = new DesiredStore();
  store.apply(snapshot([web]));
  const base = {
    owner: OWNER, desired: store, observed: { groups: new Map(), unrecognised: [] }, plan: { nodes: [], converged: true },
    phase: () => undefined, history: new EventHistory(() => 0), passes: 1, suspended: false, now: 0,
  };
  assert.equal(buildStatus({ ...base, runtime: new Map() }).converged, false);
  assert.equal(buildStatus({ ...base, runtime: new Map([['web', { restarts: 0, completed: { hash: web.configHash, message: 'done' } }]]) }).converged, true, 'completed is converged');
  assert.equal(buildStatus({ ...base, phase: () => 'failed', runtime: new Map() }).converged, true, 'parked on a permanent failure is converged');
});
