/**
 * Structured logger: one JSON object per line (constant `msg` plus fields) when stderr is not a
 * TTY, a short human-readable line on a TTY. Logs go to stderr so stdout stays parseable.
 */
import type { Logger } from '../../reconciler/ports.ts';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;

/** Options of {@link createLogger}. */
export interface LogOptions {
  level?: Level;
  json?: boolean;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Create the process logger. */
export function createLogger(opts: LogOptions = {}): Logger {
  const stream = opts.stream ?? process.stderr;
  const json = opts.json ?? !stream.isTTY;
  const min = LEVELS[opts.level ?? 'info'];
  const write = (level: Level, msg: string, fields: Record<string, unknown> = {}): void => {
    if (LEVELS[level] < min) return;
    const time = new Date().toISOString();
    if (json) {
      stream.write(`${JSON.stringify({ level, time, msg, ...fields })}\n`);
      return;
    }
    const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
    stream.write(`${time.slice(11, 19)} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? ` ${extra}` : ''}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
