/**
 * HCS JSON documents <-> the port types: queries out, Properties / ProcessStatus /
 * SystemExitStatus in. Field names are exactly HCS's (case-sensitive, like hcsshim's decoder).
 */
import type {
  EnumerateQuery, ExitType, HcsState, ObservedProcess, ObservedSystem, SystemProperties,
} from '../../reconciler/ports.ts';

type Json = Record<string, unknown>;

function asObject(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

function str(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function bool(o: Json, key: string): boolean | undefined {
  const v = o[key];
  return typeof v === 'boolean' ? v : undefined;
}

function num(o: Json, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

const EXIT_TYPES: ReadonlySet<string> = new Set(['None', 'GracefulExit', 'ForcedExit', 'UnexpectedExit', 'Unknown']);
const STATES: ReadonlySet<string> = new Set(['Created', 'Running', 'Paused', 'Stopped', 'SavedAsTemplate', 'Unknown', '']);

function exitType(o: Json): ExitType | undefined {
  const v = str(o, 'ExitType');
  return v === undefined ? undefined : EXIT_TYPES.has(v) ? (v as ExitType) : 'Unknown';
}

function state(o: Json): HcsState {
  const v = str(o, 'State') ?? '';
  return STATES.has(v) ? (v as HcsState) : 'Unknown';
}

/** Parses a result document; a malformed one is reported with the operation that produced it. */
export function parseJson(doc: string | null, what: string): unknown {
  if (doc === null || doc === '') return null;
  try {
    return JSON.parse(doc);
  } catch (err) {
    throw new Error(`hcs ${what}: result document is not JSON: ${doc.slice(0, 200)}`, { cause: err });
  }
}

/** `SystemQuery` JSON for HcsEnumerateComputeSystems, or null for "everything". */
export function enumerateQueryJson(q: EnumerateQuery | undefined): string | null {
  if (!q) return null;
  const out: Json = {};
  if (q.ids?.length) out.Ids = q.ids;
  if (q.names?.length) out.Names = q.names;
  if (q.types?.length) out.Types = q.types;
  if (q.owners?.length) out.Owners = q.owners;
  return Object.keys(out).length === 0 ? null : JSON.stringify(out);
}

/** `System_PropertyQuery` JSON, or null for the basic properties. */
export function propertyQueryJson(q: { propertyTypes?: string[] } | undefined): string | null {
  return q?.propertyTypes?.length ? JSON.stringify({ PropertyTypes: q.propertyTypes }) : null;
}

/** One `Properties` entry of an enumerate result. */
export function toObservedSystem(v: unknown): ObservedSystem {
  const o = asObject(v);
  return {
    id: str(o, 'Id') ?? '',
    systemType: str(o, 'SystemType') ?? '',
    owner: str(o, 'Owner') ?? '',
    name: str(o, 'Name'),
    state: state(o),
    stopped: bool(o, 'Stopped'),
    exitType: exitType(o),
    runtimeOsType: str(o, 'RuntimeOsType'),
    runtimeId: str(o, 'RuntimeId'),
  };
}

/** The enumerate result document (a JSON array of `Properties`). */
export function toObservedSystems(doc: string | null): ObservedSystem[] {
  const v = parseJson(doc, 'enumerate');
  return Array.isArray(v) ? v.map(toObservedSystem) : [];
}

function toObservedProcess(v: unknown): ObservedProcess {
  const o = asObject(v);
  const ts = str(o, 'CreateTimestamp');
  return { processId: num(o, 'ProcessId') ?? 0, imageName: str(o, 'ImageName'), ...(ts === undefined ? {} : { createTimestamp: ts }) };
}

/** The HcsGetComputeSystemProperties result (one `Properties` object). */
export function toSystemProperties(doc: string | null, id: string): SystemProperties {
  const raw = asObject(parseJson(doc, `properties ${id}`));
  const list = raw.ProcessList;
  return {
    id: str(raw, 'Id') ?? id,
    systemType: str(raw, 'SystemType'),
    owner: str(raw, 'Owner'),
    state: raw.State === undefined ? undefined : state(raw),
    stopped: bool(raw, 'Stopped'),
    exitType: exitType(raw),
    processList: Array.isArray(list) ? list.map(toObservedProcess) : undefined,
    raw,
  };
}

/**
 * The exit code of a `ProcessStatus`, only when HCS says it is valid: "The ExitCode is valid only if
 * LastWaitResult is S_OK and Exited is true" ([SCHEMA] ProcessStatus, audit D21). An absent
 * LastWaitResult counts as S_OK (older builds omit it).
 */
function validExitCode(o: Json): number | undefined {
  const lastWait = num(o, 'LastWaitResult') ?? 0;
  return lastWait === 0 && bool(o, 'Exited') !== false ? num(o, 'ExitCode') : undefined;
}

/** `ProcessStatus` {ProcessId, Exited, ExitCode, LastWaitResult}; exitCode only when valid (D21). */
export function toProcessStatus(doc: string | null): { exited: boolean; exitCode?: number; raw: Json } {
  const raw = asObject(parseJson(doc, 'process.properties'));
  const exited = bool(raw, 'Exited') ?? false;
  return { exited, exitCode: exited ? validExitCode(raw) : undefined, raw };
}

/** Every VirtualDisk attachment path of a VM document (`VirtualMachine.Devices.Scsi.*.Attachments.*`). */
export function vmDiskPaths(document: Record<string, unknown>): string[] {
  const scsi = asObject(asObject(asObject(document.VirtualMachine).Devices).Scsi);
  return Object.values(scsi).flatMap((ctrl) => Object.values(asObject(asObject(ctrl).Attachments)))
    .map(asObject)
    .filter((a) => a.Type === 'VirtualDisk' && typeof a.Path === 'string')
    .map((a) => a.Path as string);
}

/** `SystemExitStatus` {Status, ExitType} from a SystemExited event. */
export function toSystemExit(data: string | null): { status: number; exitType: ExitType } {
  let o: Json = {};
  try {
    o = asObject(data ? JSON.parse(data) : null);
  } catch {
    // Event data we cannot read still means "exited"; report what we know.
  }
  return { status: num(o, 'Status') ?? 0, exitType: exitType(o) ?? 'Unknown' };
}

/**
 * `ProcessStatus` from a ProcessExited event. `exitCode` is undefined when HCS marks it invalid
 * (LastWaitResult not S_OK, D21) or omits it.
 */
export function toProcessExit(data: string | null): { processId?: number; exitCode?: number } {
  let o: Json = {};
  try {
    o = asObject(data ? JSON.parse(data) : null);
  } catch {
    // as above
  }
  return { processId: num(o, 'ProcessId'), exitCode: validExitCode(o) };
}
