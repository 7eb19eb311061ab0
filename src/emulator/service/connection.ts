/**
 * Per-connection protocol handling: library connections (REQUEST → RESPONSE, EVENTs, handle
 * tables) and control connections (CONTROL → CONTROL_RESPONSE).
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { formatHResult, HR, resultError } from '../hresult.ts';
import {
  decodeControl, decodeRequest, encodeControl, encodeEvent, encodeResponse, FrameType, Op, opName,
  ProtocolError, type OpName, type RawFrame, type RequestFrame,
} from '../protocol.ts';
import type { CallLog } from './calllog.ts';
import type { FaultTable, Verdict } from './faults.ts';
import { OP_SPECS, type OpSpec } from './ops.ts';
import type { SystemStore } from './state.ts';
import type { EventSink, HandleEntry, OpResult } from './types.ts';
import type { HostServices } from './host.ts';

/** What connections need from the service. */
export interface ServiceCore {
  readonly store: SystemStore;
  readonly faults: FaultTable;
  readonly callLog: CallLog;
  /** HNS objects and mounted volumes (checked by a schema 1.0 Hyper-V create). */
  readonly host?: HostServices;
  /** performance.now() at service start. */
  readonly startedAt: number;
  readonly verbose: boolean;
  log(line: string): void;
  /** Runs one control command; returns the response body (without `ok`). */
  control(cmd: string, args: Record<string, unknown>, from: Connection): Promise<Record<string, unknown>>;
}

/** Common part of both connection kinds. */
export abstract class Connection {
  open = true;

  constructor(readonly socket: Socket, readonly pid: number, protected readonly core: ServiceCore) {}

  /** Handles one frame after HELLO; throws ProtocolError for frames this role may not send. */
  abstract onFrame(frame: RawFrame): void;

  /** Called once when the socket is gone. `serviceRestart`: the service dropped it on purpose. */
  onClose(_serviceRestart: boolean): void {
    this.open = false;
  }

  protected write(frame: Buffer): void {
    if (this.open && !this.socket.destroyed) this.socket.write(frame);
  }
}

/**
 * A library client: computecore (role 1) or vmcompute (role 3, libvmcompute.so): owns handles and
 * receives events for them. Only vmcompute accepts schema 1.0 documents (ops.ts create).
 */
export class LibraryConnection extends Connection implements EventSink {
  readonly handles = new Map<bigint, HandleEntry>();

  constructor(socket: Socket, pid: number, core: ServiceCore, readonly api: 'computecore' | 'vmcompute' = 'computecore') {
    super(socket, pid, core);
  }

  sendEvent(handle: bigint, eventType: number, eventData: string): void {
    this.write(encodeEvent({ handle, eventType, eventData }));
  }

  override onFrame(frame: RawFrame): void {
    if (frame.type !== FrameType.Request) throw new ProtocolError(`library sent frame type ${frame.type}`);
    this.onRequest(decodeRequest(frame.body));
  }

  /** Closes all handles; a client that went away closes its last handles (hcs-api.md §5). */
  override onClose(serviceRestart: boolean): void {
    super.onClose(serviceRestart);
    for (const entry of this.handles.values()) this.core.store.closeHandle(entry, !serviceRestart);
    this.handles.clear();
  }

  /** Forgets all handles without side effects (control `reset`). */
  forgetHandles(): void {
    for (const entry of this.handles.values()) entry.closed = true;
    this.handles.clear();
  }

  private onRequest(req: RequestFrame): void {
    const arrived = performance.now();
    const spec = OP_SPECS.get(req.op);
    if (!spec) {
      this.finish(req, arrived, '', { hresult: HR.HCS_E_UNKNOWN_MESSAGE, result: resultError(HR.HCS_E_UNKNOWN_MESSAGE, `unknown op ${req.op}`) });
      return;
    }
    const entry = spec.handle === 'none' ? undefined : this.handles.get(req.handle);
    if (spec.handle !== 'none' && (!entry || entry.kind !== spec.handle)) {
      this.finish(req, arrived, '', { hresult: HR.E_HANDLE, result: null });
      return;
    }
    if (req.op === Op.CloseSystem || req.op === Op.CloseProcess) {
      this.close(req, arrived, entry as HandleEntry);
      return;
    }
    const newEntry = this.registerNewHandle(req, spec);
    if (newEntry === null) {
      this.finish(req, arrived, '', { hresult: HR.E_INVALIDARG, result: resultError(HR.E_INVALIDARG, 'newHandle is 0 or already in use') });
      return;
    }
    const id = targetId(req, entry);
    const verdict = this.core.faults.onArrival(opName(req.op) as OpName, id);
    void this.execute(req, spec, { entry, newEntry }, verdict).then(
      (result) => this.finish(req, arrived, id ?? entry?.system?.id ?? '', result, entry?.process?.pid ?? (req.op === Op.OpenProcess ? req.num : undefined)),
      (err: unknown) => {
        this.core.log(`op ${opName(req.op)} threw: ${(err as Error).stack ?? String(err)}`);
        this.finish(req, arrived, id ?? '', { hresult: HR.E_UNEXPECTED, result: null });
      },
    );
  }

