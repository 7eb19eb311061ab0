/** The actor registry: idle actors are retired, at most `window` work at once, waiting names in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { node, type ComputeSystemNode, type NodeResult, type ActionNode, type PlanNode } from '../../reconciler/graph.ts';
import { SystemActors } from '../../reconciler/system-actors.ts';

const start = (name: string, v = 'a') => node<ComputeSystemNode>({ op: 'start', resource: { kind: 'computeSystem', name, hcsId: `${name}-${v}` }, why: { reason: 'notStarted' } });
const flush = () => new Promise((r) => setImmediate(r));

function harness(window: number) {
  const running: Array<{ name: string; nodes: ActionNode[]; finish(): void }> = [];
  const settled: string[] = [];
  const clock = new SimulatedClock();
  const actors = new SystemActors({
    window,
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
  return { actors, running, settled, finish };
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
  assert.equal(h.settled.length, settledBefore + 1, 'the held-back settle is reported once nothing waits');
  await h.finish('c');
  await h.finish('e');
  assert.deepEqual(h.actors.size, { actors: 0, waiting: 0 }, 'idle actors are retired');
  assert.equal(h.settled.length, settledBefore + 3);
  h.actors.dispatchPlan(plan(['a'], 'v3'));
  await flush();
  assert.deepEqual(h.running.map((r) => r.nodes[0]!.resource.hcsId), ['a-v3'], 'a retired name gets a new actor');
  h.actors.stopAll();
});
