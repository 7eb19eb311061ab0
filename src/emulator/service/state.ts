/**
 * The compute system store: systems, processes, handle binding, stops and the events they cause.
 * Operation semantics (which state allows what) live in ops.ts; this module only keeps the model
 * consistent: ephemeral cleanup, ShouldTerminateOnLastHandleClosed, hosted systems, process exits.
 */
import { randomUUID } from 'node:crypto';
import { EventType } from '../protocol.ts';
import { HR } from '../hresult.ts';
import type { ProcessParameters, SystemDocument } from './documents.ts';
import { imageNameOf } from './documents.ts';
import type { ExitType, HandleEntry, ProcessRecord, SystemRecord, SystemState, SystemType } from './types.ts';
import { runProgram } from './programs.ts';
import { StdioHub } from './stdio.ts';

/** Exit code given to processes killed by TerminateProcess or by their system stopping (UNVERIFIED). */
export const KILLED_EXIT_CODE = 1;

/** Exit code of a process stopped by SignalProcess (STATUS_CONTROL_C_EXIT; UNVERIFIED). */
export const CTRL_C_EXIT_CODE = 0xc000013a;

/** AttributionRecord.SystemExit details per exit type (hcs-api.md §5). */
const ATTRIBUTION: Record<ExitType, { Detail: string; Initiator: string }> = {
  GracefulExit: { Detail: 'Shutdown', Initiator: 'Client' },
  ForcedExit: { Detail: 'Terminate', Initiator: 'Client' },
  UnexpectedExit: { Detail: 'UnexpectedExit', Initiator: 'Internal' },
};

/** Options of a foreign system created by the control command `createForeign`. */
export interface ForeignSpec {
  id: string;
  owner?: string;
  systemType?: SystemType;
  state?: SystemState;
  shouldTerminateOnLastHandleClosed?: boolean;
  document?: Record<string, unknown>;
}

/** Owns every compute system of the service. */
export class SystemStore {
  readonly systems = new Map<string, SystemRecord>();
  /** Process stdio pipes (stdio.ts). */
  readonly stdio = new StdioHub();
  private nextPid = 1000;

  /**
   * @param onChange called after any change worth persisting
   */
  constructor(private readonly onChange: () => void = () => {}) {}

  /** HcsGrantVmAccess records: vm id → granted paths (case-insensitive, as Windows paths). */
  private readonly grants = new Map<string, Set<string>>();

  /** Grants (or revokes) a VM's access to a file. */
  grant(vmId: string, path: string, on: boolean): void {
    const set = this.grants.get(vmId) ?? new Set<string>();
    if (on) set.add(path.toLowerCase());
    else set.delete(path.toLowerCase());
    if (set.size > 0) this.grants.set(vmId, set);
    else this.grants.delete(vmId);
  }

  /** Whether the VM was granted access to the file. */
  isGranted(vmId: string, path: string): boolean {
    return this.grants.get(vmId)?.has(path.toLowerCase()) ?? false;
  }

  /** Looks a system up by id. */
  get(id: string): SystemRecord | undefined {
    return this.systems.get(id);
  }

  /** Adds a new system in state Created (the caller checked the id is free). */
  create(id: string, doc: SystemDocument): SystemRecord {
    const sys = this.newRecord(id, doc.owner, doc.systemType, doc.document);
    sys.hostingSystemId = doc.hostingSystemId;
    sys.terminateOnLastHandleClosed = doc.terminateOnLastHandleClosed;
    this.systems.set(id, sys);
    this.onChange();
    return sys;
  }

  /** Adds a system owned by another management stack, in any state, with no handle. */
  createForeign(spec: ForeignSpec): SystemRecord {
    const systemType = spec.systemType ?? 'Container';
    const document = spec.document ?? { SchemaVersion: { Major: 2, Minor: 1 }, [systemType]: {} };
    const sys = this.newRecord(spec.id, spec.owner ?? 'docker', systemType, document);
    sys.foreign = true;
    sys.terminateOnLastHandleClosed = spec.shouldTerminateOnLastHandleClosed ?? false;
    // A live terminate-on-close system always has its creator's handle open ([SCHEMA]
    // ShouldTerminateOnLastHandleClosed): ours opening and closing must not end it (audit D24).
    sys.foreignHolder = sys.terminateOnLastHandleClosed;
    sys.state = spec.state ?? 'Running';
    sys.stopped = sys.state === 'Stopped';
    if (sys.stopped) sys.exitType = 'GracefulExit';
    this.systems.set(spec.id, sys);
    this.onChange();
    return sys;
  }

