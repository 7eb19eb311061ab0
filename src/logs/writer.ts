/**
 * Appends log records to one system's files and rotates them by size, keeping max-file files like
 * Docker's json-file driver (moby daemon/logger/loggerutils/logfile.go), but named by a serial
 * number that only grows: `<id>.log.1`, `<id>.log.2`, …; the highest is the file being written.
 * A rotation closes the current file, creates the next one and then removes those beyond
 * max-file. Nothing is ever renamed (Docker renames `.log` → `.log.1` → …), so a reader knows
 * every file by its name: `logs -f` never confuses two generations, and when files it had not
 * reached yet were removed (more than max-file rotations between two of its polls) it sees the
 * missing numbers and says so (reader.ts) instead of skipping them silently.
 * Synchronous on purpose: it runs in the relay (relay.ts), whose only job this is, so a write
 * never waits behind anything else.
 */
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRecord, type LogStream } from './format.ts';

/** Size-based rotation. */
export interface Rotation {
  /** Rotate before a write would take the current file past this many bytes. */
  maxBytes: number;
  /** Files kept, the current one included (>= 1). */
  maxFiles: number;
}

/** 10 MB × 5 files (issue 16; Docker's json-file has no default, its `local` driver keeps 20 MiB × 5). */
export const DEFAULT_ROTATION: Rotation = { maxBytes: 10 * 1024 * 1024, maxFiles: 5 };

/** The log file number `serial` (1, 2, …) of system `id` in `dir`. */
export function generationPath(dir: string, id: string, serial: number): string {
  return join(dir, `${id}.log.${serial}`);
}

/** The serial of a log file name of system `id`, or undefined. */
export function serialOf(id: string, fileName: string): number | undefined {
  if (!fileName.startsWith(`${id}.log.`)) return undefined;
  const rest = fileName.slice(id.length + 5);
  return /^[1-9]\d*$/.test(rest) ? Number(rest) : undefined;
}

/** The serials of system `id`'s log files in `dir`, ascending (the last is the one being written). */
export function listGenerations(dir: string, id: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const serials: number[] = [];
  for (const f of names) {
    const s = serialOf(id, f);
    if (s !== undefined) serials.push(s);
  }
  return serials.sort((a, b) => a - b);
}

/** The marker a relay leaves when the output of system `id` ended (the process exited). */
export function endedMarkerPath(dir: string, id: string): string {
  return join(dir, `${id}.ended`);
}

/** The marker naming a name's current system (read by `logs`). */
export function currentMarkerPath(dir: string): string {
  return join(dir, 'current');
}

/** Writes records for one system; rotates by size. */
export class RotatingLogWriter {
  private fd: number;
  private size: number;
  private serial: number;
  /** Rotations done (for tests and the relay's own log). */
  rotations = 0;

  constructor(
    private readonly dir: string,
    private readonly id: string,
    private readonly rotation: Rotation = DEFAULT_ROTATION,
    private readonly now: () => Date = () => new Date(),
  ) {
    mkdirSync(dir, { recursive: true });
    rmSync(endedMarkerPath(dir, id), { force: true }); // a new run of the same system id
    this.serial = listGenerations(dir, id).at(-1) ?? 1; // a new run of the same system appends
    this.fd = openSync(generationPath(dir, id, this.serial), 'a', 0o640);
    this.size = fstatSync(this.fd).size;
    const marker = currentMarkerPath(dir);
    writeFileSync(`${marker}.${process.pid}.tmp`, `${id}\n`);
    renameSync(`${marker}.${process.pid}.tmp`, marker);
  }

  /** Appends one record (`log` is one line, or a piece of one). */
  write(stream: LogStream, log: string): void {
    const bytes = Buffer.from(encodeRecord({ log, stream, time: this.now().toISOString() }), 'utf8');
    if (this.size > 0 && this.size + bytes.length > this.rotation.maxBytes) this.rotate();
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off);
    this.size += bytes.length;
  }

  /** Closes the file; with `ended`, also says that this output is complete (`logs -f` stops). */
  close(ended = false): void {
    closeSync(this.fd);
    if (ended) writeFileSync(endedMarkerPath(this.dir, this.id), `${this.now().toISOString()}\n`);
  }

  private rotate(): void {
    // Closed first: once the next file exists, this one is complete (the follower relies on it).
    closeSync(this.fd);
    this.serial++;
    this.fd = openSync(generationPath(this.dir, this.id, this.serial), 'a', 0o640);
    for (const old of listGenerations(this.dir, this.id)) {
      if (old <= this.serial - this.rotation.maxFiles) rmSync(generationPath(this.dir, this.id, old), { force: true });
    }
    this.size = 0;
    this.rotations++;
  }
}
