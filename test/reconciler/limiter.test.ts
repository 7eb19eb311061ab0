import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { Limiter } from '../../reconciler/limiter.ts';

/** A job that records the peak number of jobs running at once and finishes when told to. */
function tracker() {
  let active = 0;
  let peak = 0;
  const job = (done: Promise<void>) => async () => {
    active++;
    peak = Math.max(peak, active);
    await done;
    active--;
  };
  return { job, peak: () => peak };
}

test('limiter: a caller arriving in the gap after a release does not get a second slot', async () => {
  // The gap between a release and the queued job taking its slot is a few microtasks wide;
  // try every offset so that one of them lands in it.
  for (let offset = 0; offset < 10; offset++) {
    const limiter = new Limiter(1);
    const t = tracker();
    let release!: () => void;
    const first = limiter.run(t.job(new Promise<void>((r) => (release = r))));
    const second = limiter.run(t.job(new Promise<void>((r) => setImmediate(r))));
    release();
    for (let k = 0; k < offset; k++) await Promise.resolve();
    const third = limiter.run(t.job(new Promise<void>((r) => setImmediate(r))));
    await Promise.all([first, second, third]);
    assert.equal(t.peak(), 1, `offset ${offset}: limit 1 ran ${t.peak()} jobs at once`);
    assert.equal(limiter.running, 0);
    assert.equal(limiter.queued, 0);
  }
});

test('limiter: many callers at every microtask offset stay within the limit, in FIFO order', async () => {
  for (let offset = 0; offset < 6; offset++) {
    const limiter = new Limiter(2);
    const t = tracker();
    const order: number[] = [];
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) {
      jobs.push(limiter.run(async () => {
        order.push(i);
        await t.job(Promise.resolve())();
      }));
      for (let k = 0; k < offset; k++) await Promise.resolve();
    }
    await Promise.all(jobs);
    assert.ok(t.peak() <= 2, `offset ${offset}: peak ${t.peak()}`);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7]);
  }
});

test('limiter: a failing job releases its slot', async () => {
  const limiter = new Limiter(1);
  await assert.rejects(limiter.run(() => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await limiter.run(async () => 42), 42);
  assert.equal(limiter.running, 0);
  assert.throws(() => new Limiter(0), RangeError);
});

test('limiter: a bounded wait gives up on the injected clock, leaves the queue, and a slot handed over first wins', async () => {
  const clock = new SimulatedClock();
  const limiter = new Limiter(1);
  let release!: () => void;
  const holder = limiter.run(() => new Promise<void>((r) => { release = r; }));
  const wait = { ms: 10_000, clock, onTimeout: () => new Error('no slot') };
  const gaveUp = limiter.run(async () => 'listed', wait);
  assert.equal(limiter.queued, 1);
  clock.increment(9_999);
  await Promise.resolve();
  assert.equal(limiter.queued, 1, 'still waiting before the deadline');
  clock.increment(1);
  await assert.rejects(gaveUp, /no slot/);
  assert.equal(limiter.queued, 0, 'a caller that gave up is no longer queued');
  // The next waiter gets the slot when it is released before its deadline; the timer is then moot.
  const served = limiter.run(async () => 'listed', wait);
  release();
  await holder;
  assert.equal(await served, 'listed');
  clock.increment(20_000);
  assert.equal(limiter.running, 0);
});
