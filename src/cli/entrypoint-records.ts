/**
 * The controller's small local record of the entrypoints it started (audit D5): pid, image and
 * create timestamp per system id, in `<lock dir>/<owner>.entrypoints.json` next to the instance
 * lock. HCS stays the source of truth: the record only picks among the processes HCS lists
 * (reconciler/entrypoint-identity.ts), so a missing, stale or unreadable file never causes a kill;
 * it is then simply empty.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntrypointRecord, EntrypointRecords } from '../../reconciler/entrypoint-identity.ts';

/** A file-backed record store (written atomically on every change; small: one entry per container). */
export class FileEntrypointRecords implements EntrypointRecords {
  readonly #records: Map<string, EntrypointRecord>;

  constructor(readonly file: string) {
    this.#records = load(file);
  }

  get(systemId: string): EntrypointRecord | undefined {
    return this.#records.get(systemId);
  }

  set(systemId: string, record: EntrypointRecord): void {
    this.#records.set(systemId, record);
    this.#save();
  }

  delete(systemId: string): void {
    if (this.#records.delete(systemId)) this.#save();
  }

  #save(): void {
    try {
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.#records)), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // Losing the record only weakens identification among same-image processes; never fatal.
    }
  }
}

function load(file: string): Map<string, EntrypointRecord> {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Partial<EntrypointRecord>>;
    const ok = Object.entries(raw).filter(([, r]) => typeof r?.processId === 'number' && typeof r.imageName === 'string');
    return new Map(ok as Array<[string, EntrypointRecord]>);
  } catch {
    return new Map();
  }
}

/** The record store of one owner in the directory of its lock file (created if needed). */
export function openEntrypointRecords(owner: string, dir: string): FileEntrypointRecords {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return new FileEntrypointRecords(join(dir, `${owner.replace(/[^A-Za-z0-9._-]/g, '_')}.entrypoints.json`));
}
