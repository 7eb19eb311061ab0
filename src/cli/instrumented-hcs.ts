/**
 * A decorator of the HcsClient port that reports every HCS call (operation, duration, HRESULT)
 * to an observer: the metrics registry counts calls, latency and errors from here, so neither the
 * binding nor the core knows about Prometheus.
 */
import type {
  CallOptions, Disposable, EnumerateQuery, HcsClient, HcsFailure, HcsProcess, HcsSystem, ShutdownCallOptions, SystemEvent, SystemProperties,
} from '../../reconciler/ports.ts';

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

/**
 * A class, not an object of closures: one is held per open system for as long as it runs
 * (12 closures and their context per system, ~0.7 MB for 1000, were retained that way).
 */
class InstrumentedSystem implements HcsSystem {
  constructor(private readonly s: HcsSystem, private readonly observe: (r: HcsCallRecord) => void) {}
  get id(): string {
    return this.s.id;
  }
  ready(): Promise<void> {
    return this.s.ready();
  }
  start(o?: CallOptions): Promise<void> {
    return timed('start', this.observe, () => this.s.start(o));
  }
  shutdown(o?: ShutdownCallOptions): Promise<void> {
    return timed('shutdown', this.observe, () => this.s.shutdown(o));
  }
  terminate(o?: CallOptions): Promise<void> {
    return timed('terminate', this.observe, () => this.s.terminate(o));
  }
  pause(o?: CallOptions): Promise<void> {
    return timed('pause', this.observe, () => this.s.pause(o));
  }
  resume(o?: CallOptions): Promise<void> {
    return timed('resume', this.observe, () => this.s.resume(o));
  }
  properties(q?: { propertyTypes?: string[] }, o?: CallOptions): Promise<SystemProperties> {
    return timed('properties', this.observe, () => this.s.properties(q, o));
  }
  modify(r: Record<string, unknown>, o?: CallOptions): Promise<void> {
    return timed('modify', this.observe, () => this.s.modify(r, o));
  }
  async createProcess(params: Record<string, unknown>, o?: CallOptions): Promise<HcsProcess> {
    return wrapProcess(await timed('createProcess', this.observe, () => this.s.createProcess(params, o)), this.observe);
  }
  async openProcess(pid: number, o?: CallOptions): Promise<HcsProcess> {
    return wrapProcess(await timed('openProcess', this.observe, () => this.s.openProcess(pid, o)), this.observe);
  }
  onEvent(l: (event: SystemEvent) => void): Disposable {
    return this.s.onEvent(l);
  }
  close(): Promise<void> {
    return this.s.close();
  }
}

/** Wrap a client so every call is reported to `observe`. */
export function instrumentHcs(hcs: HcsClient, observe: (r: HcsCallRecord) => void): HcsClient {
  return {
    enumerate: (q?: EnumerateQuery, o?: CallOptions) => timed('enumerate', observe, () => hcs.enumerate(q, o)),
    create: async (id, doc, o) => new InstrumentedSystem(await timed('create', observe, () => hcs.create(id, doc, o)), observe),
    open: async (id, o) => new InstrumentedSystem(await timed('open', observe, () => hcs.open(id, o)), observe),
    close: () => hcs.close(),
  };
}
