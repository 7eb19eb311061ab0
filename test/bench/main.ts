/**
 * `npm run bench -- [--quick] [--smoke] [--out results.json] [--only name,...]`: the controller's
 * benchmarks on the emulator through the real koffi binding (see PERFORMANCE.md). Prints a table
 * and writes the results as JSON. Scenarios: latency, converge, burst, steady, memory, ffi, startup, noisy, image, relay.
 */
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRig, type Rig } from './rig.ts';
import { markdownTable, printTable, writeJson, type BenchMode, type BenchResult } from './results.ts';
import { runBurst } from './scenarios/burst.ts';
import { runConverge } from './scenarios/converge.ts';
import { runFfi } from './scenarios/ffi.ts';
import { runImage } from './scenarios/image.ts';
import { runLatency } from './scenarios/latency.ts';
import { runMemory } from './scenarios/memory.ts';
import { runSteady } from './scenarios/steady.ts';
import { runNoisy } from './scenarios/noisy.ts';
import { runStartup } from './scenarios/startup.ts';
import { runRelay } from './scenarios/relay.ts';

/** Every scenario by name, in run order. */
export const SCENARIOS: Record<string, (rig: Rig, mode: BenchMode) => Promise<BenchResult[]>> = {
  latency: runLatency,
  converge: (rig, mode) => runConverge(rig, mode),
  burst: runBurst,
  steady: runSteady,
  memory: runMemory,
  ffi: runFfi,
  noisy: runNoisy,
  startup: (_rig, mode) => runStartup(mode),
  image: runImage,
  relay: runRelay,
};

/** Scenarios that need no emulator: when only these run, no rig is started. */
const WITHOUT_RIG = new Set(['startup']);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench-results.json' },
      only: { type: 'string' },
      markdown: { type: 'boolean', default: false },
    },
  });
  const names = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS);
  const unknown = names.filter((n) => !SCENARIOS[n]);
  if (unknown.length > 0) {
    console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    return 64;
  }
  const mode: BenchMode = { quick: values.quick === true, smoke: values.smoke === true };
  // The converge scenario reports where time goes between calls from the emulator library's
  // completion trace (read when its first completion starts the callback threads: set it now).
  const traceFile = names.includes('converge') && !mode.smoke && !process.env.HCSEMU_DISPATCH_TRACE ? join(tmpdir(), `hcs-bench-dispatch-${process.pid}.log`) : undefined;
  if (traceFile) process.env.HCSEMU_DISPATCH_TRACE = traceFile;
  const startedAt = new Date().toISOString();
  const results: BenchResult[] = [];
  const rig = names.every((n) => WITHOUT_RIG.has(n)) ? undefined : await startRig();
  try {
    for (const name of names) {
      const t0 = performance.now();
      results.push(...(await SCENARIOS[name]!(rig as Rig, mode)));
      console.error(`bench: ${name} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
  } finally {
    await rig?.stop();
    if (traceFile) rmSync(traceFile, { force: true });
  }
  printTable(results);
  if (values.markdown) console.log(`\n${markdownTable(results)}`);
  writeJson(values.out!, startedAt, mode, results);
  console.error(`bench: results written to ${values.out}`);
  return 0;
}

process.env.UV_THREADPOOL_SIZE ??= '16';
// Exit explicitly: the emulator service is a child that exits with this process (see rig.ts).
main().then((code) => process.exit(code), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
