// EventHistory's two limits: per system and overall, oldest dropped first, in O(1) per record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventHistory } from '../../reconciler/history.ts';

test('past the overall cap the oldest events overall go first, whatever system they belong to', () => {
  const h = new EventHistory(() => 0, 3, 5);
  for (let i = 0; i < 4; i++) h.record('a', 'created', `a${i}`); // a's own limit drops a0
  assert.deepEqual(h.list('a').map((e) => e.message), ['a1', 'a2', 'a3']);
  h.record('b', 'created', 'b0');
  h.record('b', 'started', 'b1');
  h.record('c', 'created', 'c0'); // 6 kept > 5: a1 goes (a0 is already gone and is skipped)
  assert.deepEqual(h.list().map((e) => e.message), ['a2', 'a3', 'b0', 'b1', 'c0']);
  h.record('c', 'started', 'c1');
  h.record('c', 'exited', 'c2');
  assert.deepEqual(h.list().map((e) => e.message), ['b0', 'b1', 'c0', 'c1', 'c2']);
  assert.equal(h.first('a'), undefined);
});

test('a long run with many systems keeps exactly the newest events within both limits', () => {
  const perSystem = 7;
  const total = 50;
  const h = new EventHistory(() => 0, perSystem, total);
  const all: Array<{ system: string; seq: number }> = [];
  let state = 12345;
  for (let i = 0; i < 20_000; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const system = `s${state % (i < 10_000 ? 3 : 40)}`; // first few systems (per-system drops), then many (overall drops)
    all.push({ system, seq: h.record(system, 'created', String(i)).seq });
  }
  // The model: keep each system's newest `perSystem`, then the newest `total` of those... applied
  // incrementally, which is the same as: walk backwards, keep an event while its system has fewer
  // than perSystem kept and fewer than total are kept overall.
  const kept: number[] = [];
  const counts = new Map<string, number>();
  for (let i = all.length - 1; i >= 0 && kept.length < total; i--) {
    const n = counts.get(all[i]!.system) ?? 0;
    if (n < perSystem) {
      counts.set(all[i]!.system, n + 1);
      kept.unshift(all[i]!.seq);
    }
  }
  assert.deepEqual(h.list().map((e) => e.seq), kept);
});
