/** The per-system machine alone: its dependencies come in through .provide(). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromPromise } from 'xstate';
import { node, type ActionNode, type ComputeSystemNode, type NodeResult } from '../../reconciler/graph.ts';
import { systemMachine, type RunNodesInput } from '../../reconciler/system-machine.ts';

const start = (id: string) => node<ComputeSystemNode>({ op: 'start', resource: { kind: 'computeSystem', name: 'web', hcsId: id }, why: { reason: 'notStarted' } });
const wait = node({ op: 'wait', resource: { kind: 'computeSystem', name: 'web' }, why: { reason: 'dependency', waitingFor: ['db'] } });

function harness() {
  const runs: RunNodesInput[] = [];
  const finishers: Array<() => void> = [];
  const settled: Array<{ name: string; replan: boolean }> = [];
  const machine = systemMachine.provide({
    actors: {
      runNodes: fromPromise<NodeResult<ActionNode>[], RunNodesInput>(({ input }) => {
        runs.push(input);
        return new Promise((resolve) => finishers.push(() => resolve(input.nodes.map((n) => ({ node: n, status: 'done' as const })))));
      }),
    },
    actions: { settled: (_args, params) => void settled.push(params) },
  });
  return { machine, runs, finishers, settled };
}

const flush = () => new Promise((r) => setImmediate(r));

test('system machine: runs its initial nodes (waits filtered out), then settles', async () => {
  const h = harness();
  const actor = createActor(h.machine, { input: { name: 'web', initial: [wait, start('a')] } });
  actor.start();
  assert.equal(actor.getSnapshot().value, 'working');
  assert.deepEqual(h.runs.map((r) => r.nodes.map((x) => x.id)), [['start:a']]);
  h.finishers.shift()!();
  await flush();
  assert.equal(actor.getSnapshot().value, 'idle');
  assert.deepEqual(h.settled.at(-1), { name: 'web', replan: false });
  actor.stop();
});

test('system machine: an apply while working is remembered and turned into a replan, not lost or run stale', async () => {
  const h = harness();
  const actor = createActor(h.machine, { input: { name: 'web' } });
  actor.start();
  actor.send({ type: 'apply', nodes: [start('a')] });
  assert.equal(actor.getSnapshot().value, 'working');
  actor.send({ type: 'apply', nodes: [start('b')] });
  assert.deepEqual(actor.getSnapshot().context.pending?.map((x) => x.id), ['start:b'], 'remembered');
  h.finishers.shift()!();
  await flush();
  assert.equal(actor.getSnapshot().value, 'idle');
  assert.deepEqual(h.settled.at(-1), { name: 'web', replan: true }, 'the controller is asked for a fresh plan');
  assert.equal(h.runs.length, 1, 'the stale nodes were not run');
  actor.send({ type: 'apply', nodes: [start('c')] });
  assert.deepEqual(h.runs.at(-1)?.nodes.map((x) => x.id), ['start:c']);
  actor.stop();
});

test('system machine: a run that rejects still settles', async () => {
  const settled: string[] = [];
  const machine = systemMachine.provide({
    actors: { runNodes: fromPromise<NodeResult<ActionNode>[], RunNodesInput>(async () => { throw new Error('boom'); }) },
    actions: { settled: (_args, params) => void settled.push(params.name) },
  });
  const actor = createActor(machine, { input: { name: 'web', initial: [start('a')] } });
  actor.start();
  await flush();
  assert.equal(actor.getSnapshot().value, 'idle');
  assert.ok(settled.length >= 1);
  actor.stop();
});
