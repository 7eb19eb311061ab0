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

/** Everything a handler needs. */
export interface OpContext {
  store: SystemStore;
  req: RequestFrame;
  /** The target handle (system or process), when the op takes one. */
  entry?: HandleEntry;
  /** The handle the op creates (Create/Open/CreateProcess/OpenProcess). */
  newEntry?: HandleEntry;
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

function create({ store, req, newEntry }: OpContext): OpResult {
  const idProblem = checkSystemId(req.a);
  if (idProblem) return fail(HR.E_INVALIDARG, idProblem);
  const id = req.a as string;
  const doc = parseSystemDocument(req.b);
  if (!doc.ok) return fail(HR.HCS_E_INVALID_JSON, doc.message);
  const hostId = doc.value.hostingSystemId;
  if (hostId !== undefined && store.get(hostId)?.state !== 'Running') {
    return fail(HR.HCS_E_INVALID_JSON, `HostingSystemId ${hostId} is not an existing running system`);
  }
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

function start({ store, entry }: OpContext): OpResult {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  if (sys.state !== 'Created') return invalidState(sys, 'Start');
  store.setState(sys, 'Running');
  return OK;
}

function shutDown({ store, entry }: OpContext): OpResult | Promise<OpResult> {
  const sys = liveSystem(entry);
  if ('hresult' in sys) return sys;
  if (!sys.shutdownIgnored) {
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
  return sys.systemType === 'VirtualMachine' || sys.hostingSystemId !== undefined;
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

function getProcessInfo({ entry }: OpContext): OpResult {
  const proc = boundProcess(entry);
  // Std handles are never emulated; the library fills HCS_PROCESS_INFORMATION with the pid only.
  return 'hresult' in proc ? proc : { hresult: HR.S_OK, processId: proc.pid, result: null };
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
]);
