/**
 * Shape validation of the JSON documents the service receives. Only the shape HCS itself would
 * reject is checked (hcs-api.md §2, §3): the emulator is not a schema validator.
 */
import type { SystemType } from './types.ts';

/** A validation outcome: the parsed value, or why it is rejected. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

function fail<T>(message: string): Parsed<T> {
  return { ok: false, message };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a JSON object; NULL/empty input gives `emptyAs` (for optional documents) or an error. */
export function parseObject(text: string | null, what: string, emptyAs?: Record<string, unknown>): Parsed<Record<string, unknown>> {
  if (text === null || text.trim() === '') {
    return emptyAs ? { ok: true, value: emptyAs } : fail(`${what} is missing`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return fail(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  return isObject(value) ? { ok: true, value } : fail(`${what} must be a JSON object`);
}

// Characters Windows forbids in object names; the emulator applies them to compute system ids.
const ILLEGAL_ID = /[\u0000-\u001f\\/:*?"<>|]/;

/** Checks a compute system id; undefined if valid, else the reason (→ E_INVALIDARG). */
export function checkSystemId(id: string | null): string | undefined {
  if (id === null || id === '') return 'compute system id is empty';
  if (id.length > 255) return 'compute system id is longer than 255 characters';
  if (ILLEGAL_ID.test(id)) return 'compute system id contains an illegal character';
  return undefined;
}

/** The facts the service needs from a ComputeSystem document. */
export interface SystemDocument {
  document: Record<string, unknown>;
  owner: string;
  systemType: SystemType;
  hostingSystemId?: string;
  terminateOnLastHandleClosed: boolean;
}

/**
 * Validates a ComputeSystem document (hcs-api.md §3.1): an object with SchemaVersion and exactly one
 * of Container / VirtualMachine / HostedSystem. A HostedSystem needs HostingSystemId; whether that
 * system exists and runs is checked by the caller.
 */
export function parseSystemDocument(text: string | null, opts: { schema1?: boolean } = {}): Parsed<SystemDocument> {
  const parsed = parseObject(text, 'configuration');
  if (!parsed.ok) return parsed;
  const doc = parsed.value;
  if (opts.schema1 && doc.SchemaVersion === undefined && doc.SystemType !== undefined) return parseSchema1(doc);
  if (!isObject(doc.SchemaVersion)) return fail('SchemaVersion is missing');
  const kinds = ['Container', 'VirtualMachine', 'HostedSystem'].filter((k) => doc[k] !== undefined && doc[k] !== null);
  if (kinds.length !== 1) {
    return fail('exactly one of Container, VirtualMachine or HostedSystem must be set');
  }
  if (doc.Owner !== undefined && typeof doc.Owner !== 'string') return fail('Owner must be a string');
  if (doc.HostingSystemId !== undefined && typeof doc.HostingSystemId !== 'string') {
    return fail('HostingSystemId must be a string');
  }
  if (kinds[0] === 'HostedSystem' && !doc.HostingSystemId) return fail('HostedSystem requires HostingSystemId');
  const terminate = doc.ShouldTerminateOnLastHandleClosed;
  if (terminate !== undefined && typeof terminate !== 'boolean') {
    return fail('ShouldTerminateOnLastHandleClosed must be a boolean');
  }
  return {
    ok: true,
    value: {
      document: doc,
      owner: (doc.Owner as string | undefined) ?? '',
      systemType: kinds[0] === 'VirtualMachine' ? 'VirtualMachine' : 'Container',
      hostingSystemId: (doc.HostingSystemId as string | undefined) || undefined,
      terminateOnLastHandleClosed: terminate === true,
    },
  };
}

/**
 * A schema 1.0 ContainerConfig, as vmcompute.dll takes it (hcsshim internal/schema1 field names;
 * the Docker way for Hyper-V isolation, hcsoci/hcsdoc_wcow.go): SystemType Container, Layers
 * [{ID, Path}], LayerFolderPath; with HvPartition the utility VM image HvRuntime.ImagePath, else
 * (process isolation) the mounted VolumePath. Required-ness follows what hcsshim always sets.
 */
function parseSchema1(doc: Record<string, unknown>): Parsed<SystemDocument> {
  if (doc.SystemType !== 'Container') return fail('SystemType must be "Container" in a schema 1.0 document');
  if (doc.Owner !== undefined && typeof doc.Owner !== 'string') return fail('Owner must be a string');
  if (typeof doc.LayerFolderPath !== 'string' || doc.LayerFolderPath === '') return fail('LayerFolderPath is required');
  const layers = doc.Layers;
  if (!Array.isArray(layers) || layers.length === 0 || !layers.every((l) => isObject(l) && typeof l.ID === 'string' && typeof l.Path === 'string')) {
    return fail('Layers must be a non-empty array of {ID, Path}');
  }
  if (doc.HvPartition === true) {
    const rt = doc.HvRuntime;
    if (!isObject(rt) || typeof rt.ImagePath !== 'string' || rt.ImagePath === '') return fail('HvPartition needs HvRuntime.ImagePath');
  } else if (typeof doc.VolumePath !== 'string') {
    return fail('VolumePath is required without HvPartition');
  }
  const terminate = doc.TerminateOnLastHandleClosed;
  if (terminate !== undefined && typeof terminate !== 'boolean') return fail('TerminateOnLastHandleClosed must be a boolean');
  return {
    ok: true,
    value: { document: doc, owner: (doc.Owner as string | undefined) ?? '', systemType: 'Container', terminateOnLastHandleClosed: terminate === true },
  };
}

/** The enumerate filter (SystemQuery, hcs-api.md §2). Absent fields match everything. */
export interface SystemQuery {
  Ids?: string[];
  Names?: string[];
  Types?: string[];
  Owners?: string[];
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** Parses an enumerate query; NULL or `{}` matches all. */
export function parseQuery(text: string | null): Parsed<SystemQuery> {
  const parsed = parseObject(text, 'query', {});
  if (!parsed.ok) return parsed;
  const query: SystemQuery = {};
  for (const key of ['Ids', 'Names', 'Types', 'Owners'] as const) {
    const v = parsed.value[key];
    if (v === undefined || v === null) continue;
    if (!isStringArray(v)) return fail(`${key} must be an array of strings`);
    query[key] = v;
  }
  return { ok: true, value: query };
}

/** Parses a System_PropertyQuery; NULL or `{}` asks for the basic properties only. */
export function parsePropertyQuery(text: string | null): Parsed<string[]> {
  const parsed = parseObject(text, 'property query', {});
  if (!parsed.ok) return parsed;
  const types = parsed.value.PropertyTypes;
  if (types === undefined || types === null) return { ok: true, value: [] };
  return isStringArray(types) ? { ok: true, value: types } : fail('PropertyTypes must be an array of strings');
}

const REQUEST_TYPES = new Set(['Add', 'Remove', 'Update']);

/** Validates a ModifySettingRequest `{ResourcePath, RequestType, Settings, GuestRequest}`. */
export function parseModifyRequest(text: string | null): Parsed<Record<string, unknown>> {
  const parsed = parseObject(text, 'ModifySettingRequest');
  if (!parsed.ok) return parsed;
  const req = parsed.value;
  if (req.ResourcePath === undefined && req.GuestRequest === undefined) {
    return fail('ResourcePath or GuestRequest is required');
  }
  if (req.ResourcePath !== undefined && typeof req.ResourcePath !== 'string') return fail('ResourcePath must be a string');
  if (req.RequestType !== undefined && !REQUEST_TYPES.has(req.RequestType as string)) {
    return fail('RequestType must be Add, Remove or Update');
  }
  return { ok: true, value: req };
}

/** The facts the service needs from ProcessParameters. */
export interface ProcessParameters {
  parameters: Record<string, unknown>;
  commandLine: string;
  workingDirectory?: string;
  environment: Record<string, string>;
}

/** Validates ProcessParameters: CommandLine required, Environment a string map. */
export function parseProcessParameters(text: string | null): Parsed<ProcessParameters> {
  const parsed = parseObject(text, 'ProcessParameters');
  if (!parsed.ok) return parsed;
  const p = parsed.value;
  if (typeof p.CommandLine !== 'string' || p.CommandLine.trim() === '') return fail('CommandLine is required');
  if (p.WorkingDirectory !== undefined && typeof p.WorkingDirectory !== 'string') {
    return fail('WorkingDirectory must be a string');
  }
  const env = p.Environment ?? {};
  if (!isObject(env) || !Object.values(env).every((v) => typeof v === 'string')) {
    return fail('Environment must be an object of strings');
  }
  return {
    ok: true,
    value: {
      parameters: p,
      commandLine: p.CommandLine,
      workingDirectory: p.WorkingDirectory as string | undefined,
      environment: env as Record<string, string>,
    },
  };
}

/**
 * The image name Windows reports for a command line: the first token (quotes honoured), without
 * its directory, with `.exe` appended when it has no extension, as CreateProcess does ("If the file
 * name does not contain an extension, .exe is appended", [MSDOCS] CreateProcessW lpCommandLine).
 * So `cmd /c ...` runs as `cmd.exe` (audit D5).
 */
export function imageNameOf(commandLine: string): string {
  const trimmed = commandLine.trim();
  const first = trimmed.startsWith('"') ? trimmed.slice(1).split('"')[0] : trimmed.split(/\s+/)[0];
  const parts = (first ?? '').split(/[\\/]/);
  const base = parts[parts.length - 1] ?? '';
  return base === '' || base.includes('.') ? base : `${base}.exe`;
}
