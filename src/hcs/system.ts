/**
 * NativeHcsSystem: an open HCS_SYSTEM handle.
 */
import type {
  CallOptions, Disposable, HcsProcess, HcsSystem, ShutdownCallOptions, SystemEvent, SystemProperties,
} from '../../reconciler/ports.ts';
import { propertyQueryJson, toSystemExit, toSystemProperties } from './documents.ts';
import { failed, HcsError, HRESULTS, isAlreadyStopped, isNotFound } from './errors.ts';
import { HcsEventType } from './events.ts';
import { GENERIC_ALL, type NativeEvent, type OperationHandle, type StdHandleValues, type SystemHandle } from './ffi.ts';
import { ExitListeners, openHandle, type ClientContext } from './handles.ts';
import { NativeHcsProcess } from './process.ts';
import { isNoHandle, kernel32LibraryPath, ProcessStdio } from './stdio.ts';

/** An open compute-system handle. Closing it never stops the system. */
export class NativeHcsSystem implements HcsSystem {
  private readonly listeners = new ExitListeners<SystemEvent>();
  private readonly key: number;
  private closing?: Promise<void>;
  /** The race-closing query of a create, until the first start awaits it ({@link beginRaceClose}). */
  private raceClosed?: Promise<void>;

  /**
   * Wraps a handle (tracked at once, so client.close() closes it). Events flow only after
   * {@link subscribe}, which callers run once the create/open has completed (audit D8).
   */
  constructor(private readonly ctx: ClientContext, readonly id: string, private readonly handle: SystemHandle) {
    this.key = ctx.events.attach((ev) => this.onNativeEvent(ev));
    ctx.track(this);
  }

  /** Files granted to this VM's account by {@link grantDisks}, revoked once it stopped. */
  private granted: string[] = [];

  /**
   * HcsGrantVmAccess for each disk, after create and before start, as every real caller does
   * (hcsshim uvm/create_wcow.go, WSL, multipass hcs_virtual_machine.cpp; audit D3).
   */
  async grantDisks(paths: readonly string[]): Promise<void> {
    for (const path of paths) {
      const hr = await this.ctx.native.grantVmAccessAsync(this.id, path);
      if (failed(hr)) throw new HcsError({ op: `grantVmAccess ${path}`, systemId: this.id, hresult: hr });
      this.granted.push(path);
    }
  }

  /** Revokes the grants once the VM stopped ("revoked on removal"); failures only mean nothing to undo. */
  private async revokeDisks(): Promise<void> {
    const paths = this.granted;
    this.granted = [];
    for (const path of paths) await this.ctx.native.revokeVmAccessAsync(this.id, path).catch(() => 0);
  }

  /**
   * Registers the event callback, in hcsshim's order: after the create or open completed
   * (internal/hcs/v2/system.go; WSL and multipass do the same), with its HRESULT checked: a
   * failed registration would mean no SystemExited ever arrives.
   */
  subscribe(op: 'create' | 'open'): void {
    const hr = this.ctx.native.setComputeSystemCallback(this.handle, 0, BigInt(this.key), this.ctx.events.systemCallback);
    if (failed(hr)) throw new HcsError({ op: `${op}.callback`, systemId: this.id, hresult: hr });
  }

  /**
   * The one state query that closes the race between completion and registration: an exit that
   * happened before the callback was registered is delivered as a SystemExited (audit D8). A system
   * that is already gone (not found) has exited too; any other failure rejects.
   */
  async closeRace(opts?: CallOptions): Promise<void> {
    const props = await this.properties(undefined, opts).catch((err: unknown) => {
      if (isNotFound(err)) return { stopped: true, state: 'Stopped', exitType: undefined };
      throw err;
    });
    if (props.stopped === true || props.state === 'Stopped') {
      this.listeners.emit({ type: 'SystemExited', systemId: this.id, status: 0, exitType: props.exitType ?? 'Unknown' }, true);
    }
  }

