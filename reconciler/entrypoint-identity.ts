/**
 * Finding a container's entrypoint again after a controller restart, from what HCS really reports.
 *
 * HCS's `ProcessList` entries are `ProcessDetails`: ProcessId, ImageName, CreateTimestamp, CPU
 * times and memory counters, and no command line ([SCHEMA] ProcessDetails, hcsshim
 * schema2/process_details.go; fidelity audit D5). So identification uses, in order:
 *
 *  1. the controller's own record of the entrypoint it started (pid, image, create timestamp when
 *     known), if that pid is still listed with the same image and, when recorded, the same
 *     CreateTimestamp (a reused pid is a different process);
 *  2. the image name of the command line, normalised as Windows does (basename, case-insensitive,
 *     `.exe` appended when there is no extension: CreateProcess's rule), if exactly one listed
 *     process has it;
 *  3. several processes with that image: the oldest by CreateTimestamp. Every process the
 *     entrypoint starts, and every later `exec`, is created after it, so the oldest is the
 *     entrypoint unless a process started before it shares its image; this is reported as
 *     `ambiguous` so the caller can say so.
 *
 * HCS stays the source of truth: the record only picks among listed processes, and a missing or
 * stale record never makes a running entrypoint look absent. `absent` means no listed process has
 * the entrypoint's image at all.
 */
import type { ObservedProcess } from './ports.ts';

/** What the controller remembers about an entrypoint it started (kept per system id). */
export interface EntrypointRecord {
  processId: number;
  /** Normalised image name (see {@link imageNameOf}). */
  imageName: string;
  /** ProcessDetails.CreateTimestamp once seen in a ProcessList. */
  createTimestamp?: string;
}

/** The controller's small local store of entrypoint records. */
export interface EntrypointRecords {
  get(systemId: string): EntrypointRecord | undefined;
  set(systemId: string, record: EntrypointRecord): void;
  delete(systemId: string): void;
}

/** How the entrypoint was identified. */
export type EntrypointMatch =
  | { kind: 'record' | 'unique' | 'ambiguous'; process: ObservedProcess; candidates: number }
  | { kind: 'absent' };

/**
 * The image name Windows reports for a command line: the first token (quotes honoured), its last
 * path component, lower-cased, with `.exe` appended when it has no extension.
 */
export function imageNameOf(commandLine: string): string {
  const trimmed = commandLine.trim();
  const first = trimmed.startsWith('"') ? trimmed.slice(1).split('"')[0] ?? '' : trimmed.split(/\s+/)[0] ?? '';
  const base = (first.split(/[\\/]/).pop() ?? '').toLowerCase();
  return base === '' || base.includes('.') ? base : `${base}.exe`;
}

/** ImageName as listed, normalised the same way (HCS reports it with its extension). */
function listedImage(p: ObservedProcess): string {
  return p.imageName === undefined ? '' : imageNameOf(`"${p.imageName}"`);
}

function byCreation(a: ObservedProcess, b: ObservedProcess): number {
  const ta = a.createTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(a.createTimestamp);
  const tb = b.createTimestamp === undefined ? Number.POSITIVE_INFINITY : Date.parse(b.createTimestamp);
  return (Number.isNaN(ta) ? Infinity : ta) - (Number.isNaN(tb) ? Infinity : tb) || a.processId - b.processId;
}

/** Identifies the entrypoint in a ProcessList (pure; see the module comment for the order). */
export function identifyEntrypoint(
  list: readonly ObservedProcess[],
  commandLine: string,
  record?: EntrypointRecord,
): EntrypointMatch {
  const image = imageNameOf(commandLine);
  const candidates = list.filter((p) => listedImage(p) === image);
  if (candidates.length === 0) return { kind: 'absent' };
  const recorded = record && record.imageName === image
    ? candidates.find((p) => p.processId === record.processId
      && (record.createTimestamp === undefined || p.createTimestamp === undefined || p.createTimestamp === record.createTimestamp))
    : undefined;
  if (recorded) return { kind: 'record', process: recorded, candidates: candidates.length };
  if (candidates.length === 1) return { kind: 'unique', process: candidates[0]!, candidates: 1 };
  return { kind: 'ambiguous', process: [...candidates].sort(byCreation)[0]!, candidates: candidates.length };
}

/** The record to keep for an identified (or just started) entrypoint. */
export function recordFor(process: ObservedProcess | { processId: number }, commandLine: string): EntrypointRecord {
  const ts = (process as ObservedProcess).createTimestamp;
  return { processId: process.processId, imageName: imageNameOf(commandLine), ...(ts === undefined ? {} : { createTimestamp: ts }) };
}

/** An in-memory {@link EntrypointRecords} (the default: survives service restarts, not controller restarts). */
export class MemoryEntrypointRecords implements EntrypointRecords {
  readonly #records = new Map<string, EntrypointRecord>();
  get(systemId: string): EntrypointRecord | undefined {
    return this.#records.get(systemId);
  }
  set(systemId: string, record: EntrypointRecord): void {
    this.#records.set(systemId, record);
  }
  delete(systemId: string): void {
    this.#records.delete(systemId);
  }
}
