/**
 * The vmcompute.dll side of the client port: systems created from schema 1.0 documents (Hyper-V
 * isolation the Docker way). NativeHcsClient.create routes such documents here; everything else,
 * and open/enumerate, stays on computecore.dll (the same service).
 *
 * Completion model (hcsshim internal/hcs, v1): a call returns S_OK, a failure, or
 * ERROR_VMCOMPUTE_OPERATION_PENDING; a pending Create/Start/Pause/Resume completes with its
 * *Completed notification (status = HRESULT, data = result document); a pending ShutDown ends with
 * SystemExited, or SystemShutdownFailed. The notification callback is registered right after
 * Create returns, as hcsshim does, and its HRESULT is checked.
 */
import type {
  CallOptions, Disposable, HcsProcess, HcsSystem, ProcessEvent, ShutdownCallOptions, SystemEvent, SystemProperties,
} from '../../reconciler/ports.ts';
import { propertyQueryJson, toProcessExit, toProcessStatus, toSystemExit, toSystemProperties } from './documents.ts';
import { failed, HcsError, HRESULTS, isAlreadyStopped, isNotFound, isProcessGone } from './errors.ts';
import type { CallbackPointer } from './ffi.ts';
import { ExitListeners, type Closable } from './handles.ts';
import { UNKNOWN_EXIT_CODE } from './process.ts';
import { Notification, VMCOMPUTE_PENDING, VmcomputeNative, type V1Handle, type V1Result } from './vmcompute-ffi.ts';

type Sink = (type: number, status: number, data: string | null) => void;

/** The loaded vmcompute library, its one notification callback and the key → handle table. */
export class VmcomputeBinding {
  readonly native: VmcomputeNative;
  readonly callback: CallbackPointer;
  private readonly sinks = new Map<number, Sink>();
  private nextKey = 1;

  constructor(libraryPath: string | undefined, private readonly track: (h: Closable) => void, private readonly untrack: (h: Closable) => void) {
    this.native = new VmcomputeNative(libraryPath);
    this.callback = this.native.registerCallback((type, ctx, status, data) => this.sinks.get(Number(ctx))?.(type, status, data));
  }

  attach(sink: Sink): number {
    const key = this.nextKey++;
    this.sinks.set(key, sink);
    return key;
  }

  detach(key: number): void {
    this.sinks.delete(key);
  }

  /** Creates a system from a schema 1.0 document and waits for SystemCreateCompleted. */
  async create(id: string, json: string, opts: CallOptions = {}): Promise<VmcomputeSystem> {
    const r = this.native.create(id, json);
    if (r.system === null) throw err('create', id, r);
    const system = new VmcomputeSystem(this, id, r.system);
    try {
      system.subscribe();
      if (r.hr === VMCOMPUTE_PENDING) await system.completion(Notification.SystemCreateCompleted, 'create', opts);
      else if (failed(r.hr)) throw err('create', id, r);
      return system;
    } catch (e) {
      await system.close();
      throw e;
    }
  }

  /** Releases the callback once no handle can call it. */
  dispose(): void {
    if (this.sinks.size === 0) this.native.unregisterCallback(this.callback);
  }

  /** @internal */
  tracked(h: Closable, on: boolean): void {
    if (on) this.track(h);
    else this.untrack(h);
  }
}

function err(op: string, systemId: string, r: V1Result, fromResult = false): HcsError {
  return new HcsError({ op, systemId, hresult: r.hr, resultDocument: r.result, fromResult });
}

interface Waiter {
  type: number;
  resolve(r: { status: number; data: string | null }): void;
}

/** An open vmcompute system handle. */
export class VmcomputeSystem implements HcsSystem {
  private readonly listeners = new ExitListeners<SystemEvent>();
  private readonly key: number;
  private waiters: Waiter[] = [];
  private registration?: V1Handle;
  private exited = false;
  private closing?: Promise<void>;

  constructor(private readonly b: VmcomputeBinding, readonly id: string, private readonly handle: V1Handle) {
    this.key = b.attach((type, status, data) => this.onNotification(type, status, data));
    b.tracked(this, true);
  }

