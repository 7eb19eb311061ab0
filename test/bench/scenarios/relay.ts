/**
 * Scenario `relay`: what one log relay costs (src/cli/relay.ts, one per container entrypoint).
 * For each variant, 10 relays are started one after another against 10 running emulated
 * containers whose entrypoint prints a line every 50 ms: start-to-first-line latency (spawn of
 * the relay until the entrypoint's first record is in its log file) and the RSS of each relay
 * once all 10 run (/proc/<pid>/status). Baselines from the same run, interleaved with the relay
 * starts so the machine's load hits both alike: `node -e 0` (spawn to exit) for the latency, an
 * idle `node -e "setInterval(…)"` for the RSS.
 *
 * Variants: the relay as it runs (compiled JavaScript, RELAY_FLAGS: dist/ when it is built from
 * the current sources, else the esbuild bundle of the sources) and, not in --smoke, the same with
 * default V8 flags, through the Windows launcher (one more short-lived node in between), and the
 * sources through the tsx loader (how the previous relay ran; its readers were worker threads,
 * these are pool threads, so it measures the loader's share only).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnRelay } from '../../../src/cli/capture-hcs.ts';
import { RELAY_FLAGS, relayCommand, type RelayCommand } from '../../../src/cli/relay-entry.ts';
import { NativeHcsClient, type NativeHcsSystem } from '../../../src/hcs/index.ts';
import { generationPath } from '../../../src/logs/writer.ts';
import { OWNER, procRssBytes, type Rig } from '../rig.ts';
import { median, result, type BenchMode, type BenchResult } from '../results.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const MB = 1024 * 1024;
const DIST_MAIN = join(root, 'dist/src/cli/relay-main.mjs');
const DIST_BUNDLE = join(root, 'dist/src/cli/relay.bundle.mjs');

interface Variant {
  name: string;
  command: RelayCommand;
  launcher: boolean;
}

/** dist/'s relay when it is built from the current sources, else the bundle of the sources. */
async function currentRelay(): Promise<{ command: RelayCommand; how: string }> {
  const { bundleRelay } = await import('../../../src/cli/relay-bundle.mjs');
  const fresh = existsSync(DIST_BUNDLE) && Buffer.from((await bundleRelay()).code).equals(readFileSync(DIST_BUNDLE));
  if (fresh) return { command: { flags: RELAY_FLAGS, main: DIST_MAIN, args: [] }, how: 'dist/' };
  return { command: await relayCommand(), how: existsSync(DIST_BUNDLE) ? 'bundle of the sources; dist/ is stale' : 'bundle of the sources' };
}

async function variants(mode: BenchMode): Promise<Variant[]> {
  const { command: current, how } = await currentRelay();
  const list: Variant[] = [{ name: `compiled (${how}), ${RELAY_FLAGS.join(' ')}`, command: current, launcher: false }];
  if (!mode.smoke) {
    list.push(
      { name: `compiled (${how}), default V8 flags`, command: { ...current, flags: [] }, launcher: false },
      { name: `compiled (${how}), through the --launch intermediate (Windows)`, command: current, launcher: true },
    );
    const sources = { flags: ['--import', 'tsx', ...RELAY_FLAGS], main: join(root, 'src/cli/relay-main.mjs'), args: [`--module=${pathToFileURL(join(root, 'src/cli/relay.ts')).href}`] };
    list.push({ name: 'sources through tsx (the previous relay)', command: sources, launcher: false });
  }
  return list;
}

function nodeE0Ms(): number {
  const t0 = performance.now();
  spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
  return performance.now() - t0;
}

/** RSS of an idle node process (the floor any node relay stands on). */
async function idleNodeRssMb(): Promise<number> {
  const child = spawn(process.execPath, ['-e', "process.stdout.write('up'); setInterval(() => {}, 1e9)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  await new Promise((r) => setTimeout(r, 300));
  const rss = procRssBytes(child.pid!) / MB;
  child.kill();
  return rss;
}

async function firstLine(path: string, deadline: number): Promise<number> {
  for (;;) {
    try {
      if (readFileSync(path, 'utf8').includes('\n')) return performance.now();
    } catch {
      // not created yet
    }
    if (Date.now() > deadline) throw new Error(`relay bench: no line in ${path}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function measure(rig: Rig, hcs: NativeHcsClient, v: Variant, index: number, n: number): Promise<{ latency: number[]; base: number[]; rss: number[] }> {
  const systems: NativeHcsSystem[] = [];
  const latency: number[] = [];
  const base: number[] = [];
  const relays: number[] = [];
  const logDir = join(rig.dir, `relay-${index}`);
  mkdirSync(logDir, { recursive: true });
  try {
    for (let i = 0; i < n; i++) {
      const id = `relay-${index}-${i}`;
      const sys = (await hcs.create(id, { Owner: OWNER, SchemaVersion: { Major: 2, Minor: 1 }, Container: {} })) as NativeHcsSystem;
      systems.push(sys);
      await sys.start();
      base.push(nodeE0Ms());
      const t0 = performance.now();
      const parameters = { CommandLine: 'app.exe', Environment: { HCSEMU_PRINT_EVERY_MS: '50' } };
      const report = await spawnRelay(
        { libraryPath: rig.native.libraryPath, systemId: id, parameters, logDir, rotation: { maxBytes: 10 * MB, maxFiles: 2 }, timeoutMs: 60_000 },
        { env: process.env, launcher: v.launcher, command: v.command }, 60_000,
      );
      if ('error' in report) throw new Error(`relay bench: ${report.error}`);
      relays.push(report.relay ?? 0);
      latency.push((await firstLine(generationPath(logDir, id, 1), Date.now() + 60_000)) - t0);
    }
    await new Promise((r) => setTimeout(r, 1000)); // all 10 copying, past their start-up allocations
    return { latency, base, rss: relays.map((pid) => procRssBytes(pid) / MB) };
  } finally {
    for (const s of systems) await s.terminate().catch(() => {}); // the entrypoints exit, so the relays do
    await hcs.close();
  }
}

/** Latency and RSS per relay, per variant, with their baselines. */
export async function runRelay(rig: Rig, mode: BenchMode): Promise<BenchResult[]> {
  const n = mode.smoke ? 2 : 10;
  const out: BenchResult[] = [];
  const list = await variants(mode);
  nodeE0Ms(); // warm the file cache
  for (const [index, v] of list.entries()) {
    const { latency, base, rss } = await measure(rig, new NativeHcsClient(rig.native), v, index, n);
    const idle = await idleNodeRssMb();
    const scenario = `relay: ${v.name}`;
    const primary = index === 0;
    out.push(
      result(scenario, `start to first line, median of ${n}`, median(latency), 'ms'),
      result(scenario, 'node -e 0 in the same run, median', median(base), 'ms'),
      result(scenario, 'latency ratio to node -e 0', median(latency) / median(base), '×', primary && !mode.smoke ? { max: 4 } : undefined),
      result(scenario, `RSS per relay, median of ${n} running`, median(rss), 'MB'),
      result(scenario, `RSS per relay, max of ${n}`, Math.max(...rss), 'MB'),
      result(scenario, 'idle node RSS in the same run', idle, 'MB'),
      result(scenario, 'RSS ratio to idle node', median(rss) / idle, '×', primary && !mode.smoke ? { max: 1.6 } : undefined),
    );
  }
  return out;
}
