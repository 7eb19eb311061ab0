/**
 * CONTROL commands: fault injection and inspection (used by tests, benchmarks and the CLI).
 * Each command takes the JSON arguments of `{"cmd": ..., ...args}` and returns the response body.
 */
import { performance } from 'node:perf_hooks';
import { parseHResult, HR } from '../hresult.ts';
import { normalizeOpName, type OpName } from '../protocol.ts';
import { checkSystemId } from './documents.ts';
import type { Connection } from './connection.ts';
import { LibraryConnection } from './connection.ts';
import type { EmulatorService } from './server.ts';
import type { SystemState, SystemType } from './types.ts';
import type { ProcessRecord, SystemRecord } from './types.ts';

type Args = Record<string, unknown>;
type Command = (svc: EmulatorService, args: Args, from: Connection) => Record<string, unknown> | Promise<Record<string, unknown>>;

function str(args: Args, key: string): string {
  const v = args[key];
  if (typeof v !== 'string' || v === '') throw new Error(`"${key}" must be a non-empty string`);
  return v;
}

function optNumber(args: Args, key: string, fallback: number): number {
  const v = args[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`"${key}" must be a number >= 0`);
  return v;
}

function op(args: Args): OpName | '*' {
  const name = normalizeOpName(str(args, 'op'));
  if (!name) throw new Error(`unknown op "${String(args.op)}"`);
  return name;
}

function optId(args: Args): string | undefined {
  return args.id === undefined || args.id === null ? undefined : str(args, 'id');
}

function system(svc: EmulatorService, args: Args): SystemRecord {
  const id = str(args, 'id');
  const sys = svc.store.get(id);
  if (!sys) throw new Error(`no compute system "${id}"`);
  return sys;
}

function describeProcess(p: ProcessRecord): Record<string, unknown> {
  return {
    pid: p.pid, commandLine: p.commandLine, imageName: p.imageName, exited: p.exited, exitCode: p.exitCode,
    createdAt: p.createdAt, openHandles: p.handles.size, exitAfterMs: p.exitAfterMs,
  };
}

/** Everything known about one system, for `list`. */
function describeSystem(s: SystemRecord): Record<string, unknown> {
  return {
    id: s.id, owner: s.owner, systemType: s.systemType, runtimeId: s.runtimeId, state: s.state, stopped: s.stopped,
    exitType: s.exitType, exitStatus: s.exitStatus, createdAt: s.createdAt, hostingSystemId: s.hostingSystemId,
    terminateOnLastHandleClosed: s.terminateOnLastHandleClosed, shutdownIgnored: s.shutdownIgnored,
    shutdownTimeoutMs: s.shutdownTimeoutMs, foreign: s.foreign, openHandles: s.handles.size,
    processes: [...s.processes.values()].map(describeProcess), document: s.document, modifications: s.modifications,
  };
}

function status(svc: EmulatorService): Record<string, unknown> {
  let handles = 0;
  const connections = { library: 0, control: 0 };
  for (const c of svc.connections) {
    if (c instanceof LibraryConnection) {
      connections.library += 1;
      handles += c.handles.size;
    } else connections.control += 1;
  }
  return {
    pid: process.pid,
    uptimeMs: Math.round(performance.now() - svc.startedAt),
    socketPath: svc.options.socketPath,
    stateDir: svc.options.stateDir ?? null,
    systems: svc.store.systems.size,
    handles,
    connections,
    faults: svc.faults.describe(),
  };
}

const STATES: ReadonlySet<string> = new Set(['Created', 'Running', 'Paused', 'Stopped']);
const TYPES: ReadonlySet<string> = new Set(['Container', 'VirtualMachine']);