  /** HcsRegisterComputeSystemCallback, HRESULT checked (audit D8). */
  subscribe(): void {
    const r = this.b.native.registerSystemCallback(this.handle, this.b.callback, BigInt(this.key));
    if (failed(r.hr) || r.handle === null) throw new HcsError({ op: 'create.callback', systemId: this.id, hresult: r.hr });
    this.registration = r.handle;
  }

  /** Waits for a completion notification; rejects with its status when it reports a failure. */
  async completion(type: number, op: string, opts: CallOptions): Promise<string | null> {
    const { status, data } = await this.wait([type], op, opts);
    if (failed(status)) throw new HcsError({ op, systemId: this.id, hresult: status, resultDocument: data, fromResult: true });
    return data;
  }

  private wait(types: number[], op: string, opts: CallOptions): Promise<{ status: number; data: string | null }> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiters = types.map((type): Waiter => ({ type, resolve: (r) => done(() => resolve(r)) }));
      const onAbort = (): void => done(() => reject(new HcsError({ op, systemId: this.id, hresult: HRESULTS.E_ABORT })));
      const done = (fn: () => void): void => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => !waiters.includes(w));
        fn();
      };
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => done(() => reject(new HcsError({ op, systemId: this.id, hresult: HRESULTS.HCS_E_OPERATION_TIMEOUT }))), opts.timeoutMs);
      }
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(...waiters);
    });
  }

  private onNotification(type: number, status: number, data: string | null): void {
    if (type === Notification.SystemExited) {
      this.exited = true;
      const exit = toSystemExit(data);
      this.listeners.emit({ type: 'SystemExited', systemId: this.id, status: exit.status, exitType: exit.exitType }, true);
    } else if (type === Notification.ServiceDisconnect) {
      this.listeners.emit({ type: 'ServiceDisconnect', systemId: this.id }, false);
    }
    for (const w of this.waiters.filter((x) => x.type === type)) w.resolve({ status, data });
  }

  private async async(op: string, call: () => V1Result, done: number, opts?: CallOptions): Promise<void> {
    if (this.closing) throw new HcsError({ op, systemId: this.id, hresult: HRESULTS.E_HANDLE });
    const r = call();
    if (r.hr === VMCOMPUTE_PENDING) await this.completion(done, op, opts ?? {});
    else if (failed(r.hr)) throw err(op, this.id, r);
  }

  /** Nothing to wait for: the v1 create registers its notification callback before the create completes, so no query closes a race. */
  ready(): Promise<void> {
    return Promise.resolve();
  }

  start(opts?: CallOptions): Promise<void> {
    return this.async('start', () => this.b.native.start(this.handle, null), Notification.SystemStartCompleted, opts);
  }

  pause(opts?: CallOptions): Promise<void> {
    return this.async('pause', () => this.b.native.pause(this.handle, null), Notification.SystemPauseCompleted, opts);
  }

  resume(opts?: CallOptions): Promise<void> {
    return this.async('resume', () => this.b.native.resume(this.handle, null), Notification.SystemResumeCompleted, opts);
  }

  /** Graceful stop: accepted (pending) until SystemExited, or SystemShutdownFailed; stopped/gone = success. */
  async shutdown(opts: ShutdownCallOptions = {}): Promise<void> {
    if (this.exited) return;
    const ended = this.wait([Notification.SystemExited, Notification.SystemShutdownFailed], 'shutdown', opts);
    ended.catch(() => {});
    const r = this.b.native.shutdown(this.handle, opts.options ? JSON.stringify(opts.options) : null);
    if (r.hr !== VMCOMPUTE_PENDING && failed(r.hr)) {
      if (isAlreadyStopped(r.hr) || isNotFound(r.hr)) return;
      throw err('shutdown', this.id, r);
    }
    if (this.exited) return;
    const { status, data } = await ended;
    if (failed(status) && !isAlreadyStopped(status) && !isNotFound(status)) {
      throw new HcsError({ op: 'shutdown', systemId: this.id, hresult: status, resultDocument: data, fromResult: true });
    }
  }

  async terminate(): Promise<void> {
    const r = await this.b.native.terminateAsync(this.handle, null);
    if (failed(r.hr) && !isAlreadyStopped(r.hr) && !isNotFound(r.hr)) throw err('terminate', this.id, r);
  }

  async properties(query?: { propertyTypes?: string[] }): Promise<SystemProperties> {
    const r = await this.b.native.propertiesAsync(this.handle, propertyQueryJson(query));
    if (failed(r.hr)) throw err('properties', this.id, r);
    return toSystemProperties(r.value, this.id);
  }

  async modify(request: Record<string, unknown>): Promise<void> {
    const r = await this.b.native.modifyAsync(this.handle, JSON.stringify(request));
    if (failed(r.hr)) throw err('modify', this.id, r);
  }

  async createProcess(parameters: Record<string, unknown>): Promise<HcsProcess> {
    const r = await this.b.native.createProcessAsync(this.handle, JSON.stringify(parameters));
    if (r.process === null || failed(r.hr)) throw err('process.create', this.id, r);
    return VmcomputeProcess.wrap(this.b, this.id, r.process, r.processId);
  }

  async openProcess(processId: number): Promise<HcsProcess> {
    const r = await this.b.native.openProcessAsync(this.handle, processId);
    if (r.process === null || failed(r.hr)) throw err('process.open', this.id, r);
    return VmcomputeProcess.wrap(this.b, this.id, r.process, processId);
  }

  onEvent(listener: (event: SystemEvent) => void): Disposable {
    return this.listeners.add(listener);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.registration) await this.b.native.unregisterSystemCallbackAsync(this.registration);
      await this.b.native.closeSystemAsync(this.handle);
      this.b.detach(this.key);
      this.listeners.clear();
      this.b.tracked(this, false);
    })();
    return this.closing;
  }
}

