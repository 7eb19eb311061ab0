/**
 * The per-kind drivers: the side-effecting half of the core. Each resource kind has one
 * {@link ResourcePort} (ports.ts) implemented here on top of the adapters' ports: compute systems
 * and entrypoint processes on the HcsClient port (src/hcs). A driver performs one node's call and
 * returns the outcomes; it never writes runtime state (runtime.ts reducers do, in the controller).
 */
import { isRemoval, type ActionNode, type ComputeSystemNode, type ImageNode, type ProcessNode, type ProvisionNode } from './graph.ts';
import { explainCollision, type OwnerLookup } from './collision.ts';
import { slotWaitTimeout } from './list-error.ts';
import type { HandleRegistry } from './handles.ts';
import type { Limiter } from './limiter.ts';
import type { Clock, DesiredSystem, HcsFailure, ImagePort, ObservedImage, ObservedProcess, ObservedProvisioned, ObservedSystem, ProvisionKind, ProvisionPort, RenderedPart, ResourcePort, ResourcePorts } from './ports.ts';
import type { FailureClass, Outcome, RuntimeInfo } from './runtime.ts';
import type { OperationTimeouts } from './timeouts.ts';
import { identifyEntrypoint, MemoryEntrypointRecords, recordFor, type EntrypointRecords } from './entrypoint-identity.ts';

/** What the drivers need from the controller (read-only views of its state). */
export interface DriverDeps {
  handles: HandleRegistry;
  limiter: Limiter;
  timeouts: OperationTimeouts;
  clock: Clock;
  enumerate(): Promise<ObservedSystem[]>;
  desired(name: string): DesiredSystem | undefined;
  runtime(name: string): RuntimeInfo;
  /** Our Owner, and how to find the owner of an id (to explain a create collision). */
  owner?: string;
  lookupOwner?: OwnerLookup;
  /** Records of the entrypoints this controller started (entrypoint-identity.ts); default in memory. */
  entrypoints?: EntrypointRecords;
  /** Scratches, endpoints and namespaces (absent: parts that ask for them fail to create). */
  provision?: ProvisionPort;
  /** The image store (absent: manifests naming an image cannot be pulled). */
  images?: ImagePort;
}

/** Classify a failed call from the fields the adapter sets (never from HRESULT codes or text). */
export function classifyFailure(err: unknown): FailureClass {
  const failure = err as Partial<HcsFailure> & { superseded?: boolean };
  if (failure.superseded) return 'superseded';
  if (failure.permanent) return 'permanent';
  if (failure.kind === 'alreadyStopped' || failure.kind === 'notFound') return 'gone';
  return 'transient';
}

/** Compute systems: observe = enumerate (ours), ensure = create/start/pause/resume, remove = stop. */
export class ComputeSystemDriver implements ResourcePort<ComputeSystemNode, ObservedSystem[]> {
  readonly kind = 'computeSystem' as const;

  constructor(private readonly deps: DriverDeps) {}

  observe(): Promise<ObservedSystem[]> {
    const { limiter, clock, timeouts } = this.deps;
    // Through the limiter, so a pass lists when an HCS slot frees up: the passes that settling
    // systems start coalesce while creates are in flight (listing past the limiter, N=1000 took
    // 66 passes instead of 3 and 1.6x the ideal time). The wait is bounded by the enumerate
    // timeout, so creates hung in every slot show as "HCS is not answering" instead of freezing
    // the controller (issue 12, finding 11).
    return limiter.run(() => this.deps.enumerate(), { ms: timeouts.enumerate, clock, onTimeout: () => slotWaitTimeout(timeouts.enumerate) });
  }

