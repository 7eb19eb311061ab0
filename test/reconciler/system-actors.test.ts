/** The actor registry: idle actors are retired, at most `window` work at once, waiting names in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { node, type ComputeSystemNode, type NodeResult, type ActionNode, type PlanNode } from '../../reconciler/graph.ts';
import { SystemActors } from '../../reconciler/system-actors.ts';

const start = (name: string, v = 'a') => node<ComputeSystemNode>({ op: 'start', resource: { kind: 'computeSystem', name, hcsId: `${name}-${v}` }, why: { reason: 'notStarted' } });
const flush = () => new Promise((r) => setImmediate(r));

function harness(window: number, settleHoldMs?: number) {
  const running: Array<{ name: string; nodes: ActionNode[]; finish(): void }> = [];
  const settled: string[] = [];
  const clock = new SimulatedClock();
  const actors = new SystemActors({
    window,
    ...(settleHoldMs !== undefined ? { settleHoldMs } : {}),
    clock: { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) },
    onSettled: (name) => void settled.push(name),
    runNodes: (name, nodes) => new Promise<NodeResult<ActionNode>[]>((resolve) => {
      running.push({ name, nodes, finish: () => resolve(nodes.map((n) => ({ node: n, status: 'done' as const }))) });
    }),
  });
  const finish = async (name: string) => {
    const at = running.findIndex((r) => r.name === name);
    running.splice(at, 1)[0]!.finish();
    await flush();
  };
  return { actors, running, settled, finish, clock };
}

test('system actors: at most `window` work; waiting names start in dispatch order with their latest nodes', async () => {
  const h = harness(2);
  const plan = (names: string[], v = 'a') => new Map<string, PlanNode[]>(names.map((n) => [n, [start(n, v)]]));
  h.actors.dispatchPlan(plan(['a', 'b', 'c', 'd', 'e']));
  await flush();
  assert.deepEqual(h.running.map((r) => r.name), ['a', 'b']);
  assert.deepEqual(h.actors.size, { actors: 2, waiting: 3 });
  assert.ok(h.actors.working('d'), 'a waiting name counts as working');
  h.actors.dispatchPlan(plan(['a', 'b', 'c', 'e'], 'v2')); // d no longer has anything to run; c gets newer nodes
  assert.deepEqual(h.actors.size, { actors: 2, waiting: 2 });
  assert.equal(h.actors.working('d'), false);
  assert.deepEqual(h.settled, [], 'starting with nodes is no settle');
  const settledBefore = h.settled.length;
  await h.finish('a');
  assert.deepEqual(h.running.map((r) => r.name), ['b', 'c']);
  assert.equal(h.running[1]!.nodes[0]!.resource.hcsId, 'c-v2', 'the latest plan wins');
  assert.equal(h.settled.length, settledBefore, 'no pass per settle while names wait');
  await h.finish('b');
  assert.deepEqual(h.running.map((r) => r.name), ['c', 'e']);
  assert.equal(h.settled.length, settledBefore, 'nothing waits, but c and e still work: the settle stays held');
  await h.finish('c');
  assert.equal(h.settled.length, settledBefore, 'e still works');
  await h.finish('e');
  assert.deepEqual(h.actors.size, { actors: 0, waiting: 0 }, 'idle actors are retired');
  assert.deepEqual(h.settled.slice(settledBefore), ['e'], 'the held settles are reported once, when the last actor settles');
  h.actors.dispatchPlan(plan(['a'], 'v3'));
  await flush();
  assert.deepEqual(h.running.map((r) => r.nodes[0]!.resource.hcsId), ['a-v3'], 'a retired name gets a new actor');
  h.actors.stopAll();
});

test('system actors: a settle held while another actor works is reported after the hold at the latest', async () => {
  const h = harness(4, 500);
  h.actors.dispatchPlan(new Map([['slow', [start('slow')]], ['quick', [start('quick')]]]));
  await flush();
  await h.finish('quick');
  assert.deepEqual(h.settled, [], 'slow still works: held');
  h.clock.increment(499);
  assert.deepEqual(h.settled, []);
  h.clock.increment(1);
  assert.deepEqual(h.settled, ['quick'], 'reported when the hold ends, though slow still works');
  await h.finish('slow');
  assert.deepEqual(h.settled, ['quick', 'slow'], 'a settle with nothing else working is reported at once');
  h.actors.dispatchPlan(new Map([['a', [start('a', 'b')]], ['b', [start('b', 'b')]]]));
  await flush();
  await h.finish('a');
  await h.finish('b');
  h.clock.increment(1000);
  assert.deepEqual(h.settled, ['quick', 'slow', 'b'], 'a hold ended by the last settle leaves no timer behind');
  h.actors.stopAll();
});
