/**
 * The controller facade: wires the desired store, the HCS port, the handle registry, the step
 * executor and the controller machine, and answers status questions. The composition root
 * (src/cli) creates one, feeds it snapshots and disposes it on shutdown. Disposing never stops a
 * workload: handles are closed, systems keep running (ShouldTerminateOnLastHandleClosed is false).
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { controllerMachine, nodesByName } from './controller-machine.ts';
import { DesiredStore } from './desired.ts';
import type { EntrypointRecords } from './entrypoint-identity.ts';
import { classifyFailure, createDrivers, runNode } from './executor.ts';
import { runGraph, type ActionNode, type NodeResult } from './graph.ts';
import { SystemActors } from './system-actors.ts';
import { HandleRegistry } from './handles.ts';
import { EventHistory } from './history.ts';
import { parseSystemId } from './identity.ts';
import { Limiter } from './limiter.ts';
import type { ObservedState } from './observed.ts';
import { plan, type Plan } from './plan.ts';
import type { Clock, Disposable, HcsClient, ImagePort, Logger, ManifestSnapshot, ProcessEvent, ProvisionPort, ResourcePorts, SystemEvent } from './ports.ts';
import type { Outcome } from './runtime.ts';
import { RuntimeStore } from './runtime-store.ts';
import { StatusBuilder, type ControllerStatus } from './status.ts';
import { Relister } from './relist.ts';
import { withoutHeld } from './prune-holds.ts';
import { describeListError } from './list-error.ts';
import { DEFAULT_TIMEOUTS, type OperationTimeouts } from './timeouts.ts';

const MAX_TIMER_MS = 2_147_483_647;
/** `Always` images of running systems are resolved again at most this often (a moved tag re-creates). */
const ALWAYS_RESOLVE_MS = 60_000;

/** Options of {@link createController}. */
export interface ControllerOptions {
  hcs: HcsClient;
  owner: string;
  clock: Clock;
  logger: Logger;
  /** Periodic relist of HCS (ms); 0 disables. Default 30 s. */
  resyncMs?: number;
  /** Max HCS operations in flight. Default 16. */
  concurrency?: number;
  timeouts?: Partial<OperationTimeouts>;
  /** Prune even when the folder becomes empty. */
  allowEmpty?: boolean;
  /** Global suspend: observe and report only. */
  suspended?: boolean;
  defaultStopTimeoutMs?: number;
  /** An enumerate that has not answered for this long makes status not converged. Default 10 s. */
  listStaleMs?: number;
  /** The local record of started entrypoints (entrypoint-identity.ts); default in memory. */
  entrypoints?: EntrypointRecords;
  /** Scratches, endpoints and namespaces for parts that ask for them (src/network, src/scratch). */
  provision?: ProvisionPort;
  /** The image store for manifests naming an image (src/images): pull nodes and `Pulling` status. */
  images?: ImagePort;
}

/** A running controller. */
export interface Controller {
  /** Replace the desired state with a new snapshot and reconcile. */
  applySnapshot(snapshot: ManifestSnapshot): void;
  /** Ask for a reconcile pass now (SIGHUP, explicit request). */
  reconcile(): void;
  status(): ControllerStatus;
  readonly history: EventHistory;
  /** Resolves with the plan of the latest or next pass for which `predicate` holds. */
  waitForPass(predicate: (plan: Plan) => boolean, timeoutMs?: number): Promise<Plan>;
  /** Number of open HCS handles held by the controller. */
  openHandles(): number;
  /** Add a standing warning about the setup, shown in status and recorded in the history. */
  warn(message: string): void;
  /** Observe every reconcile pass (for metrics): its plan and how long listing + planning took. */
  onPass(listener: (pass: { plan: Plan; durationMs: number }) => void): Disposable;
  dispose(): Promise<void>;
}

/** Create and start a controller. */
export function createController(opts: ControllerOptions): Controller {
  return new ControllerImpl(opts);
}

