/**
 * Appends log records to one system's files and rotates them by size, like Docker's json-file
 * driver (moby daemon/logger/loggerutils/logfile.go: the current file is renamed to `.1`, `.1` to
 * `.2`, …, the oldest beyond max-file is removed; with max-file 1 the file is truncated).
 * Synchronous on purpose: it runs in the relay (relay.ts), whose only job this is, so a write
 * never waits behind anything else.
 */
import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync, writeFileSync } from 'node:fs';
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

/** The current file of system `id` in `dir`, and its rotated generations. */
export function generationPath(dir: string, id: string, generation: number): string {
  return join(dir, generation === 0 ? `${id}.log` : `${id}.log.${generation}`);
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
    this.fd = openSync(generationPath(dir, id, 0), 'a', 0o640);
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
    closeSync(this.fd);
    const { maxFiles } = this.rotation;
    if (maxFiles <= 1) {
      this.fd = openSync(generationPath(this.dir, this.id, 0), 'w', 0o640);
    } else {
      rmSync(generationPath(this.dir, this.id, maxFiles - 1), { force: true });
      for (let g = maxFiles - 2; g >= 0; g--) {
        try {
          renameSync(generationPath(this.dir, this.id, g), generationPath(this.dir, this.id, g + 1));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      this.fd = openSync(generationPath(this.dir, this.id, 0), 'a', 0o640);
    }
    this.size = 0;
    this.rotations++;
  }
}
