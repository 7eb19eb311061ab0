/**
 * One log record per line of output, the Docker json-file format
 * (moby daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go): `{"log":"…\n","stream":"stdout","time":"…Z"}`.
 * `log` keeps the line's newline; a line split because it was too long, or the partial last line
 * flushed at exit, has none (which is how a reader knows it continues or was cut).
 */

/** The stream a record came from. */
export type LogStream = 'stdout' | 'stderr';

/** One record of a log file. */
export interface LogRecord {
  log: string;
  stream: LogStream;
  /** RFC 3339 with milliseconds, UTC. */
  time: string;
}

/** Longest line kept in one record, in bytes; longer lines are split (Docker's copier uses 16 KiB: moby daemon/logger/copier.go). */
export const MAX_LINE_BYTES = 16 * 1024;

/** Encodes a record as one JSON line (with its newline). */
export function encodeRecord(r: LogRecord): string {
  return `${JSON.stringify({ log: r.log, stream: r.stream, time: r.time })}\n`;
}

/** Decodes one line; undefined for anything that is not a record (a torn line, garbage). */
export function decodeRecord(line: string): LogRecord | undefined {
  try {
    const v = JSON.parse(line) as Partial<LogRecord>;
    if (typeof v.log !== 'string' || (v.stream !== 'stdout' && v.stream !== 'stderr') || typeof v.time !== 'string') return undefined;
    return { log: v.log, stream: v.stream, time: v.time };
  } catch {
    return undefined;
  }
}

/**
 * Cuts a byte stream into lines: complete lines (with `\n`), pieces of lines longer than
 * MAX_LINE_BYTES (split, never dropped), and on flush() the partial rest. UTF-8 sequences are
 * never cut in the middle.
 */
export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  /** The lines completed by this chunk. */
  push(chunk: Buffer): string[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const lines: string[] = [];
    for (;;) {
      const nl = this.pending.indexOf(0x0a);
      const end = nl >= 0 && nl < this.maxBytes ? nl + 1 : this.pending.length >= this.maxBytes ? safeCut(this.pending, this.maxBytes) : -1;
      if (end < 0) break;
      lines.push(this.pending.subarray(0, end).toString('utf8'));
      this.pending = this.pending.subarray(end);
    }
    return lines;
  }

  /** The partial last line (no newline), if any. */
  flush(): string | undefined {
    if (this.pending.length === 0) return undefined;
    const rest = this.pending.toString('utf8');
    this.pending = Buffer.alloc(0);
    return rest;
  }
}

/** A cut at or before `max` that does not split a UTF-8 sequence. */
function safeCut(buf: Buffer, max: number): number {
  let cut = max;
  while (cut > 0 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return cut > 0 ? cut : max;
}
