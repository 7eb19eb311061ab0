import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, topologicalOrder, type RuntimeInfo } from '../../reconciler/plan.ts';
import type { PlanNode } from '../../reconciler/graph.ts';
import { groupObserved } from '../../reconciler/observed.ts';
import { backoffDelay } from '../../reconciler/backoff.ts';
import { parseSystemId, systemIdFor } from '../../reconciler/identity.ts';
import type { DesiredSystem, HcsState, ObservedSystem } from '../../reconciler/ports.ts';
import { desired } from '../fakes/desired.ts';

const OWNER = 'hcs-reconciler';

function obs(id: string, state: HcsState = 'Running', owner = OWNER): ObservedSystem {
  return { id, systemType: 'Container', owner, state, ...(state === 'Stopped' ? { stopped: true } : {}) };
}

function run(d: DesiredSystem[], o: ObservedSystem[], extra: { runtime?: Map<string, RuntimeInfo>; now?: number; allowPrune?: boolean } = {}) {
  return plan({ desired: d, observed: groupObserved(o, OWNER), ...extra });
}

function brief(nodes: PlanNode[]): string[] {
  return nodes.map((n) => (n.op === 'wait' ? `wait ${n.resource.name}: ${n.cause}` : `${n.op} ${n.resource.hcsId}: ${n.cause}`));
}

const web = desired('web');
const web2 = desired('web', { config: 'v2' });
const mainId = (d: DesiredSystem) => d.parts.find((p) => p.role === 'main')!.id;

test('identity: ids round-trip, including names that end in hex or -uvm', () => {
  const hash = 'abcdef0123456789'.repeat(4);
  for (const name of ['web', 'a-0123456789ab', 'foo-uvm', 'x']) {
    assert.deepEqual(parseSystemId(systemIdFor(name, hash)), { name, hash: hash.slice(0, 12), role: 'main' });
    assert.deepEqual(parseSystemId(systemIdFor(name, hash, 'utilityVm')), { name, hash: hash.slice(0, 12), role: 'utilityVm' });
  }
  assert.equal(parseSystemId('3f0c9d1e2b'), undefined);
  assert.equal(parseSystemId('Web-0123456789ab'), undefined);
});

const cases: Array<{ name: string; desired: DesiredSystem[]; observed: ObservedSystem[]; expect: string[]; converged: boolean; runtime?: Map<string, RuntimeInfo>; now?: number; allowPrune?: boolean }> = [
  { name: 'empty host: create and start', desired: [web], observed: [], converged: false,
    expect: [`create ${mainId(web)}: not found`, `start ${mainId(web)}: created`] },
  { name: 'already running: nothing to do', desired: [web], observed: [obs(mainId(web))], converged: true, expect: [] },
  { name: 'created but not started', desired: [web], observed: [obs(mainId(web), 'Created')], converged: false,
    expect: [`start ${mainId(web)}: created but not started`] },
  { name: 'paused but desired Running: resume', desired: [web], observed: [obs(mainId(web), 'Paused')], converged: false,
    expect: [`resume ${mainId(web)}: desired state Running`] },
  { name: 'config change (StopBeforeCreate): stop old first, then create', desired: [web2], observed: [obs(mainId(web))], converged: false,
    expect: [
      `stop ${mainId(web)}: config hash changed ${mainId(web).slice(-12)}→${mainId(web2).slice(-12)}`,
      `create ${mainId(web2)}: config hash changed ${mainId(web).slice(-12)}→${mainId(web2).slice(-12)}`,
      `start ${mainId(web2)}: created`,
    ] },
  { name: 'config change (CreateBeforeStop): create new first, stop old after',
    desired: [desired('web', { config: 'v2', updateStrategy: 'CreateBeforeStop' })], observed: [obs(mainId(web))], converged: false,
    expect: [
      `create ${mainId(web2)}: config hash changed ${mainId(web).slice(-12)}→${mainId(web2).slice(-12)}`,
      `start ${mainId(web2)}: created`,
      `stop ${mainId(web)}: replaced by ${mainId(web2).slice(-12)} (CreateBeforeStop)`,
    ] },
  { name: 'manifest removed: prune', desired: [], observed: [obs(mainId(web))], converged: false,
    expect: [`stop ${mainId(web)}: manifest removed`] },
  { name: 'prune held: nothing stopped', desired: [], observed: [obs(mainId(web))], converged: true, allowPrune: false, expect: [] },
  { name: 'desired Stopped', desired: [desired('web', { state: 'Stopped' })], observed: [obs(mainId(web))], converged: false,
    expect: [`stop ${mainId(web)}: desired state Stopped`] },
  { name: 'desired Stopped and absent: converged', desired: [desired('web', { state: 'Stopped' })], observed: [], converged: true, expect: [] },
  { name: 'foreign systems are invisible, even with a colliding id', desired: [web], observed: [obs(mainId(web), 'Running', 'docker'), obs('web', 'Running', 'docker')], converged: false,
    expect: [`create ${mainId(web)}: not found`, `start ${mainId(web)}: created`] },
  { name: 'suspended manifest: reported only', desired: [desired('web', { suspend: true })], observed: [], converged: true, expect: ['wait web: spec.suspend is true'] },
  { name: 'backoff after an exit', desired: [web], observed: [], converged: false, now: 1000,
    runtime: new Map([['web', { restarts: 3, nextRetryAt: 41_000 }]]), expect: ['wait web: exited unexpectedly (restart 3, backoff 40s)'] },
  { name: 'backoff over: re-create with cause', desired: [web], observed: [], converged: false, now: 41_000,
    runtime: new Map([['web', { restarts: 3, nextRetryAt: 41_000, lastExit: { hash: web.configHash } }]]), expect: [`create ${mainId(web)}: exited unexpectedly (restart 3)`, `start ${mainId(web)}: created`] },
  { name: 'permanent failure is parked, not retried', desired: [web], observed: [], converged: true,
    runtime: new Map([['web', { restarts: 0, failed: { hash: web.configHash, message: 'HCS_E_INVALID_JSON' } }]]), expect: ['wait web: failed: HCS_E_INVALID_JSON'] },
];

