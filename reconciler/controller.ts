/**
 * The controller facade: wires the desired store, the HCS port, the handle registry, the step
 * executor and the controller machine, and answers status questions. The composition root
 * (src/cli) creates one, feeds it snapshots and disposes it on shutdown. Disposing never stops a
 * workload: handles are closed, systems keep running (ShouldTerminateOnLastHandleClosed is false).
 */
import { createActor, type Actor } from 'xstate';
import { controllerMachine } from './controller-machine.ts';
import { DesiredStore } from './desired.ts';
import { StepExecutor } from './executor.ts';
import { SystemActors } from './system-actors.ts';
import { HandleRegistry } from './handles.ts';
import { EventHistory } from './history.ts';
import { parseSystemId, shortHash } from './identity.ts';
import { Limiter } from './limiter.ts';
import { groupObserved, isLive, type ObservedState } from './observed.ts';
import { plan, recordExit, type Plan, type RuntimeInfo } from './plan.ts';
import type { Clock, Disposable, ExitType, HcsClient, Logger, ManifestSnapshot, ProcessEvent, SystemEvent } from './ports.ts';
import { buildStatus, type ControllerStatus } from './status.ts';
import { countRestart, type RestartWindow } from './restart-cap.ts';
import { withoutHeld } from './prune-holds.ts';
import { describeListError } from './list-error.ts';
import { DEFAULT_TIMEOUTS, type OperationTimeouts } from './timeouts.ts';

