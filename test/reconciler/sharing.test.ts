/**
 * Structural sharing on the relist and status paths (issue 17): an unchanged relist groups,
 * plans and builds status rows for nothing, proven by object identity and by counters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DesiredStore } from '../../reconciler/desired.ts';
import { EventHistory } from '../../reconciler/history.ts';
import { groupObserved, ObservedCache } from '../../reconciler/observed.ts';
import type { ObservedSystem } from '../../reconciler/ports.ts';
import type { RuntimeInfo } from '../../reconciler/runtime.ts';
import { StatusBuilder, buildStatus, type StatusInputs } from '../../reconciler/status.ts';
import { desired, snapshot } from '../fakes/desired.ts';

const OWNER = 'hcs-reconciler';
const names = Array.from({ length: 50 }, (_, i) => `s${String(i).padStart(3, '0')}`);
const specs = names.map((n) => desired(n));
const sys = (id: string, state: ObservedSystem['state'] = 'Running'): ObservedSystem =>
  Object.freeze({ id, systemType: 'Container', owner: OWNER, state });
const observedOf = (overrides: Record<number, ObservedSystem> = {}) =>
  specs.map((d, i) => overrides[i] ?? sys(d.parts[0]!.id));

test('ObservedCache: the same systems array gives the same state; a changed one keeps unchanged groups and parts', () => {
  const cache = new ObservedCache();
  const systems = [...observedOf(), sys('foreign-1', 'Running'), Object.freeze({ ...sys('x'), owner: 'docker' })];
  const a = cache.group(systems, OWNER);
  assert.deepEqual(a, groupObserved(systems, OWNER), 'same content as groupObserved');
  assert.equal(cache.group(systems, OWNER), a, 'unchanged: the same state');
  assert.equal(cache.regrouped, 1);
  const changed = [...systems];
  changed[7] = sys(specs[7]!.parts[0]!.id, 'Stopped');
  const b = cache.group(changed, OWNER);
  assert.equal(cache.regrouped, 2);
  assert.deepEqual(b, groupObserved(changed, OWNER));
  for (const n of names) {
    if (n === 's007') assert.notEqual(b.groups.get(n), a.groups.get(n));
    else assert.equal(b.groups.get(n), a.groups.get(n), `${n} group kept`);
  }
});

test('StatusBuilder: unchanged inputs rebuild no row; one changed runtime record rebuilds that row only', () => {
  const store = new DesiredStore();
  store.apply(snapshot(specs));
  const observed = new ObservedCache().group(observedOf(), OWNER);
  const runtime = new Map<string, RuntimeInfo>(names.map((n) => [n, { restarts: 0, since: 5 }]));
  const inp: StatusInputs = {
    owner: OWNER, desired: store, observed, plan: { nodes: [], converged: true }, runtime, phase: () => undefined,
    history: new EventHistory(() => 0), passes: 1, suspended: false, now: 10,
  };
  const builder = new StatusBuilder();
  const s1 = builder.build(inp);
  assert.deepEqual(s1, buildStatus(inp), 'same content as a fresh build');
  assert.equal(builder.rowsBuilt, 50);
  const s2 = builder.build({ ...inp, passes: 2, now: 20 });
  assert.equal(builder.rowsBuilt, 50, 'no row rebuilt');
  assert.equal(s2.systems, s1.systems, 'the same systems array');
  runtime.set('s010', { restarts: 1, since: 15 });
  const s3 = builder.build(inp);
  assert.equal(builder.rowsBuilt, 51, 'one row rebuilt');
  assert.notEqual(s3.systems, s1.systems);
  assert.equal(s3.systems[10]!.restarts, 1);
  for (let i = 0; i < 50; i++) if (i !== 10) assert.equal(s3.systems[i], s1.systems[i]);
  assert.deepEqual(s3, buildStatus(inp));
});
