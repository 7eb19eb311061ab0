/**
 * Scenario 6, FFI cost: the binding alone (NativeHcsClient on the emulator library, no
 * controller), so a regression in the binding or the library shows here first. Emulator latency 0.
 */
import { NativeHcsClient } from '../../../src/hcs/index.ts';
import { OWNER, type Rig } from '../rig.ts';
import { result, type BenchMode, type BenchResult } from '../results.ts';

const DOC = {
  SchemaVersion: { Major: 2, Minor: 1 },
  Owner: OWNER,
  ShouldTerminateOnLastHandleClosed: false,
  Container: { Storage: { Layers: [{ Id: '8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41', Path: 'C:\\layers\\base' }] } },
};

/** Enumerate with `systems` systems present, and create+start+terminate+close cycles. */
export async function runFfi(rig: Rig, mode: BenchMode): Promise<BenchResult[]> {
  const systems = mode.smoke ? 20 : 1000;
  const seconds = mode.smoke ? 0.3 : mode.quick ? 2 : 5;
  await rig.emu.control.reset();
  const hcs = new NativeHcsClient(rig.native);
  try {
    await populate(hcs, systems);
    const enumRate = await rate(seconds, () => hcs.enumerate({ owners: [OWNER] }));
    await rig.emu.control.reset();
    let i = 0;
    const cycleSeq = await rate(seconds, () => cycle(hcs, `ffi-${i++}`));
    const cyclePar = await rate(seconds, () => Promise.all(Array.from({ length: 16 }, () => cycle(hcs, `ffi-${i++}`))));
    const callL0 = await rate(seconds, () => hcs.enumerate({ ids: ['none'] }));
    return [
      result(`ffi enumerate (${systems} systems)`, 'calls per second', enumRate, 'calls/s'),
      result(`ffi enumerate (${systems} systems)`, 'time per call', 1000 / enumRate, 'ms'),
      result('ffi create+start+terminate+close', 'cycles per second (sequential)', cycleSeq, 'cycles/s'),
      result('ffi create+start+terminate+close', 'cycles per second (16 in parallel)', cyclePar * 16, 'cycles/s'),
      result('ffi empty enumerate', 'round trips per second (sequential)', callL0, 'calls/s'),
    ];
  } finally {
    await hcs.close();
    await rig.emu.control.reset();
  }
}

async function populate(hcs: NativeHcsClient, n: number): Promise<void> {
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, async (_, k) => {
      const s = await hcs.create(`pop-${i + k}`, DOC);
      await s.start();
      await s.close();
    }));
  }
}

async function cycle(hcs: NativeHcsClient, id: string): Promise<void> {
  const s = await hcs.create(id, DOC);
  await s.start();
  await s.terminate();
  await s.close();
}

/** Repeat `fn` sequentially for `seconds`; iterations per second. */
async function rate(seconds: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    await fn();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}
