/**
 * The per-kind drivers: the side-effecting half of the core. Each resource kind has one
 * {@link ResourcePort} (ports.ts) implemented here on top of the adapters' ports: compute systems
 * and entrypoint processes on the HcsClient port (src/hcs). A driver performs one node's call and
 * returns the outcomes; it never writes runtime state (runtime.ts reducers do, in the controller).
 */
import { isRemoval, type ActionNode, type ComputeSystemNode, type ProcessNode } from './graph.ts';
import type { HandleRegistry } from './handles.ts';
import type { Limiter } from './limiter.ts';
import type { Clock, DesiredSystem, HcsFailure, ObservedProcess, ObservedSystem, ResourcePort, ResourcePorts } from './ports.ts';
import type { FailureClass, Outcome, RuntimeInfo } from './runtime.ts';
import type { OperationTimeouts } from './timeouts.ts';

/** What the drivers need from the controller (read-only views of its state). */
export interface DriverDeps {
  handles: HandleRegistry;
  limiter: Limiter;
  timeouts: OperationTimeouts;
  clock: Clock;
  enumerate(): Promise<ObservedSystem[]>;
  desired(name: string): DesiredSystem | undefined;
  runtime(name: string): RuntimeInfo;
}

/** Classify a failed call from the fields the adapter sets (never from HRESULT codes or text). */
export function classifyFailure(err: unknown): FailureClass {
  const failure = err as Partial<HcsFailure>;
  if (failure.permanent) return 'permanent';
  if (failure.kind === 'alreadyStopped' || failure.kind === 'notFound') return 'gone';
  return 'transient';
}

/** Compute systems: observe = enumerate (ours), ensure = create/start/pause/resume, remove = stop. */
export class ComputeSystemDriver implements ResourcePort<ComputeSystemNode, ObservedSystem[]> {
  readonly kind = 'computeSystem' as const;

  constructor(private readonly deps: DriverDeps) {}

  observe(): Promise<ObservedSystem[]> {
    return this.deps.limiter.run(() => this.deps.enumerate());
  }

  async ensure(n: ComputeSystemNode, signal?: AbortSignal): Promise<Outcome[]> {
    const { handles, limiter, timeouts, clock } = this.deps;
    const id = n.resource.hcsId;
    switch (n.op) {
      case 'create':
        await limiter.run(() => handles.create(id, n.part.document, { signal, timeoutMs: timeouts.create }));
        return [{ type: 'created', id, main: n.part.role === 'main', at: clock.now() }];
      case 'start': {
        const system = await handles.get(id);
        await limiter.run(() => system.start({ signal, timeoutMs: timeouts.start }));
        return [{ type: 'started', id, at: clock.now() }];
      }
      case 'pause':
      case 'resume': {
        const system = await handles.get(id);
        const op = n.op;
        await limiter.run(() => system[op]({ signal, timeoutMs: timeouts[op] }));
        return [];
      }
      case 'stop':
        return this.remove(n, signal);
    }
  }

  /** Graceful shutdown; terminate when it fails or has not finished after the node's stopTimeout. */
  async remove(n: ComputeSystemNode, signal?: AbortSignal): Promise<Outcome[]> {
    if (n.op !== 'stop') throw new Error(`internal: ${n.op} is not a removal`);
    const { handles, limiter, timeouts, clock } = this.deps;
    const id = n.resource.hcsId;
    const system = await handles.get(id);
    const graceful = new AbortController();
    const abort = () => graceful.abort();
    signal?.addEventListener('abort', abort, { once: true });
    let timer: unknown;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = clock.setTimeout(() => resolve('timeout'), n.stopTimeoutMs)));
    try {
      const shutdown = limiter.run(() => system.shutdown({ signal: graceful.signal, timeoutMs: n.stopTimeoutMs })).then(() => 'done' as const, () => 'failed' as const);
      const first = await Promise.race([shutdown, timedOut]);
      if (first !== 'done') {
        graceful.abort();
        await limiter.run(() => system.terminate({ signal, timeoutMs: timeouts.terminate }));
      }
      await handles.release(id);
      return [{ type: 'stopped', node: n as ComputeSystemNode & { op: 'stop' }, how: first === 'done' ? 'shut down' : 'terminated' }];
    } finally {
      clock.clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    }
  }
}

