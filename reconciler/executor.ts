/**
 * Executes single plan steps against the HcsClient port: the side-effecting half of the core.
 * The system machine decides *when* (ordering, stop timeout, backoff); this decides *how*.
 */
import { backoffDelay, DEFAULT_BACKOFF, formatDelay } from './backoff.ts';
import type { HandleRegistry } from './handles.ts';
import type { EventHistory } from './history.ts';
import type { Limiter } from './limiter.ts';
import type { PlanAction, RuntimeInfo } from './plan.ts';
import type { DesiredSystem, HcsFailure, Logger, ObservedProcess } from './ports.ts';
import type { OperationTimeouts } from './timeouts.ts';
import { identifyEntrypoint, MemoryEntrypointRecords, recordFor, type EntrypointRecords } from './entrypoint-identity.ts';

/** What the executor needs from the controller. */
export interface ExecutorDeps {
  handles: HandleRegistry;
  limiter: Limiter;
  timeouts: OperationTimeouts;
  history: EventHistory;
  logger: Logger;
  now(): number;
  desired(name: string): DesiredSystem | undefined;
  runtime(name: string): RuntimeInfo;
  setRuntime(name: string, info: RuntimeInfo): void;
  /** Ids being stopped on purpose: their SystemExited is not an unexpected exit. */
  expectedStops: Set<string>;
  /** Ids this controller knows to be running (for exit detection on relist). */
  running: Map<string, { name: string; since: number }>;
  /** Records of the entrypoints it started (entrypoint-identity.ts); default in memory. */
  entrypoints?: EntrypointRecords;
}

/** Outcome of a failed step, as the system machine needs it. */
export interface FailureOutcome {
  permanent: boolean;
  delayMs: number;
  message: string;
}

type StepAction = Exclude<PlanAction, { kind: 'wait' | 'stop' }>;
type StopAction = Extract<PlanAction, { kind: 'stop' }>;

/** Runs plan steps through the HCS port with bounded concurrency and named timeouts. */
export class StepExecutor {
  /** Systems this controller created whose entrypoint has not been started yet. */
  readonly #awaitingEntrypoint = new Set<string>();

  readonly #entrypoints: EntrypointRecords;

  constructor(private readonly deps: ExecutorDeps) {
    this.#entrypoints = deps.entrypoints ?? new MemoryEntrypointRecords();
  }

  /** Execute one non-stop step. */
  async run(action: StepAction, signal?: AbortSignal): Promise<void> {
    switch (action.kind) {
      case 'create':
        return this.#create(action, signal);
      case 'start':
        return this.#start(action, signal);
      case 'pause':
        return this.#simple(action, 'pause', this.deps.timeouts.pause, signal);
      case 'resume':
        return this.#simple(action, 'resume', this.deps.timeouts.resume, signal);
      case 'startProcess':
        return this.#startProcess(action.name, action.id, signal);
      case 'ensureProcess':
        return this.#ensureProcess(action.name, action.id, signal);
    }
  }

  /** Graceful stop (HcsShutDownComputeSystem); the machine falls back to terminate on timeout. */
  async shutdown(action: StopAction, signal?: AbortSignal): Promise<void> {
    this.deps.expectedStops.add(action.id);
    const system = await this.deps.handles.get(action.id);
    // VMs rendered with the shutdown integration service get its ShutdownOptions (audit D7).
    const options = this.deps.desired(action.name)?.parts.find((p) => p.id === action.id)?.shutdownOptions;
    await this.deps.limiter.run(() => system.shutdown({ signal, timeoutMs: action.stopTimeoutMs, ...(options ? { options } : {}) }));
    await this.#stopped(action, 'shut down');
  }

  /** Forced stop (HcsTerminateComputeSystem). */
  async terminate(action: StopAction, signal?: AbortSignal): Promise<void> {
    this.deps.expectedStops.add(action.id);
    const system = await this.deps.handles.get(action.id);
    await this.deps.limiter.run(() => system.terminate({ signal, timeoutMs: this.deps.timeouts.terminate }));
    await this.#stopped(action, 'terminated');
  }

