/**
 * NativeHcsClient: the core's HcsClient on top of computecore.dll (or the emulator library).
 */
import { dirname, join } from 'node:path';
import type {
  CallOptions, EnumerateQuery, HcsClient, HcsSystem, ObservedSystem,
} from '../../reconciler/ports.ts';
import { enumerateQueryJson, toObservedSystems, vmDiskPaths } from './documents.ts';
import { EnumerateDecoder } from './enumerate-decoder.ts';
import { HcsError, HRESULTS, toHcsError } from './errors.ts';
import { EventRouter } from './events.ts';
import { GENERIC_ALL, system32Path, type HcsNative, type OperationHandle } from './ffi.ts';
import { HcnNative } from './hcn.ts';
import { openHandle, type ClientContext, type Closable } from './handles.ts';
import { OperationRunner } from './operation.ts';
import { NativeHcsSystem } from './system.ts';
import { isSchema1Document, VmcomputeBinding } from './vmcompute.ts';
import { hcnMacLookup, withEndpointMacs } from './vm-nics.ts';

/**
 * Where vmcompute.dll is: System32 on Windows (undefined = the default), else HCS_VMCOMPUTE_LIBRARY
 * or libvmcompute.so next to the emulator's libcomputecore.so.
 */
function vmcomputeLibraryPath(computecorePath: string): string | undefined {
  if (process.platform === 'win32') return process.env.HCS_VMCOMPUTE_LIBRARY;
  return process.env.HCS_VMCOMPUTE_LIBRARY ?? join(dirname(computecorePath), 'libvmcompute.so');
}

/** Where computenetwork.dll is (for a VM adapter's endpoint MAC, D18): System32, or libcomputenetwork.so next to the emulator's library. */
function computenetworkLibraryPath(computecorePath: string): string {
  if (process.env.HCS_COMPUTENETWORK_LIBRARY) return process.env.HCS_COMPUTENETWORK_LIBRARY;
  return process.platform === 'win32' ? system32Path('computenetwork.dll') : join(dirname(computecorePath), 'libcomputenetwork.so');
}

/** Options of {@link NativeHcsClient.close}. */
export interface CloseOptions {
  /** How long to wait for in-flight operations (default 30 s); after that the shared callbacks stay registered. */
  drainTimeoutMs?: number;
}

/** HcsClient over the native library. Create it with `openHcs()` (index.ts). */
export class NativeHcsClient implements HcsClient {
  private readonly runner: OperationRunner;
  private readonly events: EventRouter;
  private readonly handles = new Set<Closable>();
  /** HcsOpen* calls still on a pool thread (see openHandle); close() waits for them. */
  private readonly opens = new Set<Promise<void>>();
  private readonly ctx: ClientContext;
  private closing?: Promise<void>;
  private v1?: VmcomputeBinding;
  /** One decoder per repeated query (the controller's relist), so unchanged systems keep their objects. */
  private readonly decoders = new Map<string | null, EnumerateDecoder>();

  constructor(readonly native: HcsNative) {
    this.runner = new OperationRunner(native);
    this.events = new EventRouter(native);
    this.ctx = {
      native,
      runner: this.runner,
      events: this.events,
      track: (h) => void this.handles.add(h),
      untrack: (h) => void this.handles.delete(h),
      isClosing: () => this.closing !== undefined,
      opening: (done) => {
        this.opens.add(done);
        void done.then(() => this.opens.delete(done));
      },
    };
  }

  /** Lists compute systems (all owners unless filtered: filter by `owners`, hcs-api.md §8). */
  async enumerate(query?: EnumerateQuery, opts?: CallOptions): Promise<ObservedSystem[]> {
    this.assertOpen('enumerate');
    const json = enumerateQueryJson(query);
    const r = await this.runner.run({ op: 'enumerate', start: (op) => this.native.enumerateComputeSystems(json, op) }, opts);
    if (query?.ids?.length) return toObservedSystems(r.document); // one-off lookups: nothing to share
    let decoder = this.decoders.get(json);
    if (!decoder) {
      if (this.decoders.size >= 8) this.decoders.clear();
      decoder = new EnumerateDecoder();
      this.decoders.set(json, decoder);
    }
    return decoder.decode(r.document);
  }

