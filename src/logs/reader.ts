/**
 * Reads a system's log files for `logs`: every record oldest first across the kept files, and
 * following (`-f`) across rotations. Works on the files alone: no controller needed.
 *
 * Files are known by their serial number (writer.ts: `<id>.log.<n>`, never renamed, the highest is
 * being written). Following reads the open file to its end on every poll; once a higher number
 * exists, the writer has closed this one, so after one more drain the follower moves to the next.
 * Every newer file is opened as soon as a poll sees it, and an open file stays readable after the
 * writer removes it (held open; on Windows libuv opens with FILE_SHARE_DELETE), so lines are lost
 * only when a file is created and removed between two polls (more than max-file rotations in one
 * poll interval). Then the missing numbers are reported (`onGap`), never skipped silently.
 */
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { decodeRecord, type LogRecord } from './format.ts';
import { currentMarkerPath, endedMarkerPath, generationPath, listGenerations } from './writer.ts';

/** The system id whose logs a name shows: the `current` marker, else the newest `<id>.log.<n>`. */
export function currentSystemId(dir: string): string | undefined {
  try {
    const id = readFileSync(currentMarkerPath(dir), 'utf8').trim();
    if (id) return id;
  } catch {
    // no marker: fall back to the newest file
  }
  if (!existsSync(dir)) return undefined;
  const logs = readdirSync(dir).filter((f) => /\.log\.\d+$/.test(f) && !f.startsWith('relay-'));
  logs.sort((a, b) => statSync(`${dir}/${b}`).mtimeMs - statSync(`${dir}/${a}`).mtimeMs);
  return logs[0]?.replace(/\.log\.\d+$/, '');
}

function recordsOf(text: string): LogRecord[] {
  return text.split('\n').map(decodeRecord).filter((r): r is LogRecord => r !== undefined);
}

/** Where a reader stands: the file it reads (its serial; 0 = none yet) and the offset in it. */
export interface LogCursor {
  fd?: number;
  serial: number;
  pos: number;
}

/** Files a follower never read: the writer removed them before it got there. */
export interface LogGap {
  /** The last file read before the gap (0: none). */
  after: number;
  /** The first file read after it. */
  next: number;
  /** How many files are missing (next - after - 1). */
  files: number;
}

/**
 * The kept files of `id`, opened newest first before any is read, so a rotation meanwhile can
 * neither remove one of them (an open file stays readable) nor leave a hole: files are removed
 * oldest first, so the first one that cannot be opened ends the opening. `open` is oldest first;
 * `newest` is the newest serial listed (0 when none).
 */
function openGenerations(dir: string, id: string): { newest: number; open: Array<{ serial: number; fd: number }> } {
  const serials = listGenerations(dir, id);
  const open: Array<{ serial: number; fd: number }> = [];
  for (let i = serials.length - 1; i >= 0; i--) {
    const fd = openWhenExists(generationPath(dir, id, serials[i]!));
    if (fd === undefined) break;
    open.unshift({ serial: serials[i]!, fd });
  }
  return { newest: serials.at(-1) ?? 0, open };
}

/**
 * Every record so far, oldest first, and a cursor at their end. The files are opened first
 * ({@link openGenerations}); after a rotation meanwhile the records start a little later.
 */
export function snapshotRecords(dir: string, id: string): { records: LogRecord[]; cursor: LogCursor } {
  const { newest, open } = openGenerations(dir, id);
  const last = open.pop();
  const records: LogRecord[] = [];
  for (const { fd } of open) {
    try {
      for (const r of recordsOf(readToEnd(fd, 0))) records.push(r); // no spread: files hold 100k+ lines
    } finally {
      closeSync(fd);
    }
  }
  if (!last) return { records, cursor: { serial: newest, pos: 0 } };
  const text = readToEnd(last.fd, 0);
  const complete = text.lastIndexOf('\n') + 1; // a torn last line is read again by the follower
  for (const r of recordsOf(text.slice(0, complete))) records.push(r);
  return { records, cursor: { fd: last.fd, serial: last.serial, pos: Buffer.byteLength(text.slice(0, complete), 'utf8') } };
}

/**
 * The last `n` records that `keep` accepts, oldest first, and a cursor at their end: what
 * `logs --tail N` needs, reading the files backwards from their end instead of whole (a tail of 10
 * lines of 100 MB of logs reads a few 64 KiB blocks). The files are opened first ({@link openGenerations}).
 */
export function tailRecords(dir: string, id: string, n: number, keep: (r: LogRecord) => boolean = () => true): { records: LogRecord[]; cursor: LogCursor } {
  const { newest, open } = openGenerations(dir, id);
  const last = open.at(-1);
  if (!last) return { records: [], cursor: { serial: newest, pos: 0 } };
  const end = completeEnd(last.fd); // a torn last line is read again by the follower
  const newestFirst: LogRecord[] = [];
  try {
    for (let i = open.length - 1; i >= 0 && newestFirst.length < n; i--) {
      const { fd } = open[i]!;
      const to = fd === last.fd ? end : fstatSync(fd).size;
      for (const line of linesBackwards(fd, to)) {
        const r = decodeRecord(line);
        if (r && keep(r)) newestFirst.push(r);
        if (newestFirst.length >= n) break;
      }
    }
  } finally {
    for (const { fd } of open) if (fd !== last.fd) closeSync(fd);
  }
  return { records: newestFirst.reverse(), cursor: { fd: last.fd, serial: last.serial, pos: end } };
}