function createForeign(svc: EmulatorService, args: Args): Record<string, unknown> {
  const id = str(args, 'id');
  const bad = checkSystemId(id);
  if (bad) throw new Error(bad);
  if (svc.store.get(id)) throw new Error(`compute system "${id}" already exists`);
  const state = (args.state ?? 'Running') as string;
  const systemType = (args.systemType ?? 'Container') as string;
  if (!STATES.has(state)) throw new Error(`"state" must be one of ${[...STATES].join(', ')}`);
  if (!TYPES.has(systemType)) throw new Error('"systemType" must be Container or VirtualMachine');
  const doc = args.document;
  const sys = svc.store.createForeign({
    id,
    owner: typeof args.owner === 'string' ? args.owner : undefined,
    systemType: systemType as SystemType,
    state: state as SystemState,
    shouldTerminateOnLastHandleClosed: args.shouldTerminateOnLastHandleClosed === true,
    document: typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : undefined,
  });
  return { system: describeSystem(sys) };
}

function exitProcess(svc: EmulatorService, args: Args): Record<string, unknown> {
  const sys = system(svc, args);
  const pid = optNumber(args, 'pid', -1);
  const proc = sys.processes.get(pid);
  if (!proc) throw new Error(`no running process ${pid} in "${sys.id}"`);
  const code = args.exitCode ?? 0;
  if (typeof code !== 'number' || !Number.isInteger(code)) throw new Error('"exitCode" must be an integer');
  svc.store.exitProcess(proc, code);
  return {};
}

function setShutdownBehaviour(svc: EmulatorService, args: Args): Record<string, unknown> {
  const sys = system(svc, args);
  sys.shutdownIgnored = args.ignore === true;
  sys.shutdownTimeoutMs = args.timeoutMs === undefined || args.timeoutMs === null ? undefined : optNumber(args, 'timeoutMs', 0);
  return {};
}

const COMMANDS: Record<string, Command> = {
  status: (svc) => status(svc),
  list: (svc) => ({ systems: [...svc.store.systems.values()].map(describeSystem) }),
  fault: (svc, a) => {
    const hresult = parseHResult(a.hresult as string | number);
    const doc = a.resultDocument;
    const resultDocument = doc === undefined || doc === null ? undefined : typeof doc === 'string' ? doc : JSON.stringify(doc);
    svc.faults.addFail({ op: op(a), hresult, remaining: optNumber(a, 'count', 1), id: optId(a), resultDocument, afterEffect: a.afterEffect === true });
    return {};
  },
  hang: (svc, a) => {
    svc.faults.addHang({ op: op(a), remaining: optNumber(a, 'count', 1), id: optId(a) });
    return {};
  },
  latency: (svc, a) => {
    svc.faults.setLatency(op(a), optNumber(a, 'ms', 0));
    return {};
  },
  clearFaults: (svc) => {
    svc.faults.clear();
    return {};
  },
  crash: (svc, a) => {
    const sys = system(svc, a);
    if (sys.stopped) throw new Error(`compute system "${sys.id}" is already stopped`);
    svc.store.stop(sys, 'UnexpectedExit', HR.HCS_E_UNEXPECTED_EXIT);
    return {};
  },
  exitProcess,
  createForeign,
  setShutdownBehaviour,
  restartService: (svc, a) => {
    svc.restart(a.keepSystems !== false);
    return {};
  },
  callLog: (svc) => ({ calls: svc.callLog.list() }),
  clearCallLog: (svc) => {
    svc.callLog.clear();
    return {};
  },
  reboot: async (svc) => {
    await svc.reboot();
    return {};
  },
  host: (svc) => ({ ...svc.host.hcn.describe(), volumes: svc.host.volumes.describe() }),
  reset: (svc) => {
    svc.reset();
    return {};
  },
  shutdown: (svc) => {
    // Answer first, then exit: the response must reach the client.
    setImmediate(() => svc.onShutdownRequest());
    return {};
  },
};

/** Runs one control command; unknown commands and bad arguments throw (→ `{ok:false, error}`). */
export async function runControl(svc: EmulatorService, cmd: string, args: Args, from: Connection): Promise<Record<string, unknown>> {
  const command = Object.entries(COMMANDS).find(([name]) => name.toLowerCase() === cmd.toLowerCase())?.[1];
  if (!command) throw new Error(`unknown control command "${cmd}"`);
  return command(svc, args, from);
}
