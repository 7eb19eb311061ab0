/**
 * Where the time of a converge goes between HCS calls: a trace of every operation completion from
 * the emulator library's completion threads (HCSEMU_DISPATCH_TRACE, dispatch.c) joined with
 * timestamps taken here, in this process, by wrapping the binding's calls (one clock:
 * CLOCK_MONOTONIC = process.hrtime). Diagnostic rows only; nothing in the product is changed.
 *
 * For each Create/Start: issued (the FFI call) -> completed by the library (queued for a callback
 * thread) -> its callback thread calls koffi -> the JS callback runs -> ... -> the next Create/Start
 * is issued in the slot it freed.
 */
import { readFileSync, statSync } from 'node:fs';
import type { HcsNative } from '../../../src/hcs/index.ts';

/** A trace of one converge case. */
export interface ConvergeTrace {
  /** Stop recording; returns the summary (ms). */
  finish(): TraceSummary;
}

/** Means (ms) of the segments of a Create/Start and of the gap to the next call. */
export interface TraceSummary {
  calls: number;
  /** Issued -> JS callback (the call as the controller sees it). */
  observedCallMs: number;
  /** Library completion -> a callback thread picks it up. */
  queuedMs: number;
  /** Callback thread calls koffi -> the JS callback starts (koffi's relay, a JS-thread wake-up). */
  relayMs: number;
  /** JS callback start -> the callback thread is released (the callback's own work). */
  callbackMs: number;
  /** A Create/Start completion's JS callback -> the next Create/Start issued (slot hand-off, planning, rendering, FFI). */
  handoffMs: number;
}

const now = (): number => Number(process.hrtime.bigint());

/** Start tracing: `file` must be the HCSEMU_DISPATCH_TRACE the library opened at its first completion. */
export function traceConverge(native: HcsNative, file: string): ConvergeTrace {
  // The library keeps the file open (append): read only what this case adds.
  const from = fileSize(file);
  const lib = native as unknown as Record<string, (...args: unknown[]) => unknown>;
  const saved = ['registerCompletionCallback', 'createOperation', 'createComputeSystem', 'startComputeSystem'].map((k) => [k, lib[k]] as const);
  const keyOfOp = new Map<unknown, bigint>();
  const issued = new Map<bigint, number>();
  const jsAt = new Map<bigint, number>();
  const issueTimes: number[] = [];
  const orig = Object.fromEntries(saved) as Record<string, (...args: unknown[]) => unknown>;
  lib.registerCompletionCallback = (fn: unknown) => orig.registerCompletionCallback!.call(native, (op: unknown, ctx: bigint) => {
    jsAt.set(ctx, now());
    (fn as (op: unknown, ctx: bigint) => void)(op, ctx);
  });
  lib.createOperation = (ctx: unknown, cb: unknown) => {
    const op = orig.createOperation!.call(native, ctx, cb);
    keyOfOp.set(op, ctx as bigint);
    return op;
  };
  for (const name of ['createComputeSystem', 'startComputeSystem']) {
    lib[name] = (...args: unknown[]) => {
      const t = now();
      const key = keyOfOp.get(args[name === 'createComputeSystem' ? 2 : 1]);
      if (key !== undefined) issued.set(key, t);
      issueTimes.push(t);
      return orig[name]!.apply(native, args);
    };
  }
  return {
    finish: () => {
      for (const [k] of saved) delete lib[k]; // back to the prototype's methods
      return summarise(readTrace(file, from), issued, jsAt, issueTimes);
    },
  };
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readTrace(file: string, from: number): Map<bigint, { queued: number; start: number; end: number }> {
  const out = new Map<bigint, { queued: number; start: number; end: number }>();
  let text = '';
  try {
    text = readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const [tag, ctx, queued, start, end] = line.split(' ');
    if (tag === 'C' && ctx && queued && start && end) out.set(BigInt(ctx), { queued: Number(queued), start: Number(start), end: Number(end) });
  }
  return out;
}

function summarise(trace: Map<bigint, { queued: number; start: number; end: number }>, issued: Map<bigint, number>, jsAt: Map<bigint, number>, issueTimes: number[]): TraceSummary {
  const seg = { observed: [] as number[], queued: [] as number[], relay: [] as number[], callback: [] as number[] };
  const completions: number[] = [];
  for (const [key, t0] of issued) {
    const c = trace.get(key);
    const js = jsAt.get(key);
    if (!c || js === undefined) continue;
    seg.observed.push(js - t0);
    seg.queued.push(c.start - c.queued);
    seg.relay.push(js - c.start);
    seg.callback.push(c.end - js);
    completions.push(js);
  }
  // Each completion frees a slot; the next call issued after it is the one that slot went to.
  completions.sort((a, b) => a - b);
  const calls = [...issueTimes].sort((a, b) => a - b);
  const handoff: number[] = [];
  let j = 0;
  for (const c of completions) {
    while (j < calls.length && calls[j]! < c) j++;
    if (j >= calls.length) break;
    handoff.push(calls[j]! - c);
    j++;
  }
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length / 1e6);
  return {
    calls: seg.observed.length,
    observedCallMs: mean(seg.observed),
    queuedMs: mean(seg.queued),
    relayMs: mean(seg.relay),
    callbackMs: mean(seg.callback),
    handoffMs: mean(handoff),
  };
}
