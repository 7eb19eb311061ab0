/**
 * The semantics of each REQUEST op: state checks, HRESULTs and result documents. Each handler runs
 * when the operation "executes" (after injected latency); handle validation happened on arrival.
 */
import { HR, resultError } from '../hresult.ts';
import { Op, type RequestFrame } from '../protocol.ts';
import {
  checkSystemId, parseModifyRequest, parseObject, parseProcessParameters, parsePropertyQuery, parseQuery,
  parseSystemDocument,
} from './documents.ts';
import { basicProperties, matchesQuery, systemProperties } from './properties.ts';
import { CTRL_C_EXIT_CODE, KILLED_EXIT_CODE, processStatus, type SystemStore } from './state.ts';
import type { HandleEntry, OpResult, ProcessRecord, SystemRecord } from './types.ts';
import type { HostServices } from './host.ts';
import { checkSchema1Resources } from './schema1-resources.ts';

/** Everything a handler needs. */
export interface OpContext {
  store: SystemStore;
  req: RequestFrame;
  /** The target handle (system or process), when the op takes one. */
  entry?: HandleEntry;
  /** The handle the op creates (Create/Open/CreateProcess/OpenProcess). */
  newEntry?: HandleEntry;
  /** Which C API the request came through (vmcompute also takes schema 1.0 documents). */
  api?: 'computecore' | 'vmcompute';
  /** The host's HNS objects and volumes (a schema 1.0 Hyper-V create checks what it names). */
  host?: HostServices;
}

type Handler = (ctx: OpContext) => OpResult | Promise<OpResult>;

/** How an op uses handles, for validation on arrival. */
export interface OpSpec {
  handle: 'none' | 'system' | 'process';
  newHandle?: 'system' | 'process';
  run: Handler;
}

const OK: OpResult = { hresult: HR.S_OK, result: null };
const MAX_MODIFICATIONS = 100;

function fail(hresult: number, message: string): OpResult {
  return { hresult, result: resultError(hresult, message) };
}

function json(value: unknown, processId?: number): OpResult {
  return { hresult: HR.S_OK, result: JSON.stringify(value), processId };
}

/** The system behind a handle, or the failure to return. */
function boundSystem(entry: HandleEntry | undefined): SystemRecord | OpResult {
  // A handle whose Create/Open did not (yet) succeed has no system (UNVERIFIED what HCS returns).
  return entry?.system ?? fail(HR.HCS_E_SYSTEM_NOT_FOUND, 'the handle has no compute system');
}

/** The system behind a handle if it is not stopped: stopped systems accept only queries (hcs-api.md §5). */
function liveSystem(entry: HandleEntry | undefined): SystemRecord | OpResult {
  const sys = boundSystem(entry);
  if ('hresult' in sys) return sys;
  return sys.stopped ? fail(HR.HCS_E_SYSTEM_ALREADY_STOPPED, `compute system ${sys.id} is not running`) : sys;
}

function boundProcess(entry: HandleEntry | undefined): ProcessRecord | OpResult {
  return entry?.process ?? fail(HR.ERROR_NOT_FOUND, 'the handle has no process');
}

function invalidState(sys: SystemRecord, op: string): OpResult {
  return fail(HR.HCS_E_INVALID_STATE, `${op} is not valid for compute system ${sys.id} in state ${sys.state}`);
}

function enumerate({ store, req }: OpContext): OpResult {
  const query = parseQuery(req.a);
  if (!query.ok) return fail(HR.HCS_E_INVALID_JSON, query.message);
  const list = [...store.systems.values()].filter((s) => matchesQuery(s, query.value)).map(basicProperties);
  return json(list);
}

