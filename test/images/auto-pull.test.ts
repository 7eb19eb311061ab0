/** AutoPuller with injected timers and a scripted puller: status texts, backoff doubling, permanent errors, one pull at a time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AutoPuller } from '../../src/images/auto-pull.ts';
import type { EnsureResult, ImageObservation, ImagePuller } from '../../src/images/puller.ts';

function harness(results: EnsureResult[]) {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  let changes = 0;
  const calls: string[] = [];
  const pending: ((r: EnsureResult) => void)[] = [];
  const puller = {
    ensure: (ref: string, policy: string) => {
      calls.push(`${ref} ${policy}`);
      return new Promise<EnsureResult>((resolve) => pending.push(resolve));
    },
    observe: async (refs: string[]): Promise<ImageObservation[]> => refs.map((reference) => ({ reference, state: 'Pulling', doneBytes: 5e6, totalBytes: 20e6 })),
  } as unknown as ImagePuller;
  const auto = new AutoPuller(puller, {
    onChange: () => changes++,
    now: () => now,
    setTimer: (fn, ms) => {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return { dispose: () => (t.live = false) };
    },
  });
  const settle = async () => {
    pending.shift()!(results.shift()!);
    await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    now += ms;
    for (const t of timers.filter((x) => x.live && x.at <= now)) {
      t.live = false;
      t.fn();
    }
    await new Promise((r) => setImmediate(r));
  };
  return { auto, calls, settle, advance, changes: () => changes };
}

test('a failing pull is retried with doubling backoff and reports the registry text; success clears it', async () => {
  const h = harness([
    { ok: false, permanent: false, error: 'r/x:1: manifest 1: 503 UNAVAILABLE: try later' },
    { ok: false, permanent: false, error: 'r/x:1: manifest 1: 503 UNAVAILABLE: try later' },
    { ok: true, pulled: true, record: {} as never },
  ]);
  assert.equal(h.auto.want('r/x:1', 'IfNotPresent'), 'Pulling r/x:1: starting');
  assert.equal(h.auto.want('r/x:1', 'IfNotPresent'), 'Pulling r/x:1: starting', 'one pull at a time');
  assert.equal(h.calls.length, 1);
  await h.advance(2000); // the progress refresh
  assert.equal(h.auto.want('r/x:1', 'IfNotPresent'), 'Pulling r/x:1: 5.0 of 20.0 MB');
  await h.settle();
  assert.equal(h.auto.want('r/x:1', 'IfNotPresent'), 'image r/x:1: pull failed (attempt 1, retry in 1s): r/x:1: manifest 1: 503 UNAVAILABLE: try later');
  assert.equal(h.calls.length, 1, 'not before the backoff ends');
  await h.advance(1000);
  assert.equal(h.auto.want('r/x:1', 'IfNotPresent'), 'Pulling r/x:1: starting');
  assert.equal(h.calls.length, 2);
  await h.settle();
  assert.match(h.auto.want('r/x:1', 'IfNotPresent'), /attempt 2, retry in 2s/);
  await h.advance(2000);
  h.auto.want('r/x:1', 'IfNotPresent');
  await h.settle();
  assert.deepEqual(h.auto.wanted(), [], 'pulled: nothing is wanted any more');
  assert.ok(h.changes() >= 3, 'each outcome makes the manifests be read again');
  h.auto.dispose();
});

test('a permanent failure is not retried and says so', async () => {
  const h = harness([{ ok: false, permanent: true, error: 'r/old:1: no image for this host (windows/amd64 10.0.20348.1); the index offers windows/amd64 10.0.17763.1' }]);
  h.auto.want('r/old:1', 'IfNotPresent');
  await h.settle();
  const text = h.auto.want('r/old:1', 'IfNotPresent');
  assert.equal(text, 'image r/old:1: r/old:1: no image for this host (windows/amd64 10.0.20348.1); the index offers windows/amd64 10.0.17763.1 (permanent; fix the manifest)');
  await h.advance(3_600_000);
  h.auto.want('r/old:1', 'IfNotPresent');
  assert.equal(h.calls.length, 1);
  h.auto.dispose();
});

test('Always re-resolves a stored image at most once a minute; only a moved tag makes the manifests be read again', async () => {
  const h = harness([
    { ok: true, pulled: false, record: {} as never },
    { ok: true, pulled: true, record: {} as never },
  ]);
  h.auto.refresh('r/x:latest');
  h.auto.refresh('r/x:latest');
  assert.deepEqual(h.calls, ['r/x:latest Always']);
  await h.settle();
  assert.equal(h.changes(), 0, 'unchanged tag');
  await h.advance(60_000);
  h.auto.refresh('r/x:latest');
  assert.equal(h.calls.length, 2);
  await h.settle();
  assert.equal(h.changes(), 1, 'the tag moved');
  h.auto.dispose();
});
