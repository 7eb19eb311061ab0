/**
 * `hcs-reconciler logs NAME [-f] [--tail N] [--since DURATION] [--timestamps] [-o json]`: the
 * captured output of a container's entrypoint, read from the log files under the data root
 * (no controller, no HCS needed). Text output writes each record's line to stdout or stderr, as
 * it came; `-o json` prints the records themselves, one JSON object per line.
 * `-f` ends by itself once the entrypoint's output ended (its process exited), like `docker logs -f`.
 * Exit codes: 0; 1 no logs for NAME (never ran here, or not ours); 64 bad flags.
 */
import { closeSync, existsSync } from 'node:fs';
import { NAME_PATTERN } from '../../../reconciler/identity.ts';
import { parseDuration } from '../../manifest/index.ts';
import { encodeRecord, type LogRecord } from '../../logs/format.ts';
import { logDirFor } from '../../logs/paths.ts';
import { currentSystemId, followRecords, snapshotRecords, tailRecords, type LogGap } from '../../logs/reader.ts';
import type { GlobalOptions } from '../context.ts';
import { exitQuietlyOnEpipe } from '../epipe.ts';
import { dataRootOf } from '../log-capture.ts';
import { outputFormat, UsageError } from '../output.ts';

/** Flags of `logs`. */
export interface LogsOptions {
  follow?: boolean;
  tail?: string;
  since?: string;
  timestamps?: boolean;
  output?: string;
}

/** `--since`: a duration back from now (10m, 1h) or an RFC 3339 time. */
function sinceOf(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms !== undefined) return now - ms;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`--since: expected a duration like 10m or a time like 2026-12-01T20:00:00Z (got "${text}")`, 64);
  return t;
}

function tailOf(text: string | undefined): number | undefined {
  if (text === undefined || text === 'all') return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--tail: expected a number of lines or "all" (got "${text}")`, 64);
  return n;
}

/** Prints one record in the chosen format. */
function printer(json: boolean, timestamps: boolean): (r: LogRecord) => void {
  return (r) => {
    if (json) {
      process.stdout.write(encodeRecord(r));
      return;
    }
    const text = timestamps ? `${r.time} ${r.log}` : r.log;
    (r.stream === 'stderr' ? process.stderr : process.stdout).write(text);
  };
}

/**
 * What `logs -f` prints on stderr when log files were removed before it could read them (more than
 * max-file rotations between two polls): the lines in them are missing from its output.
 */
export function gapMarker(id: string, gap: LogGap): string {
  const which = gap.files === 1 ? `file ${gap.after + 1}` : `files ${gap.after + 1}-${gap.next - 1}`;
  return `--- logs: ${gap.files} log file${gap.files === 1 ? '' : 's'} of ${id} (${which}) rotated away before they could be read: their lines are missing here ---\n`;
}

/** Runs `logs`; resolves with the exit code (with -f: on SIGINT/SIGTERM). */
export async function logsCommand(name: string, opts: LogsOptions, g: GlobalOptions): Promise<number> {
  const json = outputFormat(opts.output, ['json']) === 'json';
  if (!NAME_PATTERN.test(name)) throw new UsageError(`"${name}" is not a manifest name (lowercase letters, digits and '-')`, 1);
  const since = sinceOf(opts.since, Date.now());
  const tail = tailOf(opts.tail);
  const dataRoot = dataRootOf(g);
  const dir = logDirFor(dataRoot, name);
  const id = existsSync(dir) ? currentSystemId(dir) : undefined;
  if (!id) throw new UsageError(`no logs for "${name}": no container of that name has run with log capture here (looked in ${dir})`, 1);
  exitQuietlyOnEpipe(0);
  const print = printer(json, opts.timestamps === true);
  const keep = (r: LogRecord): boolean => since === undefined || Date.parse(r.time) >= since;
  const snapshot = tail === undefined ? snapshotRecords(dir, id) : tailRecords(dir, id, tail, keep);
  for (const r of snapshot.records) if (keep(r)) print(r);
  if (!opts.follow) {
    if (snapshot.cursor.fd !== undefined) closeSync(snapshot.cursor.fd);
    return 0;
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await followRecords(dir, id, { cursor: snapshot.cursor, onRecord: (r) => keep(r) && print(r), onGap: (gap) => process.stderr.write(gapMarker(id, gap)), signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