  /** Record a failed step: permanent errors park the name, others back off (kubelet curve). */
  onFailure(action: PlanAction, err: unknown): FailureOutcome {
    const failure = err as Partial<HcsFailure>;
    const message = err instanceof Error ? err.message : String(err);
    const info = this.deps.runtime(action.name);
    const d = this.deps.desired(action.name);
    const fields = { op: action.kind, system: action.name, id: 'id' in action ? action.id : undefined, err: message };
    if (failure.permanent && d) {
      this.deps.setRuntime(action.name, { ...info, failed: { hash: d.configHash, message } });
      this.deps.history.record(action.name, 'error', `${action.kind} failed permanently: ${message}`, this.#errExtra(action, failure));
      this.deps.logger.error('step failed permanently', fields);
      return { permanent: true, delayMs: 0, message };
    }
    if (failure.kind === 'alreadyStopped' || failure.kind === 'notFound') {
      // The system stopped or vanished under this step (a crash mid-sequence): its exit event is
      // counted by the controller, so counting the failed step too would double the backoff.
      this.deps.history.record(action.name, 'error', `${action.kind} found the system gone: ${message}`, this.#errExtra(action, failure));
      return { permanent: false, delayMs: 0, message };
    }
    const restarts = info.restarts + 1;
    const delayMs = Math.max(backoffDelay(restarts, d?.backoff ?? DEFAULT_BACKOFF), 1000);
    this.deps.setRuntime(action.name, { ...info, restarts, nextRetryAt: this.deps.now() + delayMs });
    this.deps.history.record(action.name, 'backoff', `${action.kind} failed: ${message}; retry in ${formatDelay(delayMs)}`, this.#errExtra(action, failure));
    this.deps.logger.warn('step failed, backing off', { ...fields, delayMs });
    return { permanent: false, delayMs, message };
  }

  #errExtra(action: PlanAction, failure: Partial<HcsFailure>): { id?: string; hresult?: string } {
    return {
      ...('id' in action ? { id: action.id } : {}),
      ...(typeof failure.hresult === 'number' ? { hresult: `0x${(failure.hresult >>> 0).toString(16).toUpperCase().padStart(8, '0')}` } : {}),
    };
  }

  async #create(action: Extract<PlanAction, { kind: 'create' }>, signal?: AbortSignal): Promise<void> {
    const { handles, limiter, timeouts } = this.deps;
    await limiter.run(() => handles.create(action.id, action.part.document, { signal, timeoutMs: timeouts.create }));
    if (action.part.role === 'main') this.#awaitingEntrypoint.add(action.id);
    // A new run: an exit recorded for the previous run no longer applies.
    const { entrypointExited: _previous, entrypointRunning: _old, ...rest } = this.deps.runtime(action.name);
    this.deps.setRuntime(action.name, rest);
    const kind = action.cause.startsWith('config hash changed') ? 'recreated' : 'created';
    this.deps.history.record(action.name, kind, `${action.id}: ${action.cause}`, { id: action.id });
  }

  async #start(action: Extract<PlanAction, { kind: 'start' }>, signal?: AbortSignal): Promise<void> {
    const system = await this.deps.handles.get(action.id);
    await this.deps.limiter.run(() => system.start({ signal, timeoutMs: this.deps.timeouts.start }));
    this.deps.running.set(action.id, { name: action.name, since: this.deps.now() });
    this.deps.history.record(action.name, 'started', `${action.id} running`, { id: action.id });
  }

