/**
 * NativeHcsProcess: an open HCS_PROCESS handle.
 */
import type { CallOptions, Disposable, HcsProcess, ProcessEvent } from '../../reconciler/ports.ts';
import { toProcessExit, toProcessStatus } from './documents.ts';
import { failed, HcsError, HRESULTS, isProcessGone } from './errors.ts';
import { HcsEventType } from './events.ts';
import type { NativeEvent, OperationHandle, ProcessHandle, StdHandleValues } from './ffi.ts';
import { ExitListeners, type ClientContext } from './handles.ts';
import { kernel32LibraryPath, ProcessStdio } from './stdio.ts';

/** The exit code reported when HCS says the real one is not valid (LastWaitResult != S_OK). */
export const UNKNOWN_EXIT_CODE = -1;

/** An open process handle; implements the core's HcsProcess plus signal/modify/info. */
export class NativeHcsProcess implements HcsProcess {
  private readonly exits = new ExitListeners<ProcessEvent>();
  private readonly key: number;
  private closing?: Promise<void>;
  private pid: number;
  /** The stdio pipes HcsCreateProcess made (D16), if any were asked for; the caller owns them. */
  stdio?: ProcessStdio;

  /** Wraps a handle (tracked at once); events flow after {@link subscribe} (audit D8). */
  constructor(
    private readonly ctx: ClientContext,
    readonly systemId: string,
    private readonly handle: ProcessHandle,
    processId: number,
  ) {
    this.pid = processId;
    this.key = ctx.events.attach((ev) => this.onNativeEvent(ev));
    ctx.track(this);
  }

  /** Registers the event callback after the create/open completed, checking its HRESULT (hcsshim order). */
  subscribe(): void {
    const hr = this.ctx.native.setProcessCallback(this.handle, 0, BigInt(this.key), this.ctx.events.processCallback);
    if (failed(hr)) throw new HcsError({ op: 'process.callback', systemId: this.systemId, hresult: hr });
  }

  /**
   * One ProcessStatus query after registration: an exit that came first is delivered as
   * ProcessExited, as is a process already gone (isProcessGone); any other failure rejects.
   */
  async closeRace(opts?: CallOptions): Promise<void> {
    const status = await this.properties(opts).catch((err: unknown) => {
      if (isProcessGone(err)) return { exited: true, exitCode: undefined };
      throw err;
    });
    if (!status.exited) return;
    const event: ProcessEvent = { type: 'ProcessExited', systemId: this.systemId, processId: this.pid, exitCode: status.exitCode ?? UNKNOWN_EXIT_CODE };
    this.exits.emit(event, true);
  }

  /** The process id inside the compute system. */
  get processId(): number {
    return this.pid;
  }

  /** Set once HcsCreateProcess completes (the handle exists before the id is known). */
  setProcessId(pid: number): void {
    this.pid = pid;
  }

  /** ProcessStatus: whether it exited and its exit code. */
  async properties(opts?: CallOptions): Promise<{ exited: boolean; exitCode?: number; raw: Record<string, unknown> }> {
    const r = await this.run('process.properties', (op) => this.ctx.native.getProcessProperties(this.handle, op, null), opts);
    return toProcessStatus(r.document);
  }

  /**
   * Terminates the process; a process that already exited counts as success, including the
   * ERROR_NOT_FOUND and ERROR_ACCESS_DENIED HCS returns for it (hcsshim process.go, {@link isProcessGone}).
   */
  async terminate(opts?: CallOptions): Promise<void> {
    try {
      await this.run('process.terminate', (op) => this.ctx.native.terminateProcess(this.handle, op, null), opts);
    } catch (err) {
      if (!isProcessGone(err)) throw err;
    }
  }

  /** Sends a console signal (`ProcessSignal` options JSON, e.g. `{"Signal":"CtrlC"}`). */
  async signal(options: Record<string, unknown> = {}, opts?: CallOptions): Promise<void> {
    const json = JSON.stringify(options);
    await this.run('process.signal', (op) => this.ctx.native.signalProcess(this.handle, op, json), opts);
  }

  /** HcsModifyProcess with a settings document (e.g. console size, close stdin). */
  async modify(settings: Record<string, unknown>, opts?: CallOptions): Promise<void> {
    const json = JSON.stringify(settings);
    await this.run('process.modify', (op) => this.ctx.native.modifyProcess(this.handle, op, json), opts);
  }

  /**
   * HcsGetProcessInfo: the process id as HCS reports it. Std handles it may return are closed here
   * (the pipes to use are the ones from HcsCreateProcess, on `stdio`; whether HcsGetProcessInfo
   * hands out new handles to the same pipes is UNVERIFIED).
   */
  async info(opts?: CallOptions): Promise<{ processId: number }> {
    const r = await this.processInfo(opts);
    if (r.stdio) new ProcessStdio(kernel32LibraryPath(this.ctx.native.libraryPath), r.stdio).close();
    return { processId: r.processId };
  }

  /**
   * HcsGetProcessInfo with its std handles handed to the caller, who must close them: the D6
   * recovery of a CreateProcess whose wait failed spuriously, where these are the process's only
   * pipes (hcsshim internal/hcs/v2/system.go createProcess uses this processInfo's handles).
   */
  processInfo(opts?: CallOptions): Promise<{ processId: number; stdio?: StdHandleValues }> {
    return this.ctx.runner.run(
      { op: 'process.info', systemId: this.systemId, processInfo: true, start: (op) => this.guard(op, (o) => this.ctx.native.getProcessInfo(this.handle, o)) },
      opts,
    );
  }

  /** Subscribes to ProcessExited (also delivered if it already happened). */
  onExit(listener: (event: ProcessEvent) => void): Disposable {
    return this.exits.add(listener);
  }

  /** Closes the handle exactly once, on a pool thread (HCS waits for an in-flight callback, which needs this thread). */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    // Forgotten only once HCS closed it: a handle whose close failed may still call back, so it
    // stays tracked, and the client then keeps the shared callbacks registered.
    await this.ctx.native.closeProcessAsync(this.handle);
    this.ctx.events.detach(this.key);
    this.exits.clear();
    this.ctx.untrack(this);
  }

  private run(op: string, start: (operation: OperationHandle) => number, opts?: CallOptions) {
    return this.ctx.runner.run({ op, systemId: this.systemId, start: (o) => this.guard(o, start) }, opts);
  }

  /** A closed handle value is never passed to HCS (it may have been reused there). */
  private guard(op: OperationHandle, start: (operation: OperationHandle) => number): number {
    return this.closing ? HRESULTS.E_HANDLE : start(op);
  }

  private onNativeEvent(ev: NativeEvent): void {
    if (ev.type !== HcsEventType.ProcessExited) return;
    const exit = toProcessExit(ev.eventData);
    const event: ProcessEvent = {
      type: 'ProcessExited',
      systemId: this.systemId,
      processId: exit.processId ?? this.pid,
      // -1: the exit code is unknown (HCS reported it invalid); the same marker the core uses.
      exitCode: exit.exitCode ?? UNKNOWN_EXIT_CODE,
    };
    this.exits.emit(event, true);
  }
}