  /**
   * Creates a compute system; it is not started. Schema 2.x documents go to computecore.dll; a
   * schema 1.0 ContainerConfig (Docker's Hyper-V form) to vmcompute.dll, as hcsshim submits it.
   */
  async create(id: string, document: Record<string, unknown>, opts?: CallOptions): Promise<HcsSystem> {
    this.assertOpen('create', id);
    document = await withEndpointMacs(document, this.endpointMacs).catch((err: unknown) => {
      // The HCN failure's own text (e.g. HCN_E_ENDPOINT_NOT_FOUND) goes into the message.
      const { hresult } = toHcsError(err, { op: 'create.networkAdapter', systemId: id });
      const detail = JSON.stringify({ ErrorMessage: err instanceof Error ? err.message : String(err) });
      throw new HcsError({ op: 'create.networkAdapter', systemId: id, hresult, resultDocument: detail, cause: err });
    });
    const json = JSON.stringify(document);
    if (isSchema1Document(document)) return this.vmcompute().create(id, json, opts);
    let system: NativeHcsSystem | undefined;
    const start = (op: OperationHandle): number => {
      const r = this.native.createComputeSystem(id, json, op);
      // HCS hands out the handle before the create completes: track it now (closed on failure),
      // register its events once the create completed (hcsshim's order, audit D8).
      if (r.system !== null) system = new NativeHcsSystem(this.ctx, id, r.system);
      return r.hr;
    };
    try {
      await this.runner.run({ op: 'create', systemId: id, start }, opts);
    } catch (err) {
      await system?.close();
      throw err;
    }
    const created = system as NativeHcsSystem;
    try {
      await created.grantDisks(vmDiskPaths(document));
      return await subscribed(created, 'create', opts);
    } catch (err) {
      await created.terminate().catch(() => {}); // never started: do not leave it behind
      await created.close();
      throw err;
    }
  }

  /** Opens an existing compute system by id (HcsOpenComputeSystem runs on a pool thread). */
  async open(id: string, opts: CallOptions = {}): Promise<HcsSystem> {
    this.assertOpen('open', id);
    return openHandle(this.ctx, { op: 'open', systemId: id }, opts, {
      open: async () => {
        const r = await this.native.openComputeSystemAsync(id, GENERIC_ALL);
        return { hr: r.hr, handle: r.system };
      },
      close: (handle) => this.native.closeComputeSystemAsync(handle),
      wrap: (handle) => new NativeHcsSystem(this.ctx, id, handle),
    }).then(async (system) => {
      try {
        return await subscribed(system, 'open', opts);
      } catch (err) {
        await system.close();
        throw err;
      }
    });
  }

  /** Handles (systems and processes) this client has open. */
  get openHandles(): number {
    return this.handles.size;
  }

  /** Operations whose completion has not arrived yet. */
  get operationsInFlight(): number {
    return this.runner.inFlight;
  }

  /**
   * Closes every handle still open, waits for in-flight Opens (whose handles are closed, never
   * handed out, once closing began) and operations, then unregisters the shared callbacks (never
   * earlier, and never while a handle that may carry them is open: HCS could still call them).
   * Idempotent.
   */
  close(opts: CloseOptions = {}): Promise<void> {
    this.closing ??= this.closeOnce(opts.drainTimeoutMs ?? 30_000);
    return this.closing;
  }

  private async closeOnce(drainTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + drainTimeoutMs;
    await Promise.allSettled([...this.handles].map((h) => h.close()));
    await settledWithin([...this.opens], deadline - Date.now());
    await this.runner.drain(Math.max(0, deadline - Date.now()));
    this.runner.dispose();
    if (this.handles.size === 0) this.events.dispose();
    this.v1?.dispose();
  }

  private hcn?: HcnNative;
  /** A VM adapter without MacAddress gets its HNS endpoint's (audit D18); the HCN library loads on first use. */
  private readonly endpointMacs = hcnMacLookup(() => (this.hcn ??= new HcnNative({ libraryPath: computenetworkLibraryPath(this.native.libraryPath) })));

  /** The vmcompute.dll binding, loaded on first use (libvmcompute.so next to the emulator library). */
  private vmcompute(): VmcomputeBinding {
    this.v1 ??= new VmcomputeBinding(vmcomputeLibraryPath(this.native.libraryPath), (h) => void this.handles.add(h), (h) => void this.handles.delete(h));
    return this.v1;
  }

  private assertOpen(op: string, systemId?: string): void {
    if (this.closing) throw new HcsError({ op, systemId, hresult: HRESULTS.E_HANDLE });
  }
}

/** Waits until every promise settled, or `ms` passed (an Open the service never answers). */
async function settledWithin(promises: Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))));
  await Promise.race([Promise.allSettled(promises), timeout]);
  clearTimeout(timer);
}

/**
 * Registers a system's events after its create/open completed, then runs the one race-closing
 * state query (audit D8: "follow with one properties query to close the race, and surface a
 * failure as an error"). An exit it finds arrives as a replayed SystemExited. For an open, the
 * query is awaited and a failure rejects (the caller closes the handle); for a create, the first
 * start awaits it and a failure is that start's error. The core's HandleRegistry records a pending
 * handle before the create, so a concurrent get() cannot open a second one.
 */
async function subscribed(system: NativeHcsSystem, op: 'create' | 'open', opts?: CallOptions): Promise<NativeHcsSystem> {
  system.subscribe(op);
  // A created system is started next: its start awaits the query (system.ts beginRaceClose), so the
  // create's HCS slot is not held for it. An opened (adopted) one is answered only after the query.
  if (op === 'create') system.beginRaceClose({ timeoutMs: opts?.timeoutMs });
  else await system.closeRace({ timeoutMs: opts?.timeoutMs });
  return system;
}