class ControllerImpl implements Controller {
  readonly history: EventHistory;
  readonly #desired = new DesiredStore();
  /** The runtime state of every name and its single writer. */
  readonly #runtime: RuntimeStore;
  readonly #handles: HandleRegistry;
  readonly #limiter: Limiter;
  readonly #timeouts: OperationTimeouts;
  readonly #ports: ResourcePorts;
  readonly #passListeners = new Set<(plan: Plan) => void>();
  readonly #passObservers = new Set<(pass: { plan: Plan; durationMs: number }) => void>();
  #passStartedAt = 0;
  readonly #warnings: string[] = [];
  readonly #actor: Actor<typeof controllerMachine>;
  readonly #systems: SystemActors;
  #snapshot: ManifestSnapshot | undefined;
  #lastPlan: Plan | undefined;
  #lastObserved: ObservedState | undefined;
  #lastPassAt: number | undefined;
  #listingSince: number | undefined;
  #passes = 0;
  #listError: string | undefined;
  #disconnected = false;
  readonly #relist: Relister;
  readonly #statusBuilder = new StatusBuilder();
  /** The last plan and what it was made from (see {@link ControllerImpl.plan}). */
  #planMemo: { desired: number; observed: ObservedState; runtime: number; plan: Plan } | undefined;