function create({ store, req, newEntry, api, host: hostServices }: OpContext): OpResult {
  const idProblem = checkSystemId(req.a);
  if (idProblem) return fail(HR.E_INVALIDARG, idProblem);
  const id = req.a as string;
  const doc = parseSystemDocument(req.b, { schema1: api === 'vmcompute' });
  if (!doc.ok) return fail(HR.HCS_E_INVALID_JSON, doc.message);
  if (api === 'vmcompute') {
    const problem = checkSchema1Resources(doc.value.document, hostServices);
    if (problem) return problem;
  }
  const hostId = doc.value.hostingSystemId;
  // No source gives these codes ([SCHEMA]: "The hosting system must already have been created");
  // not-found / invalid-state are the natural ones and are not permanent (audit D25, UNVERIFIED).
  const host = hostId === undefined ? undefined : store.get(hostId);
  if (hostId !== undefined && !host) return fail(HR.HCS_E_SYSTEM_NOT_FOUND, `HostingSystemId ${hostId} does not exist`);
  if (host && host.state !== 'Running') return invalidState(host, `hosting a system in ${host.id}`);
  if (store.get(id)) return fail(HR.HCS_E_SYSTEM_ALREADY_EXISTS, `compute system ${id} already exists`);
  const sys = store.create(id, doc.value);
  if (newEntry) store.bindSystemHandle(newEntry, sys);
  // A successful create has no result document ([MSDOCS] Tutorial.md, hcs-api.md §1.2).
  return OK;
}

function open({ store, req, newEntry }: OpContext): OpResult {
  const sys = req.a === null ? undefined : store.get(req.a);
  if (!sys) return fail(HR.HCS_E_SYSTEM_NOT_FOUND, `compute system ${req.a ?? ''} not found`);
  if (newEntry) store.bindSystemHandle(newEntry, sys);
  return OK;
}

/** Every VirtualDisk attachment path of a VM document (Devices.Scsi.*.Attachments.*). */
export function vmDiskPaths(document: Record<string, unknown>): string[] {
  const scsi = ((document.VirtualMachine as Record<string, unknown> | undefined)?.Devices as Record<string, unknown> | undefined)?.Scsi;
  if (typeof scsi !== 'object' || scsi === null) return [];
  const out: string[] = [];
  for (const ctrl of Object.values(scsi as Record<string, { Attachments?: Record<string, { Type?: string; Path?: unknown }> }>)) {
    for (const a of Object.values(ctrl?.Attachments ?? {})) if (a?.Type === 'VirtualDisk' && typeof a.Path === 'string') out.push(a.Path);
  }
  return out;
}

/**
 * "A client must configure the necessary resources" ([MSDOCS] Overview.md): a VM's disks must be
 * granted to its VM account (HcsGrantVmAccess, derived from the system id) or the worker cannot
 * open them. Real failures of this kind report E_ACCESSDENIED with this document (audit D3); that
 * the emulator reports it at Start (grants come after create, as multipass does) is UNVERIFIED.
 */
const ACCESS_DENIED_DOC = JSON.stringify({ Error: 0x80070005 | 0, ErrorMessage: '', Attribution: [{ OperationFailure: { Detail: 'Construct' } }] });

