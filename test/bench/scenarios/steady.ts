/**
 * Scenario 4, steady state: N systems converged, nothing changes. CPU time of one resync (folder
 * rescan + HCS relist + plan, the work the 30 s timer does), and CPU over an idle window with the
 * default timers, for this process (controller + watcher) and for the emulator service.
 */
import { join } from 'node:path';
import { converged, startStack, writeManifests, type Rig } from '../rig.ts';
import { median, result, type BenchMode, type BenchResult } from '../results.ts';

/** Resync CPU and idle CPU with N converged systems. */
export async function runSteady(rig: Rig, mode: BenchMode): Promise<BenchResult[]> {
  const n = mode.smoke ? 5 : 1000;
  const idleMs = mode.smoke ? 1000 : mode.quick ? 10_000 : 60_000;
  const scenario = `steady ${n} systems`;
  await rig.emu.control.reset();
  const stack = await startStack(rig, { manifests: writeManifests(join(rig.dir, `steady-${n}`), n) });
  try {
    await converged(stack.controller, 300_000, () => stack.controller.status().systems.filter((s) => s.actual === 'Running').length === n);
    await new Promise((r) => setTimeout(r, 500));
    const parsed0 = stack.source.stats().filesParsed;
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let i = 0; i < (mode.smoke ? 3 : 15); i++) {
      const [c, w] = await oneResync(stack);
      cpu.push(c);
      wall.push(w);
    }
    const reparsed = stack.source.stats().filesParsed - parsed0;
    const idle = await idleWindow(rig, idleMs);
    return [
      result(scenario, 'CPU per resync (median)', median(cpu), 'ms', { max: 50 }),
      result(scenario, 'wall per resync (median)', median(wall), 'ms'),
      result(scenario, 'files re-parsed by resyncs', reparsed, 'files', { max: 0 }),
      result(scenario, `idle CPU over ${idleMs / 1000} s (controller)`, idle.controller, '%', { max: 0.3 }),
      result(scenario, `idle CPU over ${idleMs / 1000} s (emulator)`, idle.emulator, '%'),
    ];
  } finally {
    await stack.dispose();
    await rig.emu.control.reset();
  }
}

/** One resync as the periodic timers do it: rescan the folder, then a reconcile pass. */
async function oneResync(stack: Awaited<ReturnType<typeof startStack>>): Promise<[number, number]> {
  const passes = stack.controller.status().passes;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await stack.source.rescan();
  const done = stack.controller.waitForPass(() => stack.controller.status().passes > passes, 30_000);
  stack.controller.reconcile();
  await done;
  const c = process.cpuUsage(c0);
  return [(c.user + c.system) / 1000, performance.now() - t0];
}

async function idleWindow(rig: Rig, ms: number): Promise<{ controller: number; emulator: number }> {
  const c0 = process.cpuUsage();
  const e0 = rig.serviceCpuMs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { controller: ((c.user + c.system) / 1000 / wall) * 100, emulator: ((rig.serviceCpuMs() - e0) / wall) * 100 };
}