/** The offset just past the last newline of a file (0 when it has none). */
function completeEnd(fd: number): number {
  for (const { start, bytes } of blocksBackwards(fd, fstatSync(fd).size)) {
    const nl = bytes.lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
  }
  return 0;
}

function* blocksBackwards(fd: number, to: number): Generator<{ start: number; bytes: Buffer }> {
  const size = 64 * 1024;
  for (let end = to; end > 0; end -= size) {
    const start = Math.max(0, end - size);
    const bytes = Buffer.alloc(end - start);
    readSync(fd, bytes, 0, bytes.length, start);
    yield { start, bytes };
  }
}

/** The lines of `[0, to)` newest first, without their `\n` (a newline byte never occurs inside a UTF-8 sequence). */
function* linesBackwards(fd: number, to: number): Generator<string> {
  let carry: Buffer = Buffer.alloc(0); // the start of a line whose beginning is in an earlier block
  let first = true;
  for (const { start, bytes } of blocksBackwards(fd, to)) {
    const buf = carry.length > 0 ? Buffer.concat([bytes, carry]) : bytes;
    let stop = buf.length;
    if (first && stop > 0 && buf[stop - 1] === 0x0a) stop--; // the last line's own terminator
    first = false;
    while (stop > 0) {
      const nl = buf.lastIndexOf(0x0a, stop - 1);
      if (nl < 0) break;
      yield buf.toString('utf8', nl + 1, stop);
      stop = nl;
    }
    carry = Buffer.from(buf.subarray(0, stop));
    if (start === 0 && carry.length > 0) yield carry.toString('utf8');
  }
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
  /** Called when files were removed before the follower reached them (their lines are lost here). */
  onGap?(gap: LogGap): void;
  /** Continue from here (from snapshotRecords); default the current end of the newest file. */
  cursor?: LogCursor;
  /** Poll interval (default 100 ms). */
  intervalMs?: number;
  /** The pause between two polls (tests inject one); default `intervalMs`, cut short by `signal`. */
  pause?: () => Promise<void>;
  signal?: AbortSignal;
}

/**
 * Follows the files across rotations until `signal` aborts or the output ended (the relay's
 * `<id>.ended` marker, written after the last record: one more drain then reaches the end).
 * Closes every file it opened, the cursor's too. Resolves `true` when the output ended.
 */
export async function followRecords(dir: string, id: string, opts: FollowOptions): Promise<boolean> {
  let cur: LogCursor = opts.cursor ?? atEnd(dir, id);
  const pending = new Map<number, number>(); // newer files, opened as soon as seen: serial → fd
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
    if (cur.fd === undefined) return;
    const buf = Buffer.alloc(64 * 1024);
    for (let n = readSync(cur.fd, buf, 0, buf.length, cur.pos); n > 0; n = readSync(cur.fd, buf, 0, buf.length, cur.pos)) {
      cur.pos += n;
      emit(buf.subarray(0, n).toString('utf8'));
    }
  };
  const pause = opts.pause ?? (() => sleep(opts.intervalMs ?? 100, opts.signal));
  try {
    while (!opts.signal?.aborted) {
      const ended = existsSync(endedMarkerPath(dir, id)); // checked before the drain that must see the rest
      drain();
      for (const s of listGenerations(dir, id)) {
        if (s <= cur.serial || pending.has(s)) continue;
        const fd = openWhenExists(generationPath(dir, id, s));
        if (fd !== undefined) pending.set(s, fd); // one that is already gone shows up as a gap below
      }
      const next = pending.size > 0 ? Math.min(...pending.keys()) : undefined;
      if (next !== undefined) {
        // The writer moved on: it closed this file before creating the next, so this drain reaches its end.
        drain();
        if (cur.fd !== undefined) closeSync(cur.fd);
        if (next > cur.serial + 1) opts.onGap?.({ after: cur.serial, next, files: next - cur.serial - 1 });
        partial = ''; // a record is never split across files
        cur = { fd: pending.get(next), serial: next, pos: 0 };
        pending.delete(next);
        continue;
      }
      if (ended) return true;
      await pause();
    }
    return false;
  } finally {
    if (cur.fd !== undefined) closeSync(cur.fd);
    for (const fd of pending.values()) closeSync(fd);
  }
}

/** A cursor at the end of the newest file (or before the first, when there is none). */
function atEnd(dir: string, id: string): LogCursor {
  const serial = listGenerations(dir, id).at(-1);
  const fd = serial === undefined ? undefined : openWhenExists(generationPath(dir, id, serial));
  if (serial === undefined || fd === undefined) return { serial: serial ?? 0, pos: 0 };
  return { fd, serial, pos: fstatSync(fd).size };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function openWhenExists(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch {
    return undefined;
  }
}
