/** The controller machine alone: passes, coalesced triggers, list failures, the wake timer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { controllerMachine, type PassResult } from '../../reconciler/controller-machine.ts';

function harness(opts: { fail?: () => boolean } = {}) {
  const clock = new SimulatedClock();
  const finishers: Array<() => void> = [];
  let passes = 0;
  const done: number[] = [];
  const machine = controllerMachine.provide({
    actors: {
      pass: fromPromise<PassResult>(() => {
        passes++;
        return new Promise((resolve, reject) => finishers.push(() => (opts.fail?.() ? reject(new Error('HCS down')) : resolve({ observed: { groups: new Map(), unrecognised: [] }, plan: { nodes: [], converged: true } }))));
      }),
    },
    actions: { passDone: () => void done.push(passes) },
    delays: { wake: 1_000, listRetry: 500 },
  });
  const actor = createActor(machine, { clock });
  actor.start();
  return { actor, clock, finishers, passes: () => passes, done };
}

const flush = () => new Promise((r) => setImmediate(r));

test('controller machine: nothing before the first snapshot; triggers during a pass cost one more pass', async () => {
  const h = harness();
  h.actor.send({ type: 'reconcile' });
  assert.equal(h.passes(), 0, 'no pass before the first snapshot');
  h.actor.send({ type: 'snapshot' });
  assert.equal(h.passes(), 1);
  h.actor.send({ type: 'reconcile' });
  h.actor.send({ type: 'system.settled', name: 'web' });
  h.actor.send({ type: 'snapshot' });
  h.finishers.shift()!();
  await flush();
  assert.equal(h.passes(), 2, 'three triggers during the pass: exactly one more pass');
  h.finishers.shift()!();
  await flush();
  assert.equal(h.actor.getSnapshot().value, 'idle');
  h.clock.increment(999);
  assert.equal(h.passes(), 2);
  h.clock.increment(1);
  assert.equal(h.passes(), 3, 'the wake delay starts a pass');
  h.actor.stop();
});

test('controller machine: a failed listing retries after listRetry, or at once on a settle', async () => {
  let failing = true;
  const h = harness({ fail: () => failing });
  h.actor.send({ type: 'snapshot' });
  h.finishers.shift()!();
  await flush();
  assert.equal(h.actor.getSnapshot().value, 'listFailed');
  h.clock.increment(500);
  assert.equal(h.passes(), 2, 'retried after listRetry');
  h.finishers.shift()!();
  await flush();
  failing = false;
  h.actor.send({ type: 'system.settled', name: 'web' });
  assert.equal(h.passes(), 3, 'a settled system is not dropped while listing fails');
  h.finishers.shift()!();
  await flush();
  assert.deepEqual(h.done, [3]);
  h.actor.stop();
});
