/**
 * NativeHcsSystem: an open HCS_SYSTEM handle.
 */
import type {
  CallOptions, Disposable, HcsProcess, HcsSystem, SystemEvent, SystemProperties,
} from '../../reconciler/ports.ts';
import { propertyQueryJson, toSystemExit, toSystemProperties } from './documents.ts';
import { HcsError, HRESULTS, isAlreadyStopped, isNotFound } from './errors.ts';
import { HcsEventType } from './events.ts';
import { GENERIC_ALL, type NativeEvent, type OperationHandle, type SystemHandle } from './ffi.ts';
import { ExitListeners, openHandle, type ClientContext } from './handles.ts';
import { NativeHcsProcess } from './process.ts';
import { isNoHandle, kernel32LibraryPath, ProcessStdio } from './stdio.ts';

/** An open compute-system handle. Closing it never stops the system. */
export class NativeHcsSystem implements HcsSystem {
  private readonly listeners = new ExitListeners<SystemEvent>();
  private readonly key: number;
  private closing?: Promise<void>;

  /** Wraps a fresh handle and subscribes to its events at once. */
  constructor(private readonly ctx: ClientContext, readonly id: string, private readonly handle: SystemHandle) {
    this.key = ctx.events.attach((ev) => this.onNativeEvent(ev));
    ctx.native.setComputeSystemCallback(handle, 0, BigInt(this.key), ctx.events.systemCallback);
    ctx.track(this);
  }

  start(opts?: CallOptions): Promise<void> {
    return this.simple('start', (op) => this.ctx.native.startComputeSystem(this.handle, op, null), opts);
  }

  /** Graceful stop; a system that is already stopped or gone counts as success (like hcsshim). */
  shutdown(opts?: CallOptions): Promise<void> {
    return this.idempotentStop('shutdown', (op) => this.ctx.native.shutDownComputeSystem(this.handle, op, null), opts);
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
   * Pipes asked for with CreateStdInPipe/CreateStdOutPipe/CreateStdErrPipe are on the returned
   * process's `stdio` (NativeHcsProcess.stdio); the caller reads them or closes them.
   */
  async createProcess(parameters: Record<string, unknown>, opts?: CallOptions): Promise<HcsProcess> {
    const json = JSON.stringify(parameters);
    let proc: NativeHcsProcess | undefined;
    const start = (op: OperationHandle): number => {
      const r = this.ctx.native.createProcess(this.handle, json, op);
      // The handle exists before the operation completes: subscribe now so no exit is missed.
      if (r.process !== null) proc = new NativeHcsProcess(this.ctx, this.id, r.process, 0);
      return r.hr;
    };
    try {
      const r = await this.ctx.runner.run({ op: 'process.create', systemId: this.id, processInfo: true, start: (o) => this.guard(o, start) }, opts);
      const created = proc as NativeHcsProcess;
      created.setProcessId(r.processId);
      if (r.stdio && !Object.values(r.stdio).every(isNoHandle)) {
        created.stdio = new ProcessStdio(kernel32LibraryPath(this.ctx.native.libraryPath), r.stdio);
      }
      return created;
    } catch (err) {
      await proc?.close();
      throw err;
    }
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
    });
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
