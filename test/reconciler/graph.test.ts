import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chain, dependencyOrder, node, nodeJson, runGraph, type ComputeSystemNode, type PlanNode } from '../../reconciler/graph.ts';
import { causeOf } from '../../reconciler/reasons.ts';

function n(id: string, deps: string[] = []): ComputeSystemNode {
  return node<ComputeSystemNode>({ op: 'start', resource: { kind: 'computeSystem', name: id, hcsId: id }, why: { reason: 'notStarted' }, deps });
}

test('node: id, reason and cause derive from the op, resource and typed reason', () => {
  const x = node<ComputeSystemNode>({ op: 'stop', stopTimeoutMs: 1, resource: { kind: 'computeSystem', name: 'web', hcsId: 'web-0123456789ab' }, why: { reason: 'configChanged', from: 'a', to: 'b' } });
  assert.deepEqual(nodeJson(x), { id: 'stop:web-0123456789ab', resource: { kind: 'computeSystem', name: 'web', hcsId: 'web-0123456789ab' }, op: 'stop', reason: 'configChanged', cause: 'config hash changed a→b', deps: [] });
  assert.equal(causeOf({ reason: 'backoff', retryInMs: 40_000, after: { kind: 'exit', restarts: 3 } }), 'exited unexpectedly (restart 3, backoff 40s)');
  assert.equal(causeOf({ reason: 'backoff', retryInMs: 1_000, after: { kind: 'failure', op: 'start', message: 'boom' } }), 'start failed: boom; retry in 1s');
});

test('chain and dependencyOrder: every node after its deps', () => {
  const [a, b, c] = chain([n('a'), n('b'), n('c')]);
  assert.deepEqual([a!.deps, b!.deps, c!.deps], [[], ['start:a'], ['start:b']]);
  assert.deepEqual(dependencyOrder([c!, a!, b!]).map((x) => x.id), ['start:a', 'start:b', 'start:c']);
});

test('runGraph: ready nodes run with bounded concurrency, deps first', async () => {
  const nodes: PlanNode[] = [n('a'), n('b'), n('c'), n('d', ['start:a', 'start:b']), n('e')];
  let active = 0;
  let peak = 0;
  const order: string[] = [];
  const results = await runGraph(nodes, {
    concurrency: 2,
    run: async (x) => {
      active++;
      peak = Math.max(peak, active);
      order.push(x.id);
      await new Promise((r) => setImmediate(r));
      active--;
    },
  });
  assert.equal(peak, 2);
  assert.equal(results.length, 5);
  assert.ok(results.every((r) => r.status === 'done'));
  assert.ok(order.indexOf('start:d') > order.indexOf('start:a') && order.indexOf('start:d') > order.indexOf('start:b'));
});

test('runGraph: a failed node stops its branch, other branches go on', async () => {
  const nodes: PlanNode[] = [n('a'), n('b', ['start:a']), n('c', ['start:b']), n('x'), n('y', ['start:x'])];
  const ran: string[] = [];
  const results = await runGraph(nodes, {
    concurrency: 4,
    run: async (x) => {
      ran.push(x.id);
      if (x.id === 'start:a') throw new Error('boom');
    },
  });
  assert.deepEqual(ran.sort(), ['start:a', 'start:x', 'start:y']);
  const by = new Map(results.map((r) => [r.node.id, r]));
  assert.equal(by.get('start:a')?.status, 'failed');
  assert.deepEqual([by.get('start:b'), by.get('start:c')].map((r) => r?.status === 'skipped' && r.blockedBy), ['start:a', 'start:b']);
  assert.equal(by.get('start:y')?.status, 'done');
});

test('runGraph: an aborted run starts nothing more', async () => {
  const ac = new AbortController();
  const ran: string[] = [];
  const results = await runGraph(chain([n('a'), n('b')]), { concurrency: 1, signal: ac.signal, run: async (x) => { ran.push(x.id); ac.abort(); } });
  assert.deepEqual(ran, ['start:a']);
  assert.equal(results.find((r) => r.node.id === 'start:b')?.status, 'skipped');
});