  private newRecord(id: string, owner: string, systemType: SystemType, document: Record<string, unknown>): SystemRecord {
    return {
      id, owner, systemType, document,
      runtimeId: randomUUID(),
      state: 'Created',
      stopped: false,
      createdAt: Date.now(),
      processes: new Map(),
      terminateOnLastHandleClosed: false,
      shutdownIgnored: false,
      foreign: false,
      modifications: [],
      handles: new Set(),
      pendingShutdowns: [],
    };
  }

  /** Changes the state of a live system (Start/Pause/Resume). */
  setState(sys: SystemRecord, state: Exclude<SystemState, 'Stopped'>): void {
    sys.state = state;
    this.onChange();
  }

  /**
   * Stops a system: its processes exit, systems hosted in it stop unexpectedly, every open handle
   * gets SystemExited, pending ShutDowns complete, and it is removed if no handle is open.
   */
  stop(sys: SystemRecord, exitType: ExitType, status = 0): void {
    if (sys.stopped) return;
    sys.state = 'Stopped';
    sys.stopped = true;
    sys.exitType = exitType;
    sys.exitStatus = status;
    for (const proc of [...sys.processes.values()]) this.exitProcess(proc, KILLED_EXIT_CODE);
    sys.processes.clear();
    for (const hosted of this.systems.values()) {
      if (hosted.hostingSystemId === sys.id && !hosted.stopped) this.stop(hosted, 'UnexpectedExit', HR.HCS_E_UNEXPECTED_EXIT);
    }
    const data = JSON.stringify({ Status: status | 0, ExitType: exitType, Attribution: [{ SystemExit: ATTRIBUTION[exitType] }] });
    for (const h of sys.handles) h.conn.sendEvent(h.id, EventType.SystemExited, data);
    // A ShutDown still waiting (guest ignored it) ends now: the stop came from elsewhere, which HCS
    // reports for overlapping shutdown/terminate as "already stopped" (hcs-api.md §1.2).
    for (const done of sys.pendingShutdowns.splice(0)) done(HR.HCS_E_SYSTEM_ALREADY_STOPPED);
    this.removeIfUnused(sys);
    this.onChange();
  }

  /** Stopped systems are ephemeral: gone once no handle is open (hcs-api.md §5). */
  private removeIfUnused(sys: SystemRecord): void {
    if (sys.stopped && sys.handles.size === 0 && sys.foreignHolder !== true && this.systems.get(sys.id) === sys) {
      this.systems.delete(sys.id);
      this.onChange();
    }
  }

  /** Binds an open system handle to its system. */
  bindSystemHandle(entry: HandleEntry, sys: SystemRecord): void {
    entry.system = sys;
    if (!entry.closed) {
      sys.handles.add(entry);
      return;
    }
    // Closed before its Create/Open completed: the system sees a handle come and go.
    this.afterHandleGone(sys, true);
  }

  /**
   * Closes a handle. `terminateOnLast` is false when the service itself invalidates handles
   * (restart): that is not a client closing its last handle.
   */
  closeHandle(entry: HandleEntry, terminateOnLast = true): void {
    if (entry.closed) return;
    entry.closed = true;
    if (entry.kind === 'process') {
      entry.process?.handles.delete(entry);
      return;
    }
    const sys = entry.system;
    if (!sys || !sys.handles.delete(entry)) return;
    this.afterHandleGone(sys, terminateOnLast);
  }

  private afterHandleGone(sys: SystemRecord, terminateOnLast: boolean): void {
    if (sys.handles.size > 0 || sys.foreignHolder === true) return;
    if (!sys.stopped && sys.terminateOnLastHandleClosed && terminateOnLast) {
      this.stop(sys, 'ForcedExit');
      return;
    }
    this.removeIfUnused(sys);
  }