/** Entrypoint processes: observe = the container's ProcessList, ensure = start or find again. */
export class ProcessDriver implements ResourcePort<ProcessNode, ObservedProcess[]> {
  readonly kind = 'process' as const;

  constructor(private readonly deps: DriverDeps) {}

  async observe(ref: { hcsId?: string }, signal?: AbortSignal): Promise<ObservedProcess[]> {
    const system = await this.deps.handles.get(ref.hcsId!);
    const props = await this.deps.limiter.run(() => system.properties({ propertyTypes: ['ProcessList'] }, { signal, timeoutMs: this.deps.timeouts.properties }));
    return props.processList ?? [];
  }

  async ensure(n: ProcessNode, signal?: AbortSignal): Promise<Outcome[]> {
    const d = this.deps.desired(n.resource.name);
    if (!d?.process) return [];
    return n.op === 'startProcess' ? this.#start(n, d, signal) : this.#find(n, d, signal);
  }

  /** Entrypoints end with their container (the stop of the compute system). */
  async remove(): Promise<Outcome[]> {
    return [];
  }

  async #start(n: ProcessNode, d: DesiredSystem, signal?: AbortSignal): Promise<Outcome[]> {
    const id = n.resource.hcsId;
    const system = await this.deps.handles.get(id);
    const proc = await this.deps.limiter.run(() => system.createProcess(d.process!.parameters, { signal, timeoutMs: this.deps.timeouts.process }));
    await this.deps.handles.trackProcess(proc);
    return [{ type: 'processStarted', hash: d.configHash, id, pid: proc.processId, commandLine: d.process!.commandLine }];
  }

  /**
   * After an adoption the entrypoint is looked up in ProcessList rather than started again. If the
   * container runs but its entrypoint is gone, it exited while the controller was away: treat it
   * like a process exit (shut the container down, then the restart policy decides).
   */
  async #find(n: ProcessNode, d: DesiredSystem, signal?: AbortSignal): Promise<Outcome[]> {
    const id = n.resource.hcsId;
    if (this.deps.handles.hasProcess(id)) return [{ type: 'processStarted', hash: d.configHash, id }];
    const found = findEntrypoint(await this.observe(n.resource, signal), d.process!.commandLine);
    if (found) {
      const system = await this.deps.handles.get(id);
      const proc = await this.deps.limiter.run(() => system.openProcess(found.processId, { signal, timeoutMs: this.deps.timeouts.process }));
      await this.deps.handles.trackProcess(proc);
      return [{ type: 'processStarted', hash: d.configHash, id, pid: found.processId, found: true }];
    }
    if (this.deps.runtime(n.resource.name).awaitingEntrypoint === id) return this.#start(n, d, signal);
    return [{ type: 'processMissing', hash: d.configHash, id }];
  }
}

/** The drivers of every kind, keyed by kind (a new kind without a driver does not compile). */
export function createDrivers(deps: DriverDeps): ResourcePorts {
  return { computeSystem: new ComputeSystemDriver(deps), process: new ProcessDriver(deps) };
}

/** Run one node on the port of its kind: removals go to `remove`, everything else to `ensure`. */
export function runNode(ports: ResourcePorts, n: ActionNode, signal?: AbortSignal): Promise<Outcome[]> {
  // The port of a kind takes exactly the nodes of that kind (ResourcePorts is keyed by kind).
  const port = ports[n.resource.kind] as unknown as ResourcePort<ActionNode, unknown>;
  return isRemoval(n) ? port.remove(n, signal) : port.ensure(n, signal);
}

/** Match the entrypoint in a ProcessList by command line, else by image name. */
export function findEntrypoint(list: readonly ObservedProcess[], commandLine: string): ObservedProcess | undefined {
  const exact = list.find((p) => p.commandLine === commandLine);
  if (exact) return exact;
  const image = imageName(commandLine).toLowerCase();
  return list.find((p) => p.imageName?.toLowerCase() === image);
}

function imageName(commandLine: string): string {
  const trimmed = commandLine.trim();
  const first = trimmed.startsWith('"') ? trimmed.slice(1, trimmed.indexOf('"', 1)) : trimmed.split(/\s+/)[0] ?? '';
  return first.split(/[\\/]/).pop() ?? first;
}
