/**
 * The Properties documents the service returns from Enumerate and GetProperties (hcs-api.md §2).
 */
import type { SystemQuery } from './documents.ts';
import type { ProcessRecord, SystemRecord } from './types.ts';

/** Property types the emulator fills in; others are ignored (UNVERIFIED: HCS may reject unknown ones). */
export const SUPPORTED_PROPERTY_TYPES = ['Memory', 'Statistics', 'ProcessList', 'TerminateOnLastHandleClosed'] as const;

/** The basic Properties of a system: what Enumerate lists and a NULL property query returns. */
export function basicProperties(sys: SystemRecord): Record<string, unknown> {
  const props: Record<string, unknown> = {
    Id: sys.id,
    SystemType: sys.systemType,
    Name: sys.id,
    Owner: sys.owner,
    RuntimeId: sys.runtimeId,
    RuntimeOsType: 'Windows',
    State: sys.state,
    Stopped: sys.stopped,
  };
  if (sys.stopped) props.ExitType = sys.exitType;
  if (sys.hostingSystemId) props.HostingSystemId = sys.hostingSystemId;
  return props;
}

/**
 * Whether a system matches an enumerate query. Ids/Names/Types compare exactly; Owners compare
 * case-insensitively like hcsshim's client-side filter (UNVERIFIED for HCS itself, hcs-api.md §8).
 */
export function matchesQuery(sys: SystemRecord, q: SystemQuery): boolean {
  if (q.Ids && !q.Ids.includes(sys.id)) return false;
  if (q.Names && !q.Names.includes(sys.id)) return false;
  if (q.Types && !q.Types.includes(sys.systemType)) return false;
  if (q.Owners && !q.Owners.some((o) => o.toLowerCase() === sys.owner.toLowerCase())) return false;
  return true;
}

/** The full Properties for GetProperties with the requested property types. */
export function systemProperties(sys: SystemRecord, types: string[]): Record<string, unknown> {
  const props = basicProperties(sys);
  // A stopped system only answers its exit status (hcs-api.md §5 "ephemeral").
  if (sys.stopped) return props;
  if (types.includes('TerminateOnLastHandleClosed')) props.TerminateOnLastHandleClosed = sys.terminateOnLastHandleClosed;
  if (types.includes('ProcessList')) props.ProcessList = [...sys.processes.values()].map(processListEntry);
  if (types.includes('Memory')) props.Memory = memoryInfo(sys);
  if (types.includes('Statistics')) props.Statistics = statistics(sys);
  return props;
}

/**
 * One ProcessList entry: exactly the [SCHEMA] ProcessDetails fields (hcsshim
 * schema2/process_details.go). There is no CommandLine: real HCS does not report it (audit D5).
 */
function processListEntry(proc: ProcessRecord): Record<string, unknown> {
  return {
    ProcessId: proc.pid,
    ImageName: proc.imageName,
    CreateTimestamp: new Date(proc.createdAt).toISOString(),
    UserTime100ns: 0,
    KernelTime100ns: 0,
    MemoryCommitBytes: 0,
    MemoryWorkingSetPrivateBytes: 0,
    MemoryWorkingSetSharedBytes: 0,
  };
}

/** Configured memory size in MB from the document, 0 if none (emulator approximation). */
function configuredMemoryMB(sys: SystemRecord): number {
  const doc = sys.document as Record<string, Record<string, Record<string, Record<string, unknown>>>>;
  const vm = doc.VirtualMachine?.ComputeTopology?.Memory?.SizeInMB;
  const container = (doc.Container?.Memory as Record<string, unknown> | undefined)?.SizeInMB;
  const size = vm ?? container;
  return typeof size === 'number' ? size : 0;
}

function memoryInfo(sys: SystemRecord): Record<string, unknown> {
  const bytes = configuredMemoryMB(sys) * 1024 * 1024;
  return { VirtualMachineMemory: { AssignedMemory: bytes, AvailableMemory: bytes, ReservedMemory: 0 } };
}

function statistics(sys: SystemRecord): Record<string, unknown> {
  const uptime100ns = (Date.now() - sys.createdAt) * 10_000;
  return {
    Timestamp: new Date().toISOString(),
    ContainerStartTime: new Date(sys.createdAt).toISOString(),
    Uptime100ns: uptime100ns,
    Processor: { TotalRuntime100ns: 0, RuntimeUser100ns: 0, RuntimeKernel100ns: 0 },
    Memory: { MemoryUsageCommitBytes: 0, MemoryUsageCommitPeakBytes: 0, MemoryUsagePrivateWorkingSetBytes: 0 },
  };
}