  /** Starts a process in a running system. */
  createProcess(sys: SystemRecord, params: ProcessParameters): ProcessRecord {
    const proc: ProcessRecord = {
      pid: this.nextPid++,
      systemId: sys.id,
      commandLine: params.commandLine,
      imageName: imageNameOf(params.commandLine),
      workingDirectory: params.workingDirectory,
      environment: params.environment,
      parameters: params.parameters,
      createdAt: Date.now(),
      exited: false,
      exitCode: 0,
      handles: new Set(),
    };
    const after = Number(params.environment.HCSEMU_EXIT_AFTER_MS);
    if (params.environment.HCSEMU_EXIT_AFTER_MS !== undefined && Number.isFinite(after) && after >= 0) {
      proc.exitAfterMs = after;
      proc.scriptedExitCode = Number(params.environment.HCSEMU_EXIT_CODE ?? 0) || 0;
    }
    sys.processes.set(proc.pid, proc);
    this.armScriptedExit(proc);
    proc.pipes = this.stdio.create(params.parameters);
    const pipes = proc.pipes;
    if (pipes) {
      // The program starts after CreateProcess answered and its handle is bound (a quick exit
      // must still reach that handle as ProcessExited).
      const host = { exit: (code: number) => this.exitProcess(proc, code), get exited() { return proc.exited; } };
      setImmediate(() => runProgram(proc.commandLine, proc.environment, pipes, host));
    }
    this.onChange();
    return proc;
  }

  /** (Re)starts the scripted self-exit timer of a process, if it has one. */
  armScriptedExit(proc: ProcessRecord): void {
    if (proc.exitAfterMs === undefined || proc.exited) return;
    const code = proc.scriptedExitCode ?? 0;
    proc.timer = setTimeout(() => this.exitProcess(proc, code), proc.exitAfterMs);
  }

  /** Ends a process: removes it from its system's list and sends ProcessExited to its handles. */
  exitProcess(proc: ProcessRecord, exitCode: number): void {
    if (proc.exited) return;
    proc.exited = true;
    proc.exitCode = exitCode >>> 0;
    if (proc.timer) clearTimeout(proc.timer);
    proc.timer = undefined;
    const owner = this.systems.get(proc.systemId);
    if (owner?.processes.get(proc.pid) === proc) owner.processes.delete(proc.pid);
    if (proc.pipes) this.stdio.exited(proc.pipes);
    const data = JSON.stringify(processStatus(proc));
    for (const h of proc.handles) h.conn.sendEvent(h.id, EventType.ProcessExited, data);
    this.onChange();
  }

  /** Binds an open process handle to its process. */
  bindProcessHandle(entry: HandleEntry, proc: ProcessRecord): void {
    entry.process = proc;
    if (!entry.closed) proc.handles.add(entry);
  }

  /** Drops every system without events (reset / restart without keepSystems). */
  clear(): void {
    for (const sys of this.systems.values()) {
      for (const proc of sys.processes.values()) {
        if (proc.timer) clearTimeout(proc.timer);
        if (proc.pipes) this.stdio.exited(proc.pipes);
      }
      for (const done of sys.pendingShutdowns.splice(0)) done(HR.HCS_E_SYSTEM_ALREADY_STOPPED);
    }
    this.systems.clear();
    this.grants.clear();
    this.onChange();
  }

  /** Restores persisted systems (persist.ts) and restarts scripted process timers. */
  restore(systems: SystemRecord[], nextPid: number): void {
    for (const sys of systems) {
      this.systems.set(sys.id, sys);
      for (const proc of sys.processes.values()) this.armScriptedExit(proc);
    }
    this.nextPid = Math.max(this.nextPid, nextPid);
  }

  /** The pid the next process will get (persisted so pids are not reused across restarts). */
  get pidCounter(): number {
    return this.nextPid;
  }
}

/** ProcessStatus document (hcs-api.md §5). */
export function processStatus(proc: ProcessRecord): Record<string, unknown> {
  return { ProcessId: proc.pid, Exited: proc.exited, ExitCode: proc.exitCode, LastWaitResult: 0 };
}
