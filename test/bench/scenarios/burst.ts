/**
 * Scenario 3, burst: a git-sync-style swap (the watched path is a symlink re-pointed atomically
 * with rename) that changes every one of N files at once (new memory size, so every system is
 * re-created). Counts the snapshots the watcher delivers (target 1) and the controller's passes,
 * and times swap → converged. Emulator latency 0.
 */
import { renameSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { converged, startStack, writeManifests, type Rig } from '../rig.ts';
import { result, type BenchMode, type BenchResult } from '../results.ts';

/** Swap a symlinked folder of N manifests for one where all N changed. */
export async function runBurst(rig: Rig, mode: BenchMode): Promise<BenchResult[]> {
  const n = mode.smoke ? 5 : 1000;
  const scenario = `burst swap of ${n} changed files`;
  await rig.emu.control.reset();
  const revA = writeManifests(join(rig.dir, 'burst-rev-a'), n, { memoryMB: 512 });
  const revB = writeManifests(join(rig.dir, 'burst-rev-b'), n, { memoryMB: 1024 });
  const link = join(rig.dir, 'burst-current');
  symlinkSync(revA, link);
  const stack = await startStack(rig, { manifests: link });
  try {
    const allRunning = () => stack.controller.status().systems.filter((s) => s.actual === 'Running').length === n;
    await converged(stack.controller, 300_000, allRunning);
    const snaps0 = stack.snapshots();
    const passes0 = stack.controller.status().passes;
    const parsed0 = stack.source.stats().filesParsed;
    const tmp = join(rig.dir, 'burst-next');
    symlinkSync(revB, tmp);
    const t0 = performance.now();
    renameSync(tmp, link);
    const newHash = () => stack.controller.status().systems.every((s) => s.actual === 'Running' && s.ids.length === 1 && s.ids[0]!.endsWith(s.hash ?? '?'));
    await converged(stack.controller, 300_000, () => stack.snapshots() > snaps0 && allRunning() && newHash());
    const ms = performance.now() - t0;
    return [
      result(scenario, 'snapshots delivered', stack.snapshots() - snaps0, 'snapshots', { max: 1 }),
      result(scenario, 'files parsed', stack.source.stats().filesParsed - parsed0, 'files'),
      result(scenario, 'reconcile passes until converged', stack.controller.status().passes - passes0, 'passes'),
      result(scenario, 'swap → converged (all re-created)', ms, 'ms'),
    ];
  } finally {
    await stack.dispose();
    await rig.emu.control.reset();
  }
}