  /**
   * Sends the race-closing query of a create without holding the create up (audit D8). The first
   * start awaits it, so an exit it finds is delivered, and a failure surfaces as that start's error,
   * before the system is started; meanwhile the caller's HCS slot is free (on the emulator's
   * benchmark every call costs L, and awaiting it inside the create's slot cost 1.16x -> 1.66x).
   */
  beginRaceClose(opts?: CallOptions): void {
    const race = this.closeRace(opts);
    race.catch(() => {}); // handled by the start that awaits it; a system never started has no one to tell
    this.raceClosed = race;
  }

  ready(): Promise<void> {
    return this.raceClosed ?? Promise.resolve();
  }

  async start(opts?: CallOptions): Promise<void> {
    const race = this.raceClosed;
    this.raceClosed = undefined;
    if (race) await race;
    return this.simple('start', (op) => this.ctx.native.startComputeSystem(this.handle, op, null), opts);
  }

  /**
   * Graceful stop, with the `ShutdownOptions` document if given (e.g. IntegrationService for VMs,
   * audit D7); a system that is already stopped or gone counts as success (like hcsshim).
   */
  shutdown(opts?: ShutdownCallOptions): Promise<void> {
    const options = opts?.options ? JSON.stringify(opts.options) : null;
    return this.idempotentStop('shutdown', (op) => this.ctx.native.shutDownComputeSystem(this.handle, op, options), opts);
  }

  /** Forced stop; a system that is already stopped or gone counts as success. */
  terminate(opts?: CallOptions): Promise<void> {
    return this.idempotentStop('terminate', (op) => this.ctx.native.terminateComputeSystem(this.handle, op, null), opts);
  }

  pause(opts?: CallOptions): Promise<void> {
    return this.simple('pause', (op) => this.ctx.native.pauseComputeSystem(this.handle, op, null), opts);
  }

  resume(opts?: CallOptions): Promise<void> {
    return this.simple('resume', (op) => this.ctx.native.resumeComputeSystem(this.handle, op, null), opts);
  }

  /** Basic properties, plus the given `PropertyTypes` (e.g. `['ProcessList']`). */
  async properties(query?: { propertyTypes?: string[] }, opts?: CallOptions): Promise<SystemProperties> {
    const json = propertyQueryJson(query);
    const r = await this.run('properties', (op) => this.ctx.native.getComputeSystemProperties(this.handle, op, json), opts);
    return toSystemProperties(r.document, this.id);
  }

  /** HcsModifyComputeSystem with a ModifySettingRequest document. */
  modify(request: Record<string, unknown>, opts?: CallOptions): Promise<void> {
    const json = JSON.stringify(request);
    return this.simple('modify', (op) => this.ctx.native.modifyComputeSystem(this.handle, op, json), opts);
  }

  /**
   * Starts a process (ProcessParameters document); resolves once HCS reports its process id.
   * A failed operation with a process handle is checked with HcsGetProcessInfo before giving up:
   * on WS2022 the wait can fail spuriously (e.g. E_INVALIDARG) although the process runs (hcsshim
   * internal/hcs/v2/system.go, audit D6). Events are registered after completion, then one
   * ProcessStatus query closes the race (D8).
   * Pipes asked for with CreateStdInPipe/CreateStdOutPipe/CreateStdErrPipe are on the returned
   * process's `stdio` (NativeHcsProcess.stdio); the caller reads them or closes them.
   */
  async createProcess(parameters: Record<string, unknown>, opts?: CallOptions): Promise<HcsProcess> {
    const json = JSON.stringify(parameters);
    let proc: NativeHcsProcess | undefined;
    const start = (op: OperationHandle): number => {
      const r = this.ctx.native.createProcess(this.handle, json, op);
      if (r.process !== null) proc = new NativeHcsProcess(this.ctx, this.id, r.process, 0);
      return r.hr;
    };
    let pid: number;
    let stdio: StdHandleValues | undefined;
    try {
      const r = await this.ctx.runner.run({ op: 'process.create', systemId: this.id, processInfo: true, start: (o) => this.guard(o, start) }, opts);
      pid = r.processId;
      stdio = r.stdio;
    } catch (err) {
      // D6: the wait failed but HCS handed back a process handle. HcsGetProcessInfo then gives the
      // pid and the process's pipes (their only copy: the failed result's were closed by the runner).
      const recovered = proc ? await recoveredInfo(proc, opts) : undefined;
      pid = recovered?.processId ?? 0;
      stdio = recovered?.stdio;
      if (pid === 0) {
        if (stdio) new ProcessStdio(kernel32LibraryPath(this.ctx.native.libraryPath), stdio).close();
        await proc?.close();
        throw err;
      }
    }
    const created = proc as NativeHcsProcess;
    created.setProcessId(pid);
    if (stdio && !Object.values(stdio).every(isNoHandle)) {
      created.stdio = new ProcessStdio(kernel32LibraryPath(this.ctx.native.libraryPath), stdio);
    }
    await subscribed(created, opts);
    return created;
  }