for (const c of cases) {
  test(`plan: ${c.name}`, () => {
    const p = run(c.desired, c.observed, { ...(c.runtime ? { runtime: c.runtime } : {}), ...(c.now !== undefined ? { now: c.now } : {}), ...(c.allowPrune !== undefined ? { allowPrune: c.allowPrune } : {}) });
    assert.deepEqual(brief(p.nodes), c.expect);
    assert.equal(p.converged, c.converged);
  });
}

test('plan: dependsOn waits for the dependency and orders it first', () => {
  const db = desired('db');
  const api = desired('api', { dependsOn: ['db'] });
  const first = run([api, db], []);
  assert.deepEqual(brief(first.nodes), [`create ${mainId(db)}: not found`, `start ${mainId(db)}: created`, 'wait api: waiting for dependency db']);
  const second = run([api, db], [obs(mainId(db))]);
  assert.deepEqual(brief(second.nodes), [`create ${mainId(api)}: not found`, `start ${mainId(api)}: created`]);
});

test('plan: hyperv container creates the utility VM first and stops it last', () => {
  const hv = desired('iso', { hyperv: true });
  const [uvm, main] = hv.parts.map((p) => p.id) as [string, string];
  assert.deepEqual(brief(run([hv], []).nodes), [`create ${uvm}: not found`, `start ${uvm}: created`, `create ${main}: not found`, `start ${main}: created`]);
  assert.deepEqual(brief(run([], [obs(uvm), obs(main)]).nodes), [`stop ${main}: manifest removed`, `stop ${uvm}: manifest removed`]);
  const paused = desired('iso', { hyperv: true, state: 'Paused' });
  assert.deepEqual(brief(run([paused], [obs(uvm), obs(main)]).nodes), [`pause ${uvm}: desired state Paused`]);
});

test('plan: entrypoint started after creation, looked up after adoption, container stopped when it exits', () => {
  const app = desired('app', { commandLine: 'C:\\app\\server.exe' });
  const id = mainId(app);
  assert.deepEqual(brief(run([app], []).nodes).at(-1), `startProcess ${id}: entrypoint C:\\app\\server.exe`);
  assert.deepEqual(brief(run([app], [obs(id)]).nodes), [`ensureProcess ${id}: entrypoint not yet tracked`]);
  const tracked = new Map([['app', { restarts: 0, entrypointRunning: app.configHash }]]);
  assert.deepEqual(run([app], [obs(id)], { runtime: tracked }).nodes, []);
  const exited = new Map([['app', { restarts: 1, entrypointExited: { hash: app.configHash, exitCode: 3 } }]]);
  assert.deepEqual(brief(run([app], [obs(id)], { runtime: exited }).nodes), [`stop ${id}: entrypoint exited with code 3`]);
});

test('backoff: kubelet curve (0, 10s, 20s, ... capped at 5m)', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelay(n)), [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
});

test('topologicalOrder puts dependencies first and tolerates unknown names', () => {
  const order = topologicalOrder([desired('c', { dependsOn: ['b'] }), desired('b', { dependsOn: ['a', 'zzz'] }), desired('a')]).map((d) => d.name);
  assert.deepEqual(order, ['a', 'b', 'c']);
});

test('plan: the backoff window after a failed step holds back every change of the name, with its own cause', () => {
  const runtime = new Map([['web', { restarts: 1, nextRetryAt: 2_000, backoffAfter: { kind: 'failure' as const, op: 'start', message: 'HCS_E_OPERATION_TIMEOUT' } }]]);
  const held = run([web], [obs(mainId(web), 'Created')], { runtime, now: 1_000 });
  assert.deepEqual(brief(held.nodes), ['wait web: start failed: HCS_E_OPERATION_TIMEOUT; retry in 1s']);
  assert.equal(held.nodes[0]?.reason, 'backoff');
  assert.equal(held.converged, false);
  assert.deepEqual(brief(run([web], [obs(mainId(web), 'Created')], { runtime, now: 2_000 }).nodes), [`start ${mainId(web)}: created but not started`]);
});

test('plan: nodes of one system form a chain; the JSON fields are the contract', () => {
  const p = run([web], []);
  assert.deepEqual(p.nodes.map((n) => [n.id, n.op, n.reason, n.deps]), [
    [`create:${mainId(web)}`, 'create', 'notFound', []],
    [`start:${mainId(web)}`, 'start', 'created', [`create:${mainId(web)}`]],
  ]);
  assert.deepEqual(p.nodes[0]?.resource, { kind: 'computeSystem', name: 'web', hcsId: mainId(web) });
  const app = desired('app', { commandLine: 'C:\\app\\server.exe' });
  const last = run([app], []).nodes.at(-1)!;
  assert.deepEqual([last.op, last.resource.kind, last.deps], ['startProcess', 'process', [`start:${mainId(app)}`]]);
});

test('plan: a re-created system after an exit says how it ended; without a recorded exit it is "not found"', () => {
  const graceful = new Map([['web', { restarts: 1, lastExit: { hash: web.configHash, exit: { exitType: 'GracefulExit' as const } } }]]);
  assert.equal(run([web], [], { runtime: graceful }).nodes[0]?.cause, 'exited (GracefulExit) (restart 1)');
  assert.equal(run([web], [], { runtime: new Map([['web', { restarts: 4 }]]) }).nodes[0]?.reason, 'notFound');
});