function start({ store, entry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  if (sys.state !== 'Created') return invalidState(sys, 'Start');
  if (sys.systemType === 'VirtualMachine' && !sys.foreign && vmDiskPaths(sys.document).some((p) => !store.isGranted(sys.id, p))) {
    return { hresult: HR.E_ACCESSDENIED, result: ACCESS_DENIED_DOC };
  }
  store.setState(sys, 'Running');
  return OK;
}

/**
 * Whether the guest acts on a ShutDown. A container always does. A VM only through the shutdown
 * integration service: rendered in `VirtualMachine.Services.Shutdown` and asked for with
 * `{"Mechanism":"IntegrationService"}` options ([SCHEMA] ShutdownOptions; multipass
 * hyperv_hcs_wrapper.cpp). Without it "HcsShutDownComputeSystem is not able to" ([MSDOCS]
 * Tutorial.md): the request is accepted and nothing happens (audit D7, §5 "too lenient").
 */
function guestShutsDown(sys: SystemRecord, options: string | null): boolean {
  if (sys.shutdownIgnored) return false;
  if (sys.systemType !== 'VirtualMachine') return true;
  const vm = (sys.document.VirtualMachine ?? {}) as { Services?: { Shutdown?: unknown } };
  const parsed = parseObject(options, 'shutdown options', {});
  const mechanism = parsed.ok ? (parsed.value as { Mechanism?: unknown }).Mechanism : undefined;
  return vm.Services?.Shutdown !== undefined && mechanism === 'IntegrationService';
}

function shutDown({ store, req, entry }: OpContext): OpResult | Promise<OpResult> {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  const options = parseObject(req.a, 'shutdown options', {});
  if (!options.ok) return fail(HR.HCS_E_INVALID_JSON, options.message);
  if (guestShutsDown(sys, req.a)) {
    store.stop(sys, 'GracefulExit');
    return OK;
  }
  // No guest service: the request is accepted but the guest never acts on it.
  return new Promise<OpResult>((resolve) => {
    const done = (hr: number): void => {
      clearTimeout(timer);
      resolve(hr === HR.S_OK ? OK : fail(hr, `compute system ${sys.id} was stopped while the shutdown was pending`));
    };
    const timer = sys.shutdownTimeoutMs === undefined ? undefined : setTimeout(() => {
      sys.pendingShutdowns.splice(sys.pendingShutdowns.indexOf(done), 1);
      resolve(fail(HR.HCS_E_OPERATION_TIMEOUT, `the guest of ${sys.id} did not shut down`));
    }, sys.shutdownTimeoutMs);
    sys.pendingShutdowns.push(done);
  });
}

function terminate({ store, entry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  store.stop(sys, 'ForcedExit');
  return OK;
}

/** Pause needs a partition: VMs and Hyper-V containers only (hcs-api.md §0.6). */
function pausable(sys: SystemRecord): boolean {
  return sys.systemType === 'VirtualMachine' || sys.hostingSystemId !== undefined || sys.document.HvPartition === true;
}

function pause({ store, entry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  if (!pausable(sys)) return fail(HR.ERROR_NOT_SUPPORTED, `process-isolated container ${sys.id} cannot be paused`);
  if (sys.state !== 'Running') return invalidState(sys, 'Pause');
  store.setState(sys, 'Paused');
  return OK;
}

function resume({ store, entry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  if (sys.state !== 'Paused') return invalidState(sys, 'Resume');
  store.setState(sys, 'Running');
  return OK;
}

function getProperties({ req, entry }: OpContext): OpResult {
  const sys = boundSystem(entry);
  if ('hresult' in sys) return sys;
  const types = parsePropertyQuery(req.a);
  if (!types.ok) return fail(HR.HCS_E_INVALID_JSON, types.message);
  return json(systemProperties(sys, types.value));
}

function modify({ req, entry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  const request = parseModifyRequest(req.a);
  if (!request.ok) return fail(HR.HCS_E_INVALID_JSON, request.message);
  sys.modifications.push(request.value);
  if (sys.modifications.length > MAX_MODIFICATIONS) sys.modifications.shift();
  return OK;
}

function createProcess({ store, req, entry, newEntry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  const params = parseProcessParameters(req.a);
  if (!params.ok) return fail(HR.HCS_E_INVALID_JSON, params.message);
  if (sys.state !== 'Running') return invalidState(sys, 'CreateProcess');
  const proc = store.createProcess(sys, params.value);
  if (newEntry) store.bindProcessHandle(newEntry, proc);
  const result = json(processStatus(proc), proc.pid);
  return proc.pipes ? { ...result, stdio: { token: proc.pipes.token, mask: proc.pipes.mask } } : result;
}

function openProcess({ store, req, entry, newEntry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  const proc = sys.processes.get(req.num);
  // Exited processes leave the list, so they cannot be opened (UNVERIFIED).
  if (!proc) return fail(HR.ERROR_NOT_FOUND, `process ${req.num} not found in ${sys.id}`);
  if (newEntry) store.bindProcessHandle(newEntry, proc);
  return { hresult: HR.S_OK, processId: proc.pid, result: null };
}

function terminateProcess({ store, entry }: OpContext): OpResult {
  const proc = boundProcess(entry);
  if ('hresult' in proc) return proc;
  if (proc.exited) return fail(HR.HCS_E_PROCESS_ALREADY_STOPPED, `process ${proc.pid} has already exited`);
  store.exitProcess(proc, KILLED_EXIT_CODE);
  return OK;
}

function getProcessProperties({ entry }: OpContext): OpResult {
  const proc = boundProcess(entry);
  return 'hresult' in proc ? proc : json(processStatus(proc));
}

function getProcessInfo({ store, entry }: OpContext): OpResult {
  const proc = boundProcess(entry);
  if ('hresult' in proc) return proc;
  // The pipes nobody took yet (a CreateProcess whose result failed spuriously, audit D6) are handed
  // out here; the library puts them in HCS_PROCESS_INFORMATION as with CreateProcess (stdio.ts).
  const stdio = proc.pipes ? store.stdio.unattached(proc.pipes) : undefined;
  return { hresult: HR.S_OK, processId: proc.pid, result: null, ...(stdio ? { stdio } : {}) };
}

function signalProcess({ store, req, entry }: OpContext): OpResult {
  const proc = boundProcess(entry);
  if ('hresult' in proc) return proc;
  const options = parseObject(req.a, 'signal options', {});
  if (!options.ok) return fail(HR.HCS_E_INVALID_JSON, options.message);
  if (proc.exited) return fail(HR.HCS_E_PROCESS_ALREADY_STOPPED, `process ${proc.pid} has already exited`);
  // Every console control signal ends the emulated process the way Ctrl-C ends a console program (UNVERIFIED).
  store.exitProcess(proc, CTRL_C_EXIT_CODE);
  return OK;
}

function modifyProcess({ req, entry }: OpContext): OpResult {
  const proc = boundProcess(entry);
  if ('hresult' in proc) return proc;
  const settings = parseObject(req.a, 'process modify settings');
  if (!settings.ok) return fail(HR.HCS_E_INVALID_JSON, settings.message);
  return proc.exited ? fail(HR.HCS_E_PROCESS_ALREADY_STOPPED, `process ${proc.pid} has already exited`) : OK;
}

function grantVmAccess({ store, req }: OpContext): OpResult {
  if (!req.a || !req.b) return fail(HR.E_INVALIDARG, 'vmId and filePath are required');
  store.grant(req.a, req.b, true);
  return OK;
}

function revokeVmAccess({ store, req }: OpContext): OpResult {
  if (!req.a || !req.b) return fail(HR.E_INVALIDARG, 'vmId and filePath are required');
  store.grant(req.a, req.b, false);
  return OK;
}

/** Closing is handled by the connection (answered at once); these handlers only acknowledge. */
const ack: Handler = () => OK;

/** Every op the service implements, by code. */
export const OP_SPECS: ReadonlyMap<number, OpSpec> = new Map<number, OpSpec>([
  [Op.Enumerate, { handle: 'none', run: enumerate }],
  [Op.Create, { handle: 'none', newHandle: 'system', run: create }],
  [Op.Open, { handle: 'none', newHandle: 'system', run: open }],
  [Op.CloseSystem, { handle: 'system', run: ack }],
  [Op.Start, { handle: 'system', run: start }],
  [Op.ShutDown, { handle: 'system', run: shutDown }],
  [Op.Terminate, { handle: 'system', run: terminate }],
  [Op.Pause, { handle: 'system', run: pause }],
  [Op.Resume, { handle: 'system', run: resume }],
  [Op.GetProperties, { handle: 'system', run: getProperties }],
  [Op.Modify, { handle: 'system', run: modify }],
  [Op.CreateProcess, { handle: 'system', newHandle: 'process', run: createProcess }],
  [Op.OpenProcess, { handle: 'system', newHandle: 'process', run: openProcess }],
  [Op.CloseProcess, { handle: 'process', run: ack }],
  [Op.TerminateProcess, { handle: 'process', run: terminateProcess }],
  [Op.GetProcessProperties, { handle: 'process', run: getProcessProperties }],
  [Op.GetProcessInfo, { handle: 'process', run: getProcessInfo }],
  [Op.SignalProcess, { handle: 'process', run: signalProcess }],
  [Op.ModifyProcess, { handle: 'process', run: modifyProcess }],
  [Op.GrantVmAccess, { handle: 'none', run: grantVmAccess }],
  [Op.RevokeVmAccess, { handle: 'none', run: revokeVmAccess }],
]);