  constructor(private readonly opts: ControllerOptions) {
    this.history = new EventHistory(() => opts.clock.now());
    this.#runtime = new RuntimeStore({
      history: this.history,
      logger: opts.logger,
      now: () => opts.clock.now(),
      desired: (name) => this.#desired.get(name),
      onChange: (before, after) => this.#relist.noteRuntime(before, after),
    });
    this.#limiter = new Limiter(opts.concurrency ?? 16);
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.#handles = new HandleRegistry(opts.hcs, {
      onSystemEvent: (id, e) => this.#onSystemEvent(id, e),
      onProcessExit: (id, e) => this.#onProcessExit(id, e),
    });
    this.#ports = createDrivers({
      handles: this.#handles,
      limiter: this.#limiter,
      timeouts: this.#timeouts,
      clock: opts.clock,
      enumerate: () => opts.hcs.enumerate({ owners: [opts.owner] }, { timeoutMs: this.#timeouts.enumerate }),
      desired: (name) => this.#desired.get(name),
      runtime: (name) => this.#runtime.info(name),
      owner: opts.owner,
      lookupOwner: async (id) => (await opts.hcs.enumerate({ ids: [id] }, { timeoutMs: this.#timeouts.enumerate })).find((x) => x.id === id)?.owner,
      ...(opts.entrypoints ? { entrypoints: opts.entrypoints } : {}),
      ...(opts.provision ? { provision: opts.provision } : {}),
      ...(opts.images ? { images: opts.images } : {}),
    });
    this.#relist = new Relister({
      owner: opts.owner,
      ports: this.#ports,
      handles: this.#handles,
      limiter: this.#limiter,
      desired: this.#desired,
      runtime: this.#runtime.records,
      provision: opts.provision !== undefined,
      ...(opts.images ? { images: opts.images } : {}),
      clock: opts.clock,
      logger: opts.logger,
      record: (name, outcome) => this.#runtime.record(name, outcome),
      exit: (id, exit) => this.#runtime.exit(id, exit),
    });
    this.#systems = new SystemActors({
      runNodes: (name, nodes, signal) => this.#runNodes(name, nodes, signal),
      clock: opts.clock,
      onSettled: (name) => this.#actor.send({ type: 'system.settled', name }),
      window: (opts.concurrency ?? 16) * 4,
    });
    const machine = controllerMachine.provide({
      actors: { pass: fromPromise(async () => this.#pass()) },
      actions: {
        dispatch: (_args, { plan: p }) => this.#systems.dispatchPlan(nodesByName(p.nodes)),
        passDone: (_args, result) => this.#onPass(result.plan, result.observed),
        listFailed: (_args, { error }) => this.#onListError(error),
      },
      delays: { wake: () => this.#nextWakeMs(), listRetry: 2_000 },
    });
    this.#actor = createActor(machine, { clock: opts.clock });
    this.#actor.start();
  }

  applySnapshot(snapshot: ManifestSnapshot): void {
    this.#snapshot = snapshot;
    const update = this.#desired.apply(snapshot, { allowEmpty: this.opts.allowEmpty });
    const hold = this.#desired.pruneHold();
    if (hold) {
      this.history.record('*', 'guard', hold);
      this.opts.logger.warn('prune held', { reason: hold });
    }
    for (const name of update.keptLastKnownGood) {
      this.history.record(name, 'manifest-error', 'manifest invalid; keeping the last valid spec');
    }
    this.#actor.send({ type: 'snapshot' });
  }

  reconcile(): void {
    this.#actor.send({ type: 'reconcile' });
  }

  status(): ControllerStatus {
    const now = this.opts.clock.now();
    const stale = this.#listingSince !== undefined && now - this.#listingSince >= (this.opts.listStaleMs ?? 10_000);
    return this.#statusBuilder.build({
      owner: this.opts.owner,
      desired: this.#desired,
      snapshot: this.#snapshot,
      observed: this.#lastObserved,
      plan: this.#lastPlan,
      runtime: this.#runtime.records,
      phase: (name) => this.#phase(name, now),
      history: this.history,
      passes: this.#passes,
      lastPassAt: this.#lastPassAt,
      listError: this.#listError ?? (stale ? `enumerate has not answered for ${Math.round((now - this.#listingSince!) / 1000)} s` : undefined),
      suspended: this.opts.suspended === true,
      now,
      warnings: this.#warnings,
      pulling: (name) => {
        const reference = this.#desired.get(name)?.image?.reference;
        return reference !== undefined ? this.opts.images?.progress(reference) : undefined;
      },
    });
  }

  waitForPass(predicate: (plan: Plan) => boolean, timeoutMs = 60_000): Promise<Plan> {
    if (this.#lastPlan && predicate(this.#lastPlan)) return Promise.resolve(this.#lastPlan);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#passListeners.delete(listener);
        reject(new Error(`no matching reconcile pass within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (p: Plan): void => {
        if (!predicate(p)) return;
        clearTimeout(timer);
        this.#passListeners.delete(listener);
        resolve(p);
      };
      this.#passListeners.add(listener);
    });
  }

  openHandles(): number {
    return this.#handles.size;
  }

  warn(message: string): void {
    if (this.#warnings.includes(message)) return;
    this.#warnings.push(message);
    this.history.record('*', 'guard', message);
  }

  onPass(listener: (pass: { plan: Plan; durationMs: number }) => void): Disposable {
    this.#passObservers.add(listener);
    return { dispose: () => void this.#passObservers.delete(listener) };
  }

  async dispose(): Promise<void> {
    this.#actor.stop();
    this.#systems.stopAll();
    await this.#handles.releaseAll();
  }

  /** Run one name's nodes as a graph; every result becomes an outcome. */
  async #runNodes(name: string, nodes: ActionNode[], signal: AbortSignal): Promise<NodeResult<ActionNode>[]> {
    return runGraph(nodes, {
      concurrency: this.opts.concurrency ?? 16,
      signal,
      onStart: (n) => this.#runtime.record(name, { type: 'nodeStarted', node: n, at: this.opts.clock.now() }),
      run: async (n) => {
        let outcomes: Outcome[];
        try {
          outcomes = await runNode(this.#ports, n, signal);
        } catch (err) {
          if (!signal.aborted) this.#failed(name, n, err);
          throw err;
        }
        for (const o of outcomes) this.#runtime.record(name, o);
        this.#runtime.record(name, { type: 'done', node: n });
      },
    });
  }

  #failed(name: string, n: ActionNode, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const failure = classifyFailure(err);
    const code = (err as { hresult?: unknown }).hresult;
    const hresult = typeof code === 'number' ? `0x${(code >>> 0).toString(16).toUpperCase().padStart(8, '0')}` : undefined;
    this.#runtime.record(name, { type: 'failed', node: n, failure, message, at: this.opts.clock.now(), ...(hresult ? { hresult } : {}) });
    const fields = { op: n.op, system: name, id: n.resource.hcsId, err: message };
    if (failure === 'permanent') this.opts.logger.error('step failed permanently', fields);
    else if (failure === 'transient') this.opts.logger.warn('step failed, backing off', fields);
  }

  /** `working` while the actor runs nodes; otherwise what the runtime says (failed, backoff, idle). */
  #phase(name: string, now: number): string | undefined {
    if (this.#systems.working(name)) return 'working';
    const info = this.#runtime.records.get(name);
    const d = this.#desired.get(name);
    if (info?.failed && d && info.failed.hash === d.configHash) return 'failed';
    if (info?.nextRetryAt !== undefined && info.nextRetryAt > now) return 'backoff';
    return undefined;
  }

  async #pass(): Promise<{ observed: ObservedState; plan: Plan }> {
    const observed = await this.#list();
    return { observed, plan: this.#plan(observed) };
  }

  async #list(): Promise<ObservedState> {
    this.#passStartedAt = performance.now();
    this.#listingSince = this.opts.clock.now();
    try {
      if (this.#disconnected) {
        this.#disconnected = false;
        await this.#handles.releaseAll();
      }
      const observed = await this.#relist.observe();
      this.#listError = undefined;
      return observed;
    } finally {
      this.#listingSince = undefined;
    }
  }

  /** Resync period, shortened to the end of the earliest backoff window (resync 0 = only then). */
  #nextWakeMs(): number {
    const resync = this.opts.resyncMs ?? 30_000;
    // setTimeout fires at once for delays past 2^31-1 ms, so "never" is the largest legal delay.
    let wake = resync > 0 ? resync : MAX_TIMER_MS;
    const now = this.opts.clock.now();
    // forEach: a for-of in this rarely optimized code allocates per record (idle garbage).
    this.#runtime.records.forEach((info) => {
      if (info.nextRetryAt !== undefined && info.nextRetryAt > now) wake = Math.min(wake, info.nextRetryAt - now);
    });
    return wake;
  }

  /**
   * The plan is a pure function of the desired state, the observation and the runtime state (and
   * the clock, but only through open backoff windows). When none of them changed since the last
   * plan and it had nothing to run, that plan is the answer again: an idle relist plans nothing.
   */
  #plan(observed: ObservedState): Plan {
    const memo = this.#planMemo;
    if (memo && memo.desired === this.#desired.version && memo.observed === observed && memo.runtime === this.#runtime.version && isIdle(memo.plan) && !this.#resolvesAlways()) {
      return memo.plan;
    }
    const desired = this.#desired.list();
    const p = plan({
      desired,
      observed: withoutHeld(observed, this.#desired.heldNames(), new Set(desired.map((d) => d.name))),
      runtime: this.#runtime.records,
      now: this.opts.clock.now(),
      allowPrune: !this.#desired.holdsAllPruning(),
      suspended: this.opts.suspended,
      defaultStopTimeoutMs: this.opts.defaultStopTimeoutMs,
      ...(this.opts.images ? { alwaysResolveMs: ALWAYS_RESOLVE_MS } : {}),
    });
    this.#planMemo = { desired: this.#desired.version, observed, runtime: this.#runtime.version, plan: p };
    return p;
  }

  /** An `Always` image is resolved again on the clock, so an idle plan cannot stand for the next one. */
  #resolvesAlways(): boolean {
    if (!this.opts.images) return false;
    const desired = this.#desired.list();
    for (let i = 0; i < desired.length; i++) if (desired[i]!.image?.pullPolicy === 'Always') return true;
    return false;
  }

  #onSystemEvent(id: string, event: SystemEvent): void {
    if (event.type === 'ServiceDisconnect') {
      if (!this.#disconnected) this.history.record('*', 'error', 'lost connection to the compute service; reconnecting');
      this.#disconnected = true;
      this.reconcile();
      return;
    }
    const name = parseSystemId(id)?.name;
    const expected = name !== undefined && this.#runtime.info(name).stopping?.includes(id) === true;
    this.#runtime.exit(id, { exitType: event.exitType });
    if (expected) return;
    // Close our handle before planning again: HCS keeps a stopped system (and its id) while
    // handles to it are open, so re-creating it first would fail with "already exists".
    void this.#handles.release(id).catch(() => undefined).finally(() => this.reconcile());
  }

  /** The entrypoint exited: the container is shut down (like Docker) and the restart policy decides. */
  #onProcessExit(systemId: string, event: ProcessEvent): void {
    void this.#handles.releaseProcess(systemId).catch(() => undefined);
    this.#runtime.exit(systemId, { exitCode: event.exitCode }, event.processId);
    this.reconcile();
  }

  #onPass(p: Plan, observed: ObservedState): void {
    this.#passes++;
    this.#lastPlan = p;
    this.#lastObserved = observed;
    this.#lastPassAt = this.opts.clock.now();
    for (const listener of [...this.#passListeners]) listener(p);
    const durationMs = performance.now() - this.#passStartedAt;
    for (const observer of this.#passObservers) observer({ plan: p, durationMs });
  }

  #onListError(err: unknown): void {
    this.#listError = describeListError(err, this.#timeouts.enumerate);
    this.opts.logger.error('enumerate failed', { op: 'enumerate', err: this.#listError });
  }
}

/** Nothing to run and nothing that depends on the clock (a backoff wait counts down). */
function isIdle(p: Plan): boolean {
  return p.nodes.every((n) => n.op === 'wait' && n.reason !== 'backoff');
}