const MAX_TIMER_MS = 2_147_483_647;

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
  readonly #runtime = new Map<string, RuntimeInfo>();
  readonly #handles: HandleRegistry;
  readonly #limiter: Limiter;
  readonly #timeouts: OperationTimeouts;
  readonly #running = new Map<string, { name: string; since: number }>();
  readonly #expectedStops = new Set<string>();
  readonly #passListeners = new Set<(plan: Plan) => void>();
  readonly #passObservers = new Set<(pass: { plan: Plan; durationMs: number }) => void>();
  #passStartedAt = 0;
  readonly #warnings: string[] = [];
  readonly #restartWindows = new Map<string, RestartWindow>();
  readonly #actor: Actor<typeof controllerMachine>;
  readonly #systems: SystemActors;
  #snapshot: ManifestSnapshot | undefined;
  #lastPlan: Plan | undefined;
  #lastObserved: ObservedState | undefined;
  #lastPassAt: number | undefined;
  #passes = 0;
  #listError: string | undefined;
  #disconnected = false;

  constructor(private readonly opts: ControllerOptions) {
    this.history = new EventHistory(() => opts.clock.now());
    this.#limiter = new Limiter(opts.concurrency ?? 16);
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.#handles = new HandleRegistry(opts.hcs, {
      onSystemEvent: (id, e) => this.#onSystemEvent(id, e),
      onProcessExit: (id, e) => this.#onProcessExit(id, e),
    });
    const executor = new StepExecutor({
      handles: this.#handles,
      limiter: this.#limiter,
      timeouts: this.#timeouts,
      history: this.history,
      logger: opts.logger,
      now: () => opts.clock.now(),
      desired: (name) => this.#desired.get(name),
      runtime: (name) => this.#runtime.get(name) ?? { restarts: 0 },
      setRuntime: (name, info) => void this.#runtime.set(name, info),
      expectedStops: this.#expectedStops,
      running: this.#running,
      owner: opts.owner,
      lookupOwner: async (id) => (await opts.hcs.enumerate({ ids: [id] }, { timeoutMs: this.#timeouts.enumerate })).find((x) => x.id === id)?.owner,
    });
    this.#systems = new SystemActors({
      executor,
      clock: opts.clock,
      onSettled: (name) => this.#actor.send({ type: 'system.settled', name }),
    });
    this.#actor = createActor(controllerMachine, {
      clock: opts.clock,
      input: {
        deps: {
          list: () => this.#list(),
          plan: (observed) => this.#plan(observed),
          dispatch: (name, actions) => this.#systems.dispatch(name, actions),
          resyncMs: opts.resyncMs ?? 30_000,
          nextWakeMs: () => this.#nextWakeMs(),
          listRetryMs: 2_000,
          onPass: (p, observed) => this.#onPass(p, observed),
          onListError: (err) => this.#onListError(err),
        },
      },
    });
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
    return buildStatus({
      owner: this.opts.owner,
      desired: this.#desired,
      snapshot: this.#snapshot,
      observed: this.#lastObserved,
      plan: this.#lastPlan,
      runtime: this.#runtime,
      phase: (name) => this.#systems.phase(name),
      history: this.history,
      passes: this.#passes,
      lastPassAt: this.#lastPassAt,
      listError: this.#listError,
      suspended: this.opts.suspended === true,
      now: this.opts.clock.now(),
      warnings: this.#warnings,
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

  async #list(): Promise<ObservedState> {
    this.#passStartedAt = performance.now();
    if (this.#disconnected) {
      this.#disconnected = false;
      await this.#handles.releaseAll();
    }
    // Not through the limiter: a list must not queue behind hung creates (its timeout would
    // only start once a slot frees up, and reconciling would freeze meanwhile).
    const all = await this.opts.hcs.enumerate({ owners: [this.opts.owner] }, { timeoutMs: this.#timeouts.enumerate });
    const observed = groupObserved(all, this.opts.owner);
    this.#detectMissedExits(observed);
    await this.#releaseStopped(observed);
    await this.#adopt(observed);
    this.#listError = undefined;
    return observed;
  }

  /** Resync period, shortened to the end of the earliest backoff window (resync 0 = only then). */
  #nextWakeMs(): number {
    const resync = this.opts.resyncMs ?? 30_000;
    // setTimeout fires at once for delays past 2^31-1 ms, so "never" is the largest legal delay.
    let wake = resync > 0 ? resync : MAX_TIMER_MS;
    const now = this.opts.clock.now();
    for (const info of this.#runtime.values()) {
      if (info.nextRetryAt !== undefined && info.nextRetryAt > now) wake = Math.min(wake, info.nextRetryAt - now);
    }
    return wake;
  }

  #plan(observed: ObservedState): Plan {
    const desired = this.#desired.list();
    return plan({
      desired,
      observed: withoutHeld(observed, this.#desired.heldNames(), new Set(desired.map((d) => d.name))),
      runtime: this.#runtime,
      now: this.opts.clock.now(),
      allowPrune: !this.#desired.holdsAllPruning(),
      suspended: this.opts.suspended,
      defaultStopTimeoutMs: this.opts.defaultStopTimeoutMs,
    });
  }

  /** Open a handle (for SystemExited) on live systems of ours that match their manifest. */
  async #adopt(observed: ObservedState): Promise<void> {
    const work: Promise<void>[] = [];
    for (const d of this.#desired.list()) {
      const group = observed.groups.get(d.name);
      for (const part of group?.parts ?? []) {
        if (part.hash !== shortHash(d.configHash) || !isLive(part) || this.#handles.has(part.id)) continue;
        work.push(this.#adoptOne(d.name, part.id, part.state === 'Running' || part.state === 'Paused'));
      }
    }
    await Promise.all(work);
  }

  async #adoptOne(name: string, id: string, running: boolean): Promise<void> {
    try {
      await this.#limiter.run(() => this.#handles.get(id));
      if (running && !this.#running.has(id)) {
        this.#running.set(id, { name, since: this.opts.clock.now() });
        this.history.record(name, 'adopted', `${id} already running`, { id });
      }
    } catch (err) {
      this.opts.logger.warn('adopt failed', { system: name, id, err: String(err) });
    }
  }

  /**
   * HCS keeps a stopped system, and its id, while any handle to it is open. Close ours before
   * planning, so that re-creating it (same id when the config is unchanged) does not fail with
   * "already exists". The close reaches HCS before any later create on the same connection.
   */
  async #releaseStopped(observed: ObservedState): Promise<void> {
    const stopped: string[] = [];
    for (const group of observed.groups.values()) {
      for (const part of group.parts) if (!isLive(part) && this.#handles.holds(part.id)) stopped.push(part.id);
    }
    await Promise.all(stopped.map((id) => this.#handles.release(id).catch(() => undefined)));
  }

  /** Systems we knew running that are now gone or stopped, without an event (missed, or controller was disconnected). */
  #detectMissedExits(observed: ObservedState): void {
    for (const [id, known] of [...this.#running]) {
      const part = observed.groups.get(known.name)?.parts.find((p) => p.id === id);
      if (part && isLive(part)) continue;
      if (this.#expectedStops.has(id)) continue;
      this.#registerExit(id, { exitType: part?.exitType ?? 'Unknown' });
    }
  }

  #onSystemEvent(id: string, event: SystemEvent): void {
    if (event.type === 'ServiceDisconnect') {
      if (!this.#disconnected) this.history.record('*', 'error', 'lost connection to the compute service; reconnecting');
      this.#disconnected = true;
      this.reconcile();
      return;
    }
    if (this.#expectedStops.delete(id)) return;
    this.#registerExit(id, { exitType: event.exitType, status: event.status });
    // Close our handle before planning again: HCS keeps a stopped system (and its id) while
    // handles to it are open, so re-creating it first would fail with "already exists".
    void this.#handles.release(id).catch(() => undefined).finally(() => this.reconcile());
  }

  /**
   * Count the end of a run once. A crash can report twice (the entrypoint's ProcessExited, then
   * SystemExited; or a utility VM and its hosted container), so only the first report of a live
   * run of the main part counts as a restart; the others are history only.
   */
  #registerExit(id: string, exit: { exitType?: ExitType; status?: number; exitCode?: number; pid?: number }): void {
    const parsed = parseSystemId(id);
    const known = this.#running.get(id);
    this.#running.delete(id);
    const name = known?.name ?? parsed?.name;
    if (!name) return;
    const message = exit.exitCode !== undefined ? `entrypoint pid ${exit.pid} exited with code ${exit.exitCode}` : `${id} exited (ExitType ${exit.exitType ?? 'Unknown'})`;
    this.history.record(name, exit.exitCode !== undefined ? 'process-exited' : 'exited', message, { id });
    const d = this.#desired.get(name);
    if (!known || parsed?.role !== 'main' || !d || shortHash(d.configHash) !== parsed.hash) return;
    const now = this.opts.clock.now();
    const before = this.#runtime.get(name) ?? { restarts: 0 };
    let info = recordExit(before, d, { at: now, exitType: exit.exitType, exitCode: exit.exitCode, ranMs: now - known.since });
    if (!info.completed) info = this.#capRestart(name, d.configHash, now, info);
    this.#runtime.set(name, exit.exitCode === undefined ? info : { ...info, entrypointExited: { hash: d.configHash, exitCode: exit.exitCode } });
  }

  /** The hard restart cap (restart-cap.ts): over it, the system is parked as failed for this hash. */
  #capRestart(name: string, hash: string, now: number, info: RuntimeInfo): RuntimeInfo {
    const decision = countRestart(this.#restartWindows.get(name), hash, now);
    this.#restartWindows.set(name, decision.window);
    if (!decision.parked) return info;
    this.history.record(name, 'error', decision.parked);
    this.opts.logger.warn('system parked: restart cap', { system: name, reason: decision.parked });
    return { ...info, failed: { hash, message: decision.parked } };
  }

  /** The entrypoint exited: the container is shut down (like Docker) and the restart policy decides. */
  #onProcessExit(systemId: string, event: ProcessEvent): void {
    void this.#handles.releaseProcess(systemId).catch(() => undefined);
    this.#registerExit(systemId, { exitCode: event.exitCode, pid: event.processId });
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