/** An open vmcompute process handle. */
export class VmcomputeProcess implements HcsProcess {
  private readonly exits = new ExitListeners<ProcessEvent>();
  private readonly key: number;
  private registration?: V1Handle;
  private closing?: Promise<void>;

  private constructor(private readonly b: VmcomputeBinding, readonly systemId: string, private readonly handle: V1Handle, readonly processId: number) {
    this.key = b.attach((type, _status, data) => {
      if (type !== Notification.ProcessExited) return;
      const exit = toProcessExit(data);
      this.exits.emit({ type: 'ProcessExited', systemId, processId, exitCode: exit.exitCode ?? UNKNOWN_EXIT_CODE }, true);
    });
    b.tracked(this, true);
  }

  /** Wraps a created/opened process, registers its callback (HRESULT checked), closes the race with one query. */
  static async wrap(b: VmcomputeBinding, systemId: string, handle: V1Handle, pid: number): Promise<VmcomputeProcess> {
    const p = new VmcomputeProcess(b, systemId, handle, pid);
    const r = b.native.registerProcessCallback(handle, b.callback, BigInt(p.key));
    if (failed(r.hr) || r.handle === null) {
      await p.close();
      throw new HcsError({ op: 'process.callback', systemId, hresult: r.hr });
    }
    p.registration = r.handle;
    void p.properties().then((s) => {
      if (s.exited) p.exits.emit({ type: 'ProcessExited', systemId, processId: pid, exitCode: s.exitCode ?? UNKNOWN_EXIT_CODE }, true);
    }, () => {});
    return p;
  }

  async properties(): Promise<{ exited: boolean; exitCode?: number; raw: Record<string, unknown> }> {
    const r = await this.b.native.processPropertiesAsync(this.handle);
    if (failed(r.hr)) throw err('process.properties', this.systemId, r);
    return toProcessStatus(r.value);
  }

  async terminate(): Promise<void> {
    const r = await this.b.native.terminateProcessAsync(this.handle);
    if (failed(r.hr) && !isProcessGone(r.hr)) throw err('process.terminate', this.systemId, r);
  }

  onExit(listener: (event: ProcessEvent) => void): Disposable {
    return this.exits.add(listener);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.registration) await this.b.native.unregisterProcessCallbackAsync(this.registration);
      await this.b.native.closeProcessAsync(this.handle);
      this.b.detach(this.key);
      this.exits.clear();
      this.b.tracked(this, false);
    })();
    return this.closing;
  }
}

/** A schema 1.0 ContainerConfig (no SchemaVersion, a SystemType): submitted through vmcompute.dll. */
export function isSchema1Document(document: Record<string, unknown>): boolean {
  return document.SchemaVersion === undefined && typeof document.SystemType === 'string';
}
