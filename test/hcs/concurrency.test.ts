/**
 * 200 operations in flight at once against a slow emulator (200 ms per call): completions come
 * back through koffi callbacks, the JS event loop stays responsive and the libuv pool is not
 * starved (an fs.readFile completes promptly while they are in flight).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { assertNoLeaks, containerDoc, newClient, startService, type Service } from './harness.ts';

const OPS = 200;
const LATENCY_MS = 200;

describe('concurrency', () => {
  let svc: Service;
  before(async () => {
    svc = await startService();
  });
  after(async () => svc.stop());

  it(`${OPS} operations in flight: low event-loop lag, fs not starved`, async (t) => {
    const hcs = newClient(svc);
    const sys = await hcs.create('slow', containerDoc());
    await sys.start();
    await svc.emu.control.latency({ op: 'GetProperties', ms: LATENCY_MS });

    const lag = monitorEventLoopDelay({ resolution: 5 });
    lag.enable();
    const t0 = performance.now();
    const calls = Array.from({ length: OPS }, () => sys.properties());
    assert.equal(hcs.operationsInFlight, OPS);
    const r0 = performance.now();
    await readFile(fileURLToPath(import.meta.url));
    const readMs = performance.now() - r0;
    assert.ok(hcs.operationsInFlight > 0, 'the read finished while the operations were still in flight');
    const results = await Promise.all(calls);
    const totalMs = performance.now() - t0;
    lag.disable();

    const p50 = lag.percentile(50) / 1e6;
    const p99 = lag.percentile(99) / 1e6;
    const max = lag.max / 1e6;
    const summary = `ops=${OPS} latency=${LATENCY_MS}ms total=${totalMs.toFixed(0)}ms readFile=${readMs.toFixed(1)}ms ` +
      `lag p50=${p50.toFixed(1)}ms p99=${p99.toFixed(1)}ms max=${max.toFixed(1)}ms`;
    t.diagnostic(summary);
    console.log(`# ${summary}`);

    assert.equal(results.length, OPS);
    assert.ok(results.every((p) => p.state === 'Running'));
    assert.ok(totalMs < LATENCY_MS * 5, `all ${OPS} ran concurrently (${totalMs.toFixed(0)} ms)`);
    assert.ok(p99 < 100, `event-loop lag p99 ${p99.toFixed(1)} ms`);
    assert.ok(readMs < 100, `fs.readFile took ${readMs.toFixed(1)} ms`);

    await svc.emu.control.latency({ op: 'GetProperties', ms: 0 });
    await hcs.close();
    await assertNoLeaks(svc);
  });
});