  /** Opens an existing process by id (HcsOpenProcess runs on a pool thread). */
  async openProcess(processId: number, opts: CallOptions = {}): Promise<HcsProcess> {
    if (this.closing) throw this.closedError('process.open');
    return openHandle(this.ctx, { op: 'process.open', systemId: this.id }, opts, {
      open: async () => {
        const r = await this.ctx.native.openProcessAsync(this.handle, processId, GENERIC_ALL);
        return { hr: r.hr, handle: r.process };
      },
      close: (handle) => this.ctx.native.closeProcessAsync(handle),
      wrap: (handle) => new NativeHcsProcess(this.ctx, this.id, handle, processId),
    }).then((proc) => subscribed(proc, opts));
  }

  /** Subscribes to SystemExited / ServiceDisconnect (SystemExited is replayed to late subscribers). */
  onEvent(listener: (event: SystemEvent) => void): Disposable {
    return this.listeners.add(listener);
  }

  /** Releases the handle exactly once, on a pool thread; never stops the system. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    // Forgotten only once HCS closed it: a handle whose close failed may still call back, so it
    // stays tracked, and the client then keeps the shared callbacks registered.
    await this.ctx.native.closeComputeSystemAsync(this.handle);
    this.ctx.events.detach(this.key);
    this.listeners.clear();
    this.ctx.untrack(this);
  }

  private async idempotentStop(op: string, start: (operation: OperationHandle) => number, opts?: CallOptions): Promise<void> {
    try {
      await this.run(op, start, opts);
    } catch (err) {
      if (!isAlreadyStopped(err) && !isNotFound(err)) throw err;
    }
    await this.revokeDisks();
  }

  private async simple(op: string, start: (operation: OperationHandle) => number, opts?: CallOptions): Promise<void> {
    await this.run(op, start, opts);
  }

  private run(op: string, start: (operation: OperationHandle) => number, opts?: CallOptions) {
    return this.ctx.runner.run({ op, systemId: this.id, start: (o) => this.guard(o, start) }, opts);
  }

  /** A closed handle value is never passed to HCS. */
  private guard(op: OperationHandle, start: (operation: OperationHandle) => number): number {
    return this.closing ? HRESULTS.E_HANDLE : start(op);
  }

  private closedError(op: string): HcsError {
    return new HcsError({ op, systemId: this.id, hresult: HRESULTS.E_HANDLE });
  }

  private onNativeEvent(ev: NativeEvent): void {
    if (ev.type === HcsEventType.SystemExited) {
      const exit = toSystemExit(ev.eventData);
      this.listeners.emit({ type: 'SystemExited', systemId: this.id, status: exit.status, exitType: exit.exitType }, true);
    } else if (ev.type === HcsEventType.ServiceDisconnect) {
      this.listeners.emit({ type: 'ServiceDisconnect', systemId: this.id }, false);
    }
  }
}

/** HcsGetProcessInfo on a handle whose create reported failure: pid and pipes if the process exists, else undefined. */
async function recoveredInfo(proc: NativeHcsProcess, opts?: CallOptions): Promise<{ processId: number; stdio?: StdHandleValues } | undefined> {
  try {
    return await proc.processInfo(opts);
  } catch {
    return undefined;
  }
}

/** Registers the process callback after completion plus the race-closing query; closes the handle on failure. */
async function subscribed(proc: NativeHcsProcess, opts?: CallOptions): Promise<NativeHcsProcess> {
  try {
    proc.subscribe();
    await proc.closeRace({ timeoutMs: opts?.timeoutMs }); // awaited, as for systems (client.ts, audit D8)
    return proc;
  } catch (err) {
    await proc.close();
    throw err;
  }
}
