/**
 * Scenario "noisy neighbour" (issue 12, finding 9): one manifest file is rewritten every 50 ms
 * (a comment changes, so its spec does not); meanwhile other files are edited (new config hash,
 * so the system is re-created). Measured: write → Start of the new id for the other files, the
 * same quantity as the latency scenario, first without the noise (baseline, same run), then
 * with it. Target: p99 within the same 250 ms as without a noisy neighbour.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { converged, manifestYaml, startStack, sysName, writeManifests, type Rig, type Stack } from '../rig.ts';
import { quantile, result, type BenchMode, type BenchResult } from '../results.ts';

/** p50/p99 of other files' reaction, without and with a noisy neighbour. */
export async function runNoisy(rig: Rig, mode: BenchMode): Promise<BenchResult[]> {
  const base = mode.smoke ? 5 : 50;
  const writes = mode.smoke ? 3 : mode.quick ? 10 : 25;
  await rig.emu.control.reset();
  const folder = writeManifests(join(rig.dir, 'noisy'), base);
  const noisyName = sysName(base);
  writeFileSync(join(folder, `${noisyName}.yaml`), manifestYaml(noisyName));
  const stack = await startStack(rig, { manifests: folder });
  let noise: NodeJS.Timeout | undefined;
  try {
    await converged(stack.controller, 120_000, () => stack.controller.status().systems.filter((s) => s.actual === 'Running').length === base + 1);
    await new Promise((r) => setTimeout(r, 300));
    const epoch = await rig.serviceEpoch();
    const quiet: number[] = [];
    for (let i = 0; i < writes; i++) quiet.push(await timeToStart(rig, stack, epoch, folder, sysName(i), 1024));
    let n = 0;
    const yaml = manifestYaml(noisyName);
    noise = setInterval(() => writeFileSync(join(folder, `${noisyName}.yaml`), `${yaml}# rewrite ${++n}\n`), 50);
    await new Promise((r) => setTimeout(r, 1500)); // past the point where the noisy file is known to be noisy
    const noisy: number[] = [];
    for (let i = 0; i < writes; i++) noisy.push(await timeToStart(rig, stack, epoch, folder, sysName(i), 768));
    const ratio = quantile(noisy, 0.99) / Math.max(1, quantile(quiet, 0.99));
    return [
      result(`noisy neighbour: baseline, no noise (${base} systems)`, 'p99 write → Start', quantile(quiet, 0.99), 'ms', { max: 250 }),
      result('noisy neighbour: one file rewritten every 50 ms', 'p50 write → Start', quantile(noisy, 0.5), 'ms'),
      result('noisy neighbour: one file rewritten every 50 ms', 'p99 write → Start', quantile(noisy, 0.99), 'ms', { max: 250 }),
      result('noisy neighbour: ratio to baseline', 'p99 noisy / p99 quiet', Number(ratio.toFixed(2)), 'x'),
    ];
  } finally {
    if (noise) clearInterval(noise);
    await stack.dispose();
    await rig.emu.control.reset();
  }
}

async function timeToStart(rig: Rig, stack: Stack, epoch: number, folder: string, name: string, memoryMB: number): Promise<number> {
  await rig.emu.control.clearCallLog();
  await new Promise((r) => setTimeout(r, 20 + Math.random() * 80)); // not phase-locked to the noise
  const yaml = manifestYaml(name, memoryMB);
  const t0 = Date.now();
  writeFileSync(join(folder, `${name}.yaml`), yaml);
  const id = await startedId(stack, name);
  const start = (await rig.emu.control.callLog()).find((c) => c.op === 'Start' && c.id === id);
  if (!start) throw new Error(`no Start of ${id} in the emulator call log`);
  return epoch + start.at - t0;
}

function startedId(stack: Stack, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} was not started within 20 s`)), 20_000);
    const sub = stack.controller.history.subscribe((e) => {
      if (e.system !== name || e.kind !== 'started' || !e.id) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(e.id);
    });
  });
}
