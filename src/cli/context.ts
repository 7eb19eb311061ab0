/**
 * Shared wiring for commands: global options, manifest options (host, policy), and opening the
 * HCS library (the real computecore.dll on Windows, the emulator library elsewhere, starting an
 * emulator service when the command needs one).
 */
import { hostname } from 'node:os';
import { ensureEmulator, findEmulator, defaultSocketPath } from '../emulator/launcher.ts';
import { ensureEmulatorLibrary } from '../emulator/native/build.mjs';
import { openHcs } from '../hcs/index.ts';
import { formatError, loadPolicyFile, type ManifestOptions } from '../manifest/index.ts';
import type { HcsClient, Logger } from '../../reconciler/ports.ts';
import { UsageError } from './output.ts';
import { imageLookup } from './images.ts';

/** Options every command accepts. */
export interface GlobalOptions {
  owner: string;
  library?: string;
  emulatorSocket?: string;
  hostName?: string;
  hostLabels?: string;
  policy?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  logFormat?: 'json' | 'text';
  /** Image store root (--data-root). */
  dataRoot?: string;
  registryConfig?: string;
  insecureRegistry?: string[];
}

/** Parse `k=v,k2=v2`. */
export function parseLabels(text: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of (text ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--host-labels: expected key=value, got "${pair}"`, 64);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

/** Manifest options from the global flags (host identity for placement, policy file). */
export async function manifestOptions(g: GlobalOptions): Promise<ManifestOptions> {
  const opts: ManifestOptions = {
    owner: g.owner,
    host: { name: g.hostName ?? hostname(), labels: parseLabels(g.hostLabels) },
    images: imageLookup(g.dataRoot),
  };
  if (!g.policy) return opts;
  const { policy, errors } = await loadPolicyFile(g.policy);
  if (errors.length > 0 || !policy) {
    throw new UsageError(`invalid policy file:\n${errors.map((e) => `  ${formatError(e)}`).join('\n')}`);
  }
  return { ...opts, policy };
}

/** An open HCS client plus how it was reached (for messages). */
export interface OpenedHcs {
  hcs: HcsClient;
  description: string;
}

/**
 * Open HCS. On Windows: computecore.dll. Elsewhere: the emulator library, against the emulator
 * service at --emulator-socket / HCS_EMULATOR_SOCKET / the default path; with `start`, a service
 * is started (detached, so systems outlive this process) when none is running.
 */
export async function openHcsForCli(g: GlobalOptions, logger: Logger, opts: { start: boolean }): Promise<OpenedHcs> {
  const explicit = g.library ?? process.env.HCS_LIBRARY;
  if (explicit || process.platform === 'win32') {
    const libraryPath = explicit ?? 'computecore.dll';
    return { hcs: openHcs({ libraryPath }), description: libraryPath };
  }
  const socketPath = g.emulatorSocket ?? defaultSocketPath();
  process.env.HCS_EMULATOR_SOCKET = socketPath;
  const libraryPath = ensureEmulatorLibrary();
  if (opts.start) {
    const { started, control } = await ensureEmulator({ socketPath });
    await control.close();
    if (started) logger.info('started HCS emulator', { socket: socketPath });
  } else {
    const control = await findEmulator(socketPath);
    if (!control) {
      throw new UsageError(`no HCS emulator is running at ${socketPath}; start one with "hcs-reconciler emulator start" (or run "npm start")`);
    }
    await control.close();
  }
  return { hcs: openHcs({ libraryPath }), description: `HCS emulator at ${socketPath}` };
}
