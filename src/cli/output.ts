/** Output helpers shared by commands: tables, JSON, durations, user errors. */

/** An error caused by the user's input: printed without a stack trace. */
export class UsageError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Render rows as an aligned text table. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Print a value as pretty JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Human age: 5s, 3m, 2h, 4d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Validate an `-o` value against the formats a command supports. */
export function outputFormat(value: string | undefined, allowed: string[]): string {
  const format = value ?? 'text';
  if (format !== 'text' && !allowed.includes(format)) {
    throw new UsageError(`unknown output format "${format}" (allowed: text, ${allowed.join(', ')})`, 64);
  }
  return format;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** The ACTUAL of a status row: the state, and while its image is pulled the bytes done / total (`Pulling 12.0/80.0 MB`). */
export function actualText(r: { actual: string; pull?: { doneBytes: number; totalBytes: number } }): string {
  return r.pull ? `${r.actual} ${mb(r.pull.doneBytes)}/${mb(r.pull.totalBytes)} MB` : r.actual;
}
