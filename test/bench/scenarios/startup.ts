/**
 * Scenario `startup`: wall time of the installed command (the compiled package in dist/, plain
 * node, as `npx hcs-reconciler` runs it) against `node -e 0`, pair by pair in the same run so
 * the machine's load hits both alike. Whole process, spawn to exit; median of 10 (3 in --smoke).
 * Needs `npm run build` (dist/); the emulator is not involved.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { median, result, type BenchMode, type BenchResult } from '../results.ts';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = 'dist/src/cli/bin.mjs';

/** The commands timed, with the ratio each must stay under. */
const COMMANDS: Array<{ args: string[]; maxRatio: number }> = [
  { args: ['--version'], maxRatio: 2 },
  { args: ['validate', 'manifests'], maxRatio: 3 },
  { args: ['--help'], maxRatio: 2 },
];

function wallMs(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, UV_THREADPOOL_SIZE: undefined } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return ms;
}

/** Start-up time of each command and its ratio to `node -e 0`. */
export async function runStartup(mode: BenchMode): Promise<BenchResult[]> {
  // Without a build (a smoke run on a bare checkout) the sources are timed through tsx, untargeted.
  const compiled = existsSync(`${root}/${BIN}`);
  if (!compiled && !mode.smoke) throw new Error(`startup: ${BIN} is missing; run "npm run build" first`);
  const bin = compiled ? BIN : 'src/cli/bin.mjs';
  const rounds = mode.smoke ? 3 : 10;
  const out: BenchResult[] = [];
  for (const c of COMMANDS) {
    const base: number[] = [];
    const cmd: number[] = [];
    wallMs(['-e', '0']);
    wallMs([bin, ...c.args]); // warm the OS file cache, not counted
    for (let i = 0; i < rounds; i++) {
      base.push(wallMs(['-e', '0']));
      cmd.push(wallMs([bin, ...c.args]));
    }
    const scenario = `startup hcs-reconciler ${c.args.join(' ')}${compiled ? '' : ' (sources, tsx)'}`;
    out.push(
      result(scenario, `wall, median of ${rounds}`, median(cmd), 'ms'),
      result(scenario, `node -e 0 in the same pairs, median`, median(base), 'ms'),
      result(scenario, 'ratio to node -e 0', median(cmd) / median(base), '×', compiled ? { max: c.maxRatio } : undefined),
    );
  }
  return out;
}
