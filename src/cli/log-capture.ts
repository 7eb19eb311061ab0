/**
 * Wiring of the entrypoint log capture for `run` and `apply`: the data root, the rotation flags
 * (`--log-max-size`, `--log-max-file`, `--no-log-capture`) and the capture decorator.
 */
import type { HcsClient } from '../../reconciler/ports.ts';
import { resolveDataRoot } from '../logs/paths.ts';
import { DEFAULT_ROTATION, type Rotation } from '../logs/writer.ts';
import { captureEntrypoints } from './capture-hcs.ts';
import type { GlobalOptions } from './context.ts';
import { UsageError } from './output.ts';

/** The flags of the capture. */
export interface LogCaptureFlags {
  logMaxSize?: string;
  logMaxFile?: string;
  /** commander's `--no-log-capture` sets this false. */
  logCapture?: boolean;
}

/** `10m`, `512k`, `1g`, `4096` (bytes); units are binary (k = 1024), like Docker's `max-size` values read in practice. */
export function parseSize(flag: string, text: string): number {
  const m = /^(\d+)\s*([kmg]?)i?b?$/i.exec(text.trim());
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase()];
  const n = m && unit ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag}: expected a size like 10m, 512k or 4096 (got "${text}")`, 64);
  return n;
}

/** The rotation the flags ask for (default 10 MB × 5). */
export function rotationOf(flags: LogCaptureFlags): Rotation {
  const maxBytes = flags.logMaxSize === undefined ? DEFAULT_ROTATION.maxBytes : parseSize('--log-max-size', flags.logMaxSize);
  const maxFiles = flags.logMaxFile === undefined ? DEFAULT_ROTATION.maxFiles : Number(flags.logMaxFile);
  if (!Number.isInteger(maxFiles) || maxFiles < 1) throw new UsageError(`--log-max-file: expected an integer >= 1 (got "${flags.logMaxFile}")`, 64);
  return { maxBytes, maxFiles };
}

/** The data root: the global `--data-root` when the CLI has it (issue 14), else the platform default. */
export function dataRootOf(g: GlobalOptions): string {
  return resolveDataRoot((g as GlobalOptions & { dataRoot?: string }).dataRoot);
}

/**
 * `hcs` with entrypoints started through the log relay, or `hcs` itself with --no-log-capture
 * or when the client does not say which library it loaded.
 */
export function withLogCapture(hcs: HcsClient, raw: HcsClient, g: GlobalOptions, flags: LogCaptureFlags): HcsClient {
  const libraryPath = (raw as { native?: { libraryPath?: string } }).native?.libraryPath;
  if (flags.logCapture === false || !libraryPath) return hcs;
  return captureEntrypoints(hcs, { libraryPath, dataRoot: dataRootOf(g), rotation: rotationOf(flags) });
}
