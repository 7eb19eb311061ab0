/**
 * A decorator of the HcsClient port that reports every HCS call (operation, duration, HRESULT)
 * to an observer: the metrics registry counts calls, latency and errors from here, so neither the
 * binding nor the core knows about Prometheus.
 */
import type { CallOptions, EnumerateQuery, HcsClient, HcsFailure, HcsProcess, HcsSystem } from '../../reconciler/ports.ts';

/** One finished HCS call. */
export interface HcsCallRecord {
  op: string;
  durationMs: number;
  /** `0x80370105`-style HRESULT of a failure, or undefined on success. */
  hresult?: string;
}

async function timed<T>(op: string, observe: (r: HcsCallRecord) => void, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    const value = await fn();
    observe({ op, durationMs: performance.now() - start });
    return value;
  } catch (err) {
    const hr = (err as Partial<HcsFailure>).hresult;
    const hresult = typeof hr === 'number' ? `0x${(hr >>> 0).toString(16).toUpperCase().padStart(8, '0')}` : 'none';
    observe({ op, durationMs: performance.now() - start, hresult });
    throw err;
  }
}

function wrapProcess(p: HcsProcess, observe: (r: HcsCallRecord) => void): HcsProcess {
  return {
    systemId: p.systemId,
    processId: p.processId,
    properties: (o?: CallOptions) => timed('process.properties', observe, () => p.properties(o)),
    terminate: (o?: CallOptions) => timed('process.terminate', observe, () => p.terminate(o)),
    onExit: (l) => p.onExit(l),
    close: () => p.close(),
  };
}

function wrapSystem(s: HcsSystem, observe: (r: HcsCallRecord) => void): HcsSystem {
  const t = <T>(op: string, fn: () => Promise<T>) => timed(op, observe, fn);
  return {
    id: s.id,
    ready: () => s.ready(),
    start: (o) => t('start', () => s.start(o)),
    shutdown: (o) => t('shutdown', () => s.shutdown(o)),
    terminate: (o) => t('terminate', () => s.terminate(o)),
    pause: (o) => t('pause', () => s.pause(o)),
    resume: (o) => t('resume', () => s.resume(o)),
    properties: (q, o) => t('properties', () => s.properties(q, o)),
    modify: (r, o) => t('modify', () => s.modify(r, o)),
    createProcess: async (params, o) => wrapProcess(await t('createProcess', () => s.createProcess(params, o)), observe),
    openProcess: async (pid, o) => wrapProcess(await t('openProcess', () => s.openProcess(pid, o)), observe),
    onEvent: (l) => s.onEvent(l),
    close: () => s.close(),
  };
}

/** Wrap a client so every call is reported to `observe`. */
export function instrumentHcs(hcs: HcsClient, observe: (r: HcsCallRecord) => void): HcsClient {
  return {
    enumerate: (q?: EnumerateQuery, o?: CallOptions) => timed('enumerate', observe, () => hcs.enumerate(q, o)),
    create: async (id, doc, o) => wrapSystem(await timed('create', observe, () => hcs.create(id, doc, o)), observe),
    open: async (id, o) => wrapSystem(await timed('open', observe, () => hcs.open(id, o)), observe),
    close: () => hcs.close(),
  };
}