  async #simple(action: Extract<PlanAction, { kind: 'pause' | 'resume' }>, op: 'pause' | 'resume', timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const system = await this.deps.handles.get(action.id);
    await this.deps.limiter.run(() => system[op]({ signal, timeoutMs }));
    this.deps.history.record(action.name, op === 'pause' ? 'paused' : 'resumed', `${action.id}: ${action.cause}`, { id: action.id });
  }

  async #startProcess(name: string, id: string, signal?: AbortSignal): Promise<void> {
    const d = this.deps.desired(name);
    if (!d?.process) return;
    const system = await this.deps.handles.get(id);
    const proc = await this.deps.limiter.run(() => system.createProcess(d.process!.parameters, { signal, timeoutMs: this.deps.timeouts.process }));
    await this.deps.handles.trackProcess(proc);
    this.#awaitingEntrypoint.delete(id);
    this.#entrypoints.set(id, recordFor(proc, d.process.commandLine));
    this.deps.setRuntime(name, { ...this.deps.runtime(name), entrypointRunning: d.configHash });
    this.deps.history.record(name, 'process-started', `pid ${proc.processId}: ${d.process.commandLine}`, { id });
  }

  /**
   * After an adoption the entrypoint is looked up in ProcessList rather than started again. If the
   * container runs but its entrypoint is gone, it exited while the controller was away: treat it
   * like a process exit (shut the container down, then the restart policy decides).
   */
  async #ensureProcess(name: string, id: string, signal?: AbortSignal): Promise<void> {
    const d = this.deps.desired(name);
    if (!d?.process) return;
    if (this.deps.handles.hasProcess(id)) {
      this.deps.setRuntime(name, { ...this.deps.runtime(name), entrypointRunning: d.configHash });
      return;
    }
    const system = await this.deps.handles.get(id);
    const props = await this.deps.limiter.run(() => system.properties({ propertyTypes: ['ProcessList'] }, { signal, timeoutMs: this.deps.timeouts.properties }));
    const match = identifyEntrypoint(props.processList ?? [], d.process.commandLine, this.#entrypoints.get(id));
    const info = this.deps.runtime(name);
    if (match.kind !== 'absent') {
      const found = match.process;
      const proc = await this.deps.limiter.run(() => system.openProcess(found.processId, { signal, timeoutMs: this.deps.timeouts.process }));
      await this.deps.handles.trackProcess(proc);
      this.#entrypoints.set(id, recordFor(found, d.process.commandLine));
      this.deps.setRuntime(name, { ...info, entrypointRunning: d.configHash });
      const how = match.kind === 'ambiguous' ? ` (oldest of ${match.candidates} ${found.imageName ?? ''} processes)` : ` (by ${match.kind})`;
      this.deps.history.record(name, 'adopted', `found entrypoint pid ${found.processId} again${how}`, { id });
      return;
    }
    if (this.#awaitingEntrypoint.has(id)) return this.#startProcess(name, id, signal);
    this.deps.setRuntime(name, { ...info, entrypointExited: { hash: d.configHash, exitCode: -1 } });
    this.deps.history.record(name, 'process-exited', 'entrypoint not running (exited while the controller was away)', { id });
  }

  async #stopped(action: StopAction, how: string): Promise<void> {
    this.#awaitingEntrypoint.delete(action.id);
    await this.deps.handles.release(action.id);
    this.deps.running.delete(action.id);
    const kind = action.cause === 'manifest removed' ? 'pruned' : 'stopped';
    this.deps.history.record(action.name, kind, `${action.id} ${how}: ${action.cause}`, { id: action.id });
    if (action.exit) {
      const { entrypointExited: _done, entrypointRunning: _r, ...rest } = this.deps.runtime(action.name);
      this.deps.setRuntime(action.name, rest);
    }
  }
}

/** The entrypoint in a ProcessList, from HCS's fields only (see entrypoint-identity.ts). */
export function findEntrypoint(list: readonly ObservedProcess[], commandLine: string): ObservedProcess | undefined {
  const match = identifyEntrypoint(list, commandLine);
  return match.kind === 'absent' ? undefined : match.process;
}