  /** Handle ids are chosen by the library and usable at once (PROTOCOL.md), so register on arrival. */
  private registerNewHandle(req: RequestFrame, spec: OpSpec): HandleEntry | undefined | null {
    if (!spec.newHandle) return undefined;
    if (req.newHandle === 0n || this.handles.has(req.newHandle)) return null;
    const entry: HandleEntry = { conn: this, id: req.newHandle, kind: spec.newHandle, closed: false };
    this.handles.set(req.newHandle, entry);
    return entry;
  }

  private async execute(
    req: RequestFrame, spec: OpSpec, handles: { entry?: HandleEntry; newEntry?: HandleEntry }, verdict: Verdict,
  ): Promise<OpResult> {
    const ms = this.core.faults.latencyFor(opName(req.op) as OpName);
    if (ms > 0) await delay(ms);
    if (verdict.hang) await verdict.hang;
    const effect = !verdict.fail || verdict.fail.afterEffect ? await spec.run({ store: this.core.store, req, api: this.api, host: this.core.host, ...handles }) : undefined;
    if (verdict.fail) {
      const { hresult, resultDocument } = verdict.fail;
      return { hresult, result: resultDocument ?? resultError(hresult, `injected fault for ${opName(req.op)}`) };
    }
    return effect as OpResult;
  }

  /** CloseSystem/CloseProcess are answered at once and bypass faults (HcsClose* return void). */
  private close(req: RequestFrame, arrived: number, entry: HandleEntry): void {
    this.handles.delete(entry.id);
    const id = entry.system?.id ?? entry.process?.systemId ?? '';
    this.core.store.closeHandle(entry);
    this.finish(req, arrived, id, { hresult: HR.S_OK, result: null }, entry.process?.pid);
  }

  private finish(req: RequestFrame, arrived: number, id: string, r: OpResult, pid?: number): void {
    const hresult = r.hresult >>> 0;
    this.write(encodeResponse({ seq: req.seq, hresult, processId: r.processId ?? 0, result: r.result ?? null, stdio: r.stdio }));
    const durationMs = Math.round((performance.now() - arrived) * 1000) / 1000;
    const at = Math.round(arrived - this.core.startedAt);
    this.core.callLog.add({ at, clientPid: this.pid, op: opName(req.op), id, pid, hresult, durationMs });
    if (this.core.verbose) {
      this.core.log(`call pid=${this.pid} ${opName(req.op)} id=${id} -> ${formatHResult(hresult)} ${durationMs}ms`);
    }
  }
}

/** The system id a call is about, for fault matching: the id argument or the handle's system. */
function targetId(req: RequestFrame, entry: HandleEntry | undefined): string | undefined {
  if (req.op === Op.Create || req.op === Op.Open || req.op === Op.GrantVmAccess || req.op === Op.RevokeVmAccess) return req.a ?? undefined;
  return entry?.system?.id ?? entry?.process?.systemId;
}

/** A control client (role 2): tests, benchmarks and the CLI. */
export class ControlConnection extends Connection {
  override onFrame(frame: RawFrame): void {
    if (frame.type !== FrameType.Control) throw new ProtocolError(`control client sent frame type ${frame.type}`);
    const { seq, json } = decodeControl(frame.body);
    void this.run(json).then((body) => this.write(encodeControl(FrameType.ControlResponse, { seq, json: JSON.stringify(body) })));
  }

  private async run(json: string | null): Promise<Record<string, unknown>> {
    try {
      const msg: unknown = JSON.parse(json ?? '');
      if (typeof msg !== 'object' || msg === null || typeof (msg as { cmd?: unknown }).cmd !== 'string') {
        return { ok: false, error: 'control message must be an object with a string "cmd"' };
      }
      const { cmd, ...args } = msg as { cmd: string } & Record<string, unknown>;
      return { ok: true, ...(await this.core.control(cmd, args, this)) };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }
}
