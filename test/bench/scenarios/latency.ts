/**
 * Scenario 1, reaction latency: a running controller (in this process, composed like `run`, with
 * the default 150 ms settle window) manages `base` systems; each write is a new manifest file or
 * an edit of an existing one (new config hash, so the system is re-created). Latency runs from
 * just before writeFileSync to the arrival of the new id's Start in the emulator, read from the
 * emulator call log (`at` + the service's epoch, taken from a status round trip, error < 1 ms).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { converged, manifestYaml, startStack, sysName, writeManifests, type Rig, type Stack } from '../rig.ts';
import { quantile, result, type BenchMode, type BenchResult } from '../results.ts';

/** Measure p50/p99 time-to-Start for new files and for edits. */
export async function runLatency(rig: Rig, mode: BenchMode): Promise<BenchResult[]> {
  const base = mode.smoke ? 5 : 100;
  const writes = mode.smoke ? 3 : mode.quick ? 15 : 30;
  await rig.emu.control.reset();
  const folder = writeManifests(join(rig.dir, 'latency'), base);
  const stack = await startStack(rig, { manifests: folder });
  try {
    await converged(stack.controller, 120_000, () => stack.controller.status().systems.filter((s) => s.actual === 'Running').length === base);
    await new Promise((r) => setTimeout(r, 300));
    const epoch = await rig.serviceEpoch();
    const created: number[] = [];
    const edited: number[] = [];
    for (let i = 0; i < writes; i++) created.push(await timeToStart(rig, stack, epoch, folder, sysName(base + i), 512));
    for (let i = 0; i < writes; i++) edited.push(await timeToStart(rig, stack, epoch, folder, sysName(i), 1024));
    const all = [...created, ...edited];
    return [
      result(`latency new file (${base} systems)`, 'p50 write → Start', quantile(created, 0.5), 'ms'),
      result(`latency new file (${base} systems)`, 'p99 write → Start', quantile(created, 0.99), 'ms', { max: 250 }),
      result('latency edit (re-create)', 'p50 write → Start', quantile(edited, 0.5), 'ms'),
      result('latency edit (re-create)', 'p99 write → Start', quantile(edited, 0.99), 'ms', { max: 250 }),
      result(`latency all (${all.length} writes)`, 'p99 write → Start', quantile(all, 0.99), 'ms', { max: 250 }),
    ];
  } finally {
    await stack.dispose();
    await rig.emu.control.reset();
  }
}

async function timeToStart(rig: Rig, stack: Stack, epoch: number, folder: string, name: string, memoryMB: number): Promise<number> {
  await rig.emu.control.clearCallLog();
  await new Promise((r) => setTimeout(r, 20 + Math.random() * 80)); // not phase-locked to anything
  const yaml = manifestYaml(name, memoryMB);
  const t0 = Date.now();
  writeFileSync(join(folder, `${name}.yaml`), yaml);
  const id = await startedId(stack, name);
  const start = (await rig.emu.control.callLog()).find((c) => c.op === 'Start' && c.id === id);
  if (!start) throw new Error(`no Start of ${id} in the emulator call log`);
  return epoch + start.at - t0;
}

/** The id whose `started` event the controller records next for `name`. */
function startedId(stack: Stack, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} was not started within 10 s`)), 10_000);
    const sub = stack.controller.history.subscribe((e) => {
      if (e.system !== name || e.kind !== 'started' || !e.id) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(e.id);
    });
  });
}

