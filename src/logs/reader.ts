/**
 * Reads a system's log files for `logs`: every record oldest first across the rotated files,
 * and following (`-f`) across rotation. Works on the files alone: no controller needed.
 *
 * Following: the open file is read to its end on every poll; when the current path names another
 * file (the writer rotated), the old file is drained, then the generations written after it
 * (found by inode among `.N` … `.1`) are read whole, then the new current file. No record is read
 * twice or skipped as long as fewer than max-file rotations happen between two polls.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { decodeRecord, type LogRecord } from './format.ts';
import { currentMarkerPath, endedMarkerPath, generationPath } from './writer.ts';

/** The system id whose logs a name shows: the `current` marker, else the newest `<id>.log`. */
export function currentSystemId(dir: string): string | undefined {
  try {
    const id = readFileSync(currentMarkerPath(dir), 'utf8').trim();
    if (id) return id;
  } catch {
    // no marker: fall back to the newest file
  }
  if (!existsSync(dir)) return undefined;
  const logs = readdirSync(dir).filter((f) => f.endsWith('.log'));
  logs.sort((a, b) => statSync(`${dir}/${b}`).mtimeMs - statSync(`${dir}/${a}`).mtimeMs);
  return logs[0]?.slice(0, -'.log'.length);
}

/** Existing generations, oldest first (highest number first, the current file last). */
function generations(dir: string, id: string): string[] {
  const found: Array<{ g: number; path: string }> = [];
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (f === `${id}.log`) found.push({ g: 0, path: generationPath(dir, id, 0) });
    const m = f.startsWith(`${id}.log.`) ? /^(\d+)$/.exec(f.slice(id.length + 5)) : null;
    if (m) found.push({ g: Number(m[1]), path: generationPath(dir, id, Number(m[1])) });
  }
  return found.sort((a, b) => b.g - a.g).map((x) => x.path);
}

function recordsOf(text: string): LogRecord[] {
  return text.split('\n').map(decodeRecord).filter((r): r is LogRecord => r !== undefined);
}

/** Where a reader stands in the current file (for following on from a snapshot). */
export interface LogCursor {
  fd?: number;
  ino: number;
  pos: number;
}

/**
 * Every record so far, oldest first, and a cursor at their end. The current file is opened
 * first, so a rotation while the older files are read neither loses nor repeats a record.
 */
export function snapshotRecords(dir: string, id: string): { records: LogRecord[]; cursor: LogCursor } {
  const current = generationPath(dir, id, 0);
  const fd = openWhenExists(current);
  const ino = fd === undefined ? -1 : fstatSync(fd).ino;
  const records: LogRecord[] = [];
  const rotated = generations(dir, id).filter((p) => p !== current);
  const mine = rotated.findIndex((p) => statOrUndefined(p)?.ino === ino); // rotated since we opened it
  for (const path of mine < 0 ? rotated : rotated.slice(0, mine)) {
    try {
      for (const r of recordsOf(readFileSync(path, 'utf8'))) records.push(r); // no spread: files hold 100k+ lines
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  let pos = 0;
  if (fd !== undefined) {
    const text = readToEnd(fd, 0);
    const complete = text.lastIndexOf('\n') + 1; // a torn last line is read again by the follower
    for (const r of recordsOf(text.slice(0, complete))) records.push(r);
    pos = Buffer.byteLength(text.slice(0, complete), 'utf8');
  }
  return { records, cursor: { fd, ino, pos } };
}

function readToEnd(fd: number, from: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(64 * 1024);
  let pos = from;
  for (let n = readSync(fd, buf, 0, buf.length, pos); n > 0; n = readSync(fd, buf, 0, buf.length, pos)) {
    chunks.push(Buffer.from(buf.subarray(0, n)));
    pos += n;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Options of {@link followRecords}. */
export interface FollowOptions {
  /** Called for every new record, in order. */
  onRecord(r: LogRecord): void;
  /** Continue from here (from snapshotRecords); default the current end of the file. */
  cursor?: LogCursor;
  /** Poll interval (default 100 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Follows the current file across rotations until `signal` aborts or the output ended (the relay's
 * `<id>.ended` marker, written after the last record: one more drain then reaches the end).
 * Closes the cursor's file. Resolves `true` when the output ended.
 */
export async function followRecords(dir: string, id: string, opts: FollowOptions): Promise<boolean> {
  const current = generationPath(dir, id, 0);
  let fd = opts.cursor ? opts.cursor.fd : openWhenExists(current);
  let pos = opts.cursor ? opts.cursor.pos : fd === undefined ? 0 : fstatSync(fd).size;
  let ino = opts.cursor ? opts.cursor.ino : fd === undefined ? -1 : fstatSync(fd).ino;
  let partial = '';
  const emit = (text: string): void => {
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const r = decodeRecord(line);
      if (r) opts.onRecord(r);
    }
  };
  const drain = (): void => {
    if (fd === undefined) return;
    const buf = Buffer.alloc(64 * 1024);
    for (let n = readSync(fd, buf, 0, buf.length, pos); n > 0; n = readSync(fd, buf, 0, buf.length, pos)) {
      pos += n;
      emit(buf.subarray(0, n).toString('utf8'));
    }
  };
  const wait = (ms: number): Promise<void> => new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    while (!opts.signal?.aborted) {
      const ended = existsSync(endedMarkerPath(dir, id)); // checked before the drain that must see the rest
      drain();
      const now = statOrUndefined(current);
      if (now && now.ino !== ino) {
        // Rotated: what follows our old file are the generations below it, then the new current.
        const oldIno = ino;
        drain(); // the writer closed the old file before renaming it: this reaches its true end
        if (fd !== undefined) closeSync(fd);
        // Open the new current file first, then read whatever was rotated between the two: a
        // rotation in the meantime only moves the new file, which this fd still reads.
        fd = openWhenExists(current);
        pos = 0;
        ino = fd === undefined ? -1 : fstatSync(fd).ino;
        for (const path of generationsBetween(dir, id, oldIno, ino)) {
          try {
            emit(readFileSync(path, 'utf8'));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          }
        }
        continue;
      }
      if (ended) return true;
      await wait(opts.intervalMs ?? 100);
    }
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Rotated files written after the file with inode `from` and before the one with inode `to`, oldest first. */
function generationsBetween(dir: string, id: string, from: number, to: number): string[] {
  const rotated = generations(dir, id).filter((p) => p !== generationPath(dir, id, 0));
  const inodes = rotated.map((p) => statOrUndefined(p)?.ino);
  const start = inodes.indexOf(from) + 1; // 0 when the old file is gone: all are newer
  const end = inodes.indexOf(to);
  return rotated.slice(start, end < 0 ? rotated.length : end);
}

function openWhenExists(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}

function statOrUndefined(path: string): { ino: number } | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
