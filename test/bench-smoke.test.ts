/**
 * Smoke run of the benchmark harness (test/bench, not part of `npm test` itself): `--smoke` uses
 * N = 5 and a few writes, so it takes seconds. Checks that every scenario reports numbers.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('bench harness --smoke: every scenario, numeric values, JSON shape', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const out = join(dir, 'results.json');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/bench/main.ts', '--smoke', '--out', out], { cwd: root, encoding: 'utf8', timeout: 110_000 });
    assert.equal(r.status, 0, `bench exited ${r.status}: ${r.stderr}`);
    const doc = JSON.parse(readFileSync(out, 'utf8')) as { startedAt: string; quick: boolean; machine: { cpus: number; node: string }; results: Array<{ scenario: string; metric: string; value: unknown; unit: string }> };
    assert.equal(typeof doc.startedAt, 'string');
    assert.equal(doc.quick, false);
    assert.ok(doc.machine.cpus > 0 && doc.machine.node.startsWith('v'));
    for (const prefix of ['latency', 'converge', 'burst', 'steady', 'memory', 'ffi', 'startup']) {
      assert.ok(doc.results.some((x) => x.scenario.startsWith(prefix)), `no ${prefix} results`);
    }
    for (const x of doc.results) assert.ok(typeof x.value === 'number' && Number.isFinite(x.value), `${x.scenario} / ${x.metric}: ${String(x.value)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
