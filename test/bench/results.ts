/**
 * Result records, statistics helpers, the printed table and the JSON file of `npm run bench`.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';

/** One measured figure. `target` is a human-readable bound, `met` whether the value meets it. */
export interface BenchResult {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  target?: string;
  met?: boolean;
}

/** Run-wide settings handed to every scenario. */
export interface BenchMode {
  /** Smaller sizes and shorter windows (under 2 minutes). */
  quick: boolean;
  /** Tiny sizes for the test-suite smoke run (seconds). */
  smoke: boolean;
}

/** Build a result; `max`/`min` set the target and `met`. */
export function result(scenario: string, metric: string, value: number, unit: string, bound?: { max?: number; min?: number }): BenchResult {
  const r: BenchResult = { scenario, metric, value: round(value), unit };
  if (bound?.max !== undefined) return { ...r, target: `<= ${bound.max} ${unit}`, met: value <= bound.max };
  if (bound?.min !== undefined) return { ...r, target: `>= ${bound.min} ${unit}`, met: value >= bound.min };
  return r;
}

function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  return Math.abs(v) >= 100 ? Math.round(v * 10) / 10 : Math.round(v * 1000) / 1000;
}

/** The q-quantile (0..1) of `values`, nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Median of `values`. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}

/** Print the results as an aligned table. */
export function printTable(results: readonly BenchResult[]): void {
  const rows = results.map((r) => [r.scenario, r.metric, `${r.value} ${r.unit}`, r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
  const head = ['scenario', 'metric', 'value', 'target', 'met?'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/** Print the results as a Markdown table (for the README's Performance section). */
export function markdownTable(results: readonly BenchResult[]): string {
  const out = ['| scenario | metric | value | target | met? |', '|---|---|---|---|---|'];
  for (const r of results) out.push(`| ${r.scenario} | ${r.metric} | ${r.value} ${r.unit} | ${r.target ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`);
  return out.join('\n');
}

/** Write the machine-readable results. */
export function writeJson(path: string, startedAt: string, mode: BenchMode, results: readonly BenchResult[]): void {
  const doc = {
    startedAt,
    quick: mode.quick,
    ...(mode.smoke ? { smoke: true } : {}),
    machine: { cpus: availableParallelism(), cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
    results,
  };
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
}
