/** The per-system machine alone: its step function, and its runner with a fake `runNodes`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { node, type ActionNode, type ComputeSystemNode, type NodeResult } from '../../reconciler/graph.ts';
import { initialStep, SystemRunner, systemStep } from '../../reconciler/system-machine.ts';

const start = (id: string) => node<ComputeSystemNode>({ op: 'start', resource: { kind: 'computeSystem', name: 'web', hcsId: id }, why: { reason: 'notStarted' } });
const wait = node({ op: 'wait', resource: { kind: 'computeSystem', name: 'web' }, why: { reason: 'dependency', waitingFor: ['db'] } });

function harness(fail = false) {
  const runs: ActionNode[][] = [];
  const finishers: Array<() => void> = [];
  const settled: Array<{ name: string; replan: boolean }> = [];
  const signals: AbortSignal[] = [];
  const runner = new SystemRunner('web', {
    runNodes: (_name, nodes, signal) => {
      runs.push(nodes);
      signals.push(signal);
      if (fail) return Promise.reject(new Error('boom'));
      return new Promise<NodeResult<ActionNode>[]>((resolve) => finishers.push(() => resolve(nodes.map((n) => ({ node: n, status: 'done' as const })))));
    },
    settled: (name, replan) => void settled.push({ name, replan }),
  });
  return { runner, runs, finishers, settled, signals };
}

const flush = () => new Promise((r) => setImmediate(r));

test('system machine: runs its initial nodes (waits filtered out), then settles', async () => {
  const h = harness();
  h.runner.start([wait, start('a')]);
  assert.equal(h.runner.state.phase, 'working');
  assert.deepEqual(h.runs.map((r) => r.map((x) => x.id)), [['start:a']]);
  assert.equal(h.settled.length, 0, 'starting with nodes is no settle');
  h.finishers.shift()!();
  await flush();
  assert.equal(h.runner.state.phase, 'idle');
  assert.deepEqual(h.settled, [{ name: 'web', replan: false }]);
});

test('system machine: an apply while working is remembered and turned into a replan, not lost or run stale', async () => {
  const h = harness();
  h.runner.start();
  assert.deepEqual(h.settled, [{ name: 'web', replan: false }], 'nothing to run: settled at once');
  h.runner.send({ type: 'apply', nodes: [start('a')] });
  assert.equal(h.runner.state.phase, 'working');
  h.runner.send({ type: 'apply', nodes: [start('b')] });
  assert.deepEqual(h.runner.state.pending?.map((x) => x.id), ['start:b'], 'remembered');
  h.finishers.shift()!();
  await flush();
  assert.equal(h.runner.state.phase, 'idle');
  assert.deepEqual(h.settled.at(-1), { name: 'web', replan: true }, 'the controller is asked for a fresh plan');
  assert.equal(h.runs.length, 1, 'the stale nodes were not run');
  h.runner.send({ type: 'apply', nodes: [start('c')] });
  assert.deepEqual(h.runs.at(-1)?.map((x) => x.id), ['start:c']);
});

test('system machine: a run that rejects still settles', async () => {
  const h = harness(true);
  h.runner.start([start('a')]);
  await flush();
  assert.equal(h.runner.state.phase, 'idle');
  assert.deepEqual(h.settled, [{ name: 'web', replan: false }]);
});

test('system machine: stop aborts the run in flight, and a stopped runner takes no step', async () => {
  const h = harness();
  h.runner.start([start('a')]);
  assert.equal(h.signals[0]!.aborted, false);
  h.runner.stop();
  assert.equal(h.signals[0]!.aborted, true);
  h.finishers.shift()!();
  await flush();
  assert.equal(h.runner.state.phase, 'working');
  assert.equal(h.settled.length, 0);
});

test('system machine: the step function is pure and total', () => {
  const idle = initialStep().state;
  const working = systemStep(idle, { type: 'apply', nodes: [wait, start('a')] });
  assert.deepEqual(working.run?.map((x) => x.id), ['start:a']);
  assert.deepEqual(idle, { phase: 'idle', nodes: [] }, 'the old state is not changed');
  assert.deepEqual(systemStep(idle, { type: 'done' }), { state: idle }, 'a stray done in idle changes nothing');
  const pending = systemStep(working.state, { type: 'apply', nodes: [start('b')] });
  assert.equal(pending.run, undefined);
  assert.deepEqual(systemStep(pending.state, { type: 'done' }).settled, { replan: true });
});
