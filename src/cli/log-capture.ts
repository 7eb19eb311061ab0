/**
 * Wiring of the entrypoint log capture for `run` and `apply`: the data root, the rotation flags
 * (`--log-max-size`, `--log-max-file`, `--no-log-capture`) and the capture decorator.
 */
import type { DesiredSystem, HcsClient } from '../../reconciler/ports.ts';
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

/**
 * Per-manifest overrides (`spec.container.process.logs`, already validated by the schema), kept
 * from the latest snapshot: `update` with each snapshot's manifests, `rotationFor` when an
 * entrypoint starts.
 */
export class RotationOverrides {
  private byName = new Map<string, Rotation>();

  constructor(private readonly base: Rotation) {}

  update(manifests: readonly DesiredSystem[]): void {
    const next = new Map<string, Rotation>();
    for (const m of manifests) {
      const o = m.process?.logs;
      if (!o) continue;
      let maxBytes = this.base.maxBytes;
      try {
        if (o.maxSize !== undefined) maxBytes = parseSize(`${m.name}: logs.maxSize`, o.maxSize);
      } catch {
        // The schema admits only sizes parseSize reads; a value too large for it keeps the default.
      }
      next.set(m.name, { maxBytes, maxFiles: o.maxFiles ?? this.base.maxFiles });
    }
    this.byName = next;
  }

  rotationFor(name: string): Rotation {
    return this.byName.get(name) ?? this.base;
  }
}

/** The data root: the global `--data-root` when the CLI has it (issue 14), else the platform default. */
export function dataRootOf(g: GlobalOptions): string {
  return resolveDataRoot((g as GlobalOptions & { dataRoot?: string }).dataRoot);
}

/**
 * `hcs` with entrypoints started through the log relay, or `hcs` itself with --no-log-capture
 * or when the client does not say which library it loaded.
 */
export function withLogCapture(hcs: HcsClient, raw: HcsClient, g: GlobalOptions, flags: LogCaptureFlags, overrides?: RotationOverrides): HcsClient {
  const libraryPath = (raw as { native?: { libraryPath?: string } }).native?.libraryPath;
  if (flags.logCapture === false || !libraryPath) return hcs;
  const rotation = rotationOf(flags);
  return captureEntrypoints(hcs, { libraryPath, dataRoot: dataRootOf(g), rotation, ...(overrides ? { rotationFor: (name) => overrides.rotationFor(name) } : {}) });
}
