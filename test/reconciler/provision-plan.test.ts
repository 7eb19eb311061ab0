// The planner's rules for provisioned objects with their own ids (reconciler/provision-plan.ts):
// what is kept, what is removed after which stop, what is an orphan, and what a vanished object does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { plan, type ObservedState } from '../../reconciler/index.ts';
import { withoutHeld } from '../../reconciler/prune-holds.ts';
import type { DesiredSystem, ObservedProvisioned } from '../../reconciler/ports.ts';
import { desired } from '../fakes/desired.ts';

/** A container asking for a scratch and an endpoint, with its own object ids. */
function provisioned(name: string, o: { config?: string; scratch: string; network: string; state?: 'Running' | 'Stopped'; hyperv?: boolean }): DesiredSystem {
  const d = desired(name, { config: o.config ?? o.network, ...(o.state ? { state: o.state } : {}) });
  const part = d.parts[0]!;
  part.provision = { scratch: {}, network: { ports: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080 }] }, ...(o.hyperv ? { isolation: 'hyperv' as const } : {}) };
  part.provisionIds = { scratch: `${name}-${o.scratch}`, network: `${name}-${o.network}` };
  return d;
}
const ready = (...ids: string[]): ObservedProvisioned[] => ids.map((id) => ({ id, ready: true }));
function observed(live: Array<{ id: string; name: string }>, p: { scratch?: string[]; endpoint?: string[]; namespace?: string[] }): ObservedState {
  const groups = new Map<string, { name: string; parts: Array<{ id: string; name: string; role: 'main'; hash: string; state: 'Running' }> }>();
  for (const s of live) {
    const g = groups.get(s.name) ?? { name: s.name, parts: [] };
    g.parts.push({ id: s.id, name: s.name, role: 'main', hash: s.id.slice(-12), state: 'Running' });
    groups.set(s.name, g);
  }
  return { groups, unrecognised: [], provisioned: { scratch: ready(...(p.scratch ?? [])), endpoint: ready(...(p.endpoint ?? [])), namespace: ready(...(p.namespace ?? [])) } };
}
const ids = (nodes: Array<{ id: string }>) => nodes.map((n) => n.id);
const S = 'aaaaaaaaaaaa', N1 = '111111111111', N2 = '222222222222';

test('converged: nothing to do when the system runs and its objects are ready', () => {
  const d = provisioned('web', { scratch: S, network: N1 });
  const p = plan({ desired: [d], observed: observed([{ id: d.parts[0]!.id, name: 'web' }], { scratch: [`web-${S}`], endpoint: [`web-${N1}`], namespace: [`web-${N1}`] }) });
  assert.deepEqual(ids(p.nodes), []);
  assert.equal(p.converged, true);
});

test('CreateBeforeStop: the new system and endpoint first, then the old system stops and its own endpoint and scratch go', () => {
  const old = provisioned('web', { scratch: `${S.slice(0, 11)}1`, network: N1, config: 'a' });
  const next = { ...provisioned('web', { scratch: `${S.slice(0, 11)}2`, network: N2, config: 'b' }), updateStrategy: 'CreateBeforeStop' as const };
  const oldId = old.parts[0]!.id, newId = next.parts[0]!.id;
  const o = observed([{ id: oldId, name: 'web' }], { scratch: [`web-${S.slice(0, 11)}1`], endpoint: [`web-${N1}`], namespace: [`web-${N1}`] });
  assert.deepEqual(ids(plan({ desired: [next], observed: o }).nodes), [
    `create:scratch:web-${S.slice(0, 11)}2`, `create:endpoint:web-${N2}`, `create:namespace:web-${N2}`, `create:${newId}`, `start:${newId}`,
    `stop:${oldId}`, `remove:namespace:web-${N1}`, `remove:endpoint:web-${N1}`, `remove:scratch:web-${S.slice(0, 11)}1`,
  ]);
});

test('desired Stopped and a deleted manifest remove all of the name\'s objects after the stop; an unused leftover is an orphan', () => {
  const d = provisioned('web', { scratch: S, network: N1 });
  const id = d.parts[0]!.id;
  const o = observed([{ id, name: 'web' }], { scratch: [`web-${S}`], endpoint: [`web-${N1}`], namespace: [`web-${N1}`] });
  const stopped = plan({ desired: [{ ...d, state: 'Stopped' }], observed: o });
  assert.deepEqual(ids(stopped.nodes), [`stop:${id}`, `remove:namespace:web-${N1}`, `remove:endpoint:web-${N1}`, `remove:scratch:web-${S}`]);
  const pruned = plan({ desired: [], observed: o });
  assert.deepEqual(pruned.nodes.map((n) => [n.id, n.reason]), [[`stop:${id}`, 'manifestRemoved'], [`remove:namespace:web-${N1}`, 'systemGone'], [`remove:endpoint:web-${N1}`, 'systemGone'], [`remove:scratch:web-${S}`, 'systemGone']]);
  // An old endpoint left by an interrupted change while the new system runs: removed, the rest kept.
  const leftover = plan({ desired: [d], observed: observed([{ id, name: 'web' }], { scratch: [`web-${S}`], endpoint: [`web-${N1}`, `web-${N2}`], namespace: [`web-${N1}`] }) });
  assert.deepEqual(leftover.nodes.map((n) => [n.id, n.cause]), [[`remove:endpoint:web-${N2}`, 'no system of ours uses it']]);
  // Not while the prune guard holds, and not for a held name.
  assert.deepEqual(ids(plan({ desired: [], observed: o, allowPrune: false }).nodes), []);
  const held = withoutHeld(o, { names: new Map([['web', 'web.yaml']]) }, new Set());
  assert.deepEqual(held.provisioned, { scratch: [], endpoint: [], namespace: [] });
});

test('an endpoint deleted under a running system: stop (provisionLost), remove the namespace left, make both again, re-create the system on the same scratch', () => {
  const d = provisioned('web', { scratch: S, network: N1 });
  const id = d.parts[0]!.id;
  const o = observed([{ id, name: 'web' }], { scratch: [`web-${S}`], namespace: [`web-${N1}`] });
  o.provisioned!.namespace = [{ id: `web-${N1}`, ready: false }]; // still there, but its endpoint is gone
  const p = plan({ desired: [d], observed: o });
  assert.deepEqual(p.nodes.map((n) => [n.id, n.reason]), [
    [`stop:${id}`, 'provisionLost'], [`remove:namespace:web-${N1}`, 'systemGone'],
    [`create:endpoint:web-${N1}`, 'neededBy'], [`create:namespace:web-${N1}`, 'neededBy'], [`create:${id}`, 'provisionLost'], [`start:${id}`, 'created'],
  ]);
  assert.equal(p.nodes[0]!.cause, `its endpoint web-${N1} is gone`);
});

test('Hyper-V: no namespace node; the endpoint alone before the system', () => {
  const d = provisioned('hv', { scratch: S, network: N1, hyperv: true });
  const id = d.parts[0]!.id;
  assert.deepEqual(ids(plan({ desired: [d], observed: observed([], {}) }).nodes), [`create:scratch:hv-${S}`, `create:endpoint:hv-${N1}`, `create:${id}`, `start:${id}`]);
  assert.deepEqual(ids(plan({ desired: [d], observed: observed([{ id, name: 'hv' }], { scratch: [`hv-${S}`], endpoint: [`hv-${N1}`] }) }).nodes), []);
});