  async ensure(n: ComputeSystemNode, signal?: AbortSignal): Promise<Outcome[]> {
    const { handles, limiter, timeouts, clock } = this.deps;
    const id = n.resource.hcsId;
    switch (n.op) {
      case 'create': {
        const document = await this.#document(id, n.part);
        try {
          await limiter.run(() => handles.create(id, document, { signal, timeoutMs: timeouts.create }));
        } catch (err) {
          const { owner, lookupOwner } = this.deps;
          throw owner !== undefined && lookupOwner ? await explainCollision(err, id, owner, lookupOwner) : err;
        }
        return [{ type: 'created', id, main: n.part.role === 'main', at: clock.now() }];
      }
      case 'start': {
        const system = await handles.get(id);
        // The create's race-closing query runs outside the limiter; waiting for it inside the slot
        // left the slot idle for up to one call in the tail of a burst, when no queue hides it.
        await system.ready();
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

  /** The document to create: with the volume and namespace of its provisioned objects filled in. */
  #document(id: string, part: RenderedPart): Promise<Record<string, unknown>> {
    if (!part.provision) return Promise.resolve(part.document);
    if (!this.deps.provision) return Promise.reject(new Error(`${id} asks for a provisioned scratch or network, and this controller has no provisioning adapter`));
    return this.deps.provision.document(id, part);
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
      // VMs rendered with the shutdown integration service get its ShutdownOptions (audit D7).
      const options = this.deps.desired(n.resource.name)?.parts.find((p) => p.id === id)?.shutdownOptions;
      const shutdown = limiter.run(() => system.shutdown({ signal: graceful.signal, timeoutMs: n.stopTimeoutMs, ...(options ? { options } : {}) }))
        .then(() => 'done' as const, () => 'failed' as const);
      const first = await Promise.race([shutdown, timedOut]);
      if (first !== 'done') {
        graceful.abort();
        await limiter.run(() => system.terminate({ signal, timeoutMs: timeouts.terminate }));
      }
      await handles.release(id);
      this.deps.entrypoints?.delete(id); // a stopped system is never adopted again: its record goes
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
  readonly #entrypoints: EntrypointRecords;

  constructor(private readonly deps: DriverDeps) {
    this.#entrypoints = deps.entrypoints ?? new MemoryEntrypointRecords();
  }

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
    this.#entrypoints.set(id, recordFor(proc, d.process!.commandLine));
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
    // HCS reports no command line (audit D5): pid record, unique image, oldest (entrypoint-identity.ts).
    const match = identifyEntrypoint(await this.observe(n.resource, signal), d.process!.commandLine, this.#entrypoints.get(id));
    if (match.kind !== 'absent') {
      const found = match.process;
      const system = await this.deps.handles.get(id);
      const proc = await this.deps.limiter.run(() => system.openProcess(found.processId, { signal, timeoutMs: this.deps.timeouts.process }));
      await this.deps.handles.trackProcess(proc);
      this.#entrypoints.set(id, recordFor(found, d.process!.commandLine));
      return [{ type: 'processStarted', hash: d.configHash, id, pid: found.processId, found: true }];
    }
    if (this.deps.runtime(n.resource.name).awaitingEntrypoint === id) return this.#start(n, d, signal);
    return [{ type: 'processMissing', hash: d.configHash, id }];
  }
}

/** Scratch, endpoint and namespace: one driver per kind on the provisioning adapter port. */
export class ProvisionDriver {
  constructor(readonly kind: ProvisionKind, private readonly deps: DriverDeps) {}

  private port(): ProvisionPort {
    if (!this.deps.provision) throw new Error(`no provisioning adapter for ${this.kind}`);
    return this.deps.provision;
  }

  observe(_ref?: unknown, signal?: AbortSignal): Promise<ObservedProvisioned[]> {
    return this.deps.provision ? this.deps.limiter.run(() => this.port().observe(this.kind, signal)) : Promise.resolve([]);
  }

  async ensure(n: ProvisionNode, signal?: AbortSignal): Promise<Outcome[]> {
    if (n.op !== 'create') return this.remove(n, signal);
    await this.deps.limiter.run(() => this.port().create(this.kind, n.resource.hcsId, n.part, signal));
    return [];
  }

  async remove(n: ProvisionNode, signal?: AbortSignal): Promise<Outcome[]> {
    await this.deps.limiter.run(() => this.port().remove(this.kind, n.resource.hcsId, signal));
    return [];
  }
}

/** Images: observe = what the store holds for the references, ensure = pull per the node's policy. */
export class ImageDriver implements ResourcePort<ImageNode, ObservedImage[]> {
  readonly kind = 'image' as const;
  /** Digest each reference was last pulled to, in this controller (see {@link supersededBy}). */
  readonly #pulled = new Map<string, string>();

  constructor(private readonly deps: DriverDeps) {}

  observe(ref: { image?: string }, signal?: AbortSignal): Promise<ObservedImage[]> {
    if (!this.deps.images || ref.image === undefined) return Promise.resolve([]);
    return this.deps.images.observe([ref.image], signal);
  }

  /**
   * Pulls outside the HCS limiter: a pull is registry and disk work, and holding an HCS slot for
   * minutes would starve every other system's calls.
   */
  async ensure(n: ImageNode, signal?: AbortSignal): Promise<Outcome[]> {
    if (!this.deps.images) throw Object.assign(new Error(`pull ${n.resource.image}: this controller has no image store`), { permanent: true });
    const result = await this.deps.images.pull(n.resource.image, n.policy, signal);
    this.#pulled.set(n.resource.image, result.digest);
    return [{ type: 'imagePulled', reference: n.resource.image, digest: result.digest, changed: result.changed, at: this.deps.clock.now() }];
  }

  /** Images are removed by `image rm`/`prune` and the GC, never by a plan. */
  async remove(): Promise<Outcome[]> {
    return [];
  }

  /**
   * Why a node of an image manifest must not run: it was planned from a rendering that is not the
   * one of the stored image (a placeholder before the pull, or an older digest than the one just
   * pulled), or its system is no longer a part of the rendering. The next plan replaces it.
   */
  supersededBy(n: ActionNode): string | undefined {
    if (n.resource.kind === 'image') return undefined;
    const d = this.deps.desired(n.resource.name);
    if (!d?.image) return undefined;
    const pulled = this.#pulled.get(d.image.reference);
    const moved = pulled !== undefined && d.image.digest !== undefined && pulled !== d.image.digest;
    if (moved) return `image ${d.image.reference} moved to ${pulled}`;
    // Stopping and removing never need the image (a Stopped manifest whose image is not stored still stops).
    if (isRemoval(n)) return undefined;
    if (d.image.digest === undefined) return `image ${d.image.reference} is not rendered yet`;
    // A provisioned object's id is its own (RenderedPart.provisionIds): it belongs to the part it is made for.
    const systemId = isProvisionKind(n.resource.kind) ? ('part' in n ? n.part.id : undefined) : n.resource.hcsId;
    if (systemId !== undefined && !d.parts.some((p) => p.id === systemId)) return `${systemId} is not in the rendering of ${d.image.reference} any more`;
    return undefined;
  }
}

/** The error of a node that {@link ImageDriver.supersededBy} refuses (classified `superseded`). */
export class SupersededError extends Error {
  readonly superseded = true;
}

/** The drivers of every kind, keyed by kind (a new kind without a driver does not compile). */
export function createDrivers(deps: DriverDeps): ResourcePorts {
  const shared = { ...deps, entrypoints: deps.entrypoints ?? new MemoryEntrypointRecords() };
  return {
    computeSystem: new ComputeSystemDriver(shared),
    process: new ProcessDriver(shared),
    // One class for the three kinds; each instance takes only the nodes of its kind (runNode routes by kind).
    scratch: new ProvisionDriver('scratch', shared) as unknown as ResourcePorts['scratch'],
    endpoint: new ProvisionDriver('endpoint', shared) as unknown as ResourcePorts['endpoint'],
    namespace: new ProvisionDriver('namespace', shared) as unknown as ResourcePorts['namespace'],
    image: new ImageDriver(shared),
  };
}

/** Run one node on the port of its kind: removals go to `remove`, everything else to `ensure`. */
export function runNode(ports: ResourcePorts, n: ActionNode, signal?: AbortSignal): Promise<Outcome[]> {
  // The port of a kind takes exactly the nodes of that kind (ResourcePorts is keyed by kind).
  const port = ports[n.resource.kind] as unknown as ResourcePort<ActionNode, unknown>;
  const superseded = ports.image instanceof ImageDriver ? ports.image.supersededBy(n) : undefined;
  if (superseded !== undefined) return Promise.reject(new SupersededError(`${n.op} not run: ${superseded}; planning again`));
  return isRemoval(n) ? port.remove(n, signal) : port.ensure(n, signal);
}

/** The entrypoint in a ProcessList, from HCS's fields only (see entrypoint-identity.ts). */
export function findEntrypoint(list: readonly ObservedProcess[], commandLine: string): ObservedProcess | undefined {
  const match = identifyEntrypoint(list, commandLine);
  return match.kind === 'absent' ? undefined : match.process;
}

function isProvisionKind(kind: string): kind is ProvisionKind {
  return kind === 'scratch' || kind === 'endpoint' || kind === 'namespace';
}
