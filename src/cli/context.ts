/**
 * Shared wiring for commands: global options, manifest options (host, policy), and opening the
 * HCS library (the real computecore.dll on Windows, the emulator library elsewhere, starting an
 * emulator service when the command needs one).
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultSocketPath } from '../emulator/socket-path.ts';
import { formatError, loadPolicyFile, type ManifestOptions } from '../manifest/index.ts';
import type { HcsClient, Logger } from '../../reconciler/ports.ts';
import type { HostProfile } from '../manifest/host-profile.ts';
import { UsageError } from './output.ts';
import { acquireLock, lockFileFor } from './lock.ts';
import { imageLookup } from './images.ts';
import { layerIdOf } from './layer-ids.ts';

/** Options every command accepts. */
export interface GlobalOptions {
  owner: string;
  library?: string;
  emulatorSocket?: string;
  hostName?: string;
  hostLabels?: string;
  policy?: string;
  maxFileBytes?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  logFormat?: 'json' | 'text';
  /** Image store root (--data-root). */
  dataRoot?: string;
  registryConfig?: string;
  insecureRegistry?: string[];
}

function parseMaxFileBytes(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--max-file-bytes: expected a positive number of bytes like 1048576 (got "${text}")`, 64);
  return n;
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

/**
 * The controller's own files and folders, which no manifest may map into a container: the
 * manifests folder, the policy file, the lock file and the utility VM scratch folder.
 */
export function protectedPathsFor(g: GlobalOptions, manifests: string | undefined, lockDir?: string): string[] {
  const own = [lockFileForCli(g, lockDir)];
  if (manifests) own.push(resolve(manifests));
  if (g.policy) own.push(resolve(g.policy));
  if (process.platform === 'win32') own.push(join(process.env.ProgramData ?? 'C:\\ProgramData', 'hcs-reconciler', 'uvm'));
  return own;
}

/** Manifest options from the global flags (host identity for placement, policy file, own folders). */
export async function manifestOptions(g: GlobalOptions, manifests?: string, lockDir?: string): Promise<ManifestOptions> {
  const opts: ManifestOptions = {
    owner: g.owner,
    host: { name: g.hostName ?? hostname(), labels: parseLabels(g.hostLabels) },
    protectedPaths: protectedPathsFor(g, manifests, lockDir),
    ...(g.maxFileBytes !== undefined ? { maxFileBytes: parseMaxFileBytes(g.maxFileBytes) } : {}),
    hostFacts: await cliHostFacts(),
    images: imageLookup(g.dataRoot),
    layerIds: layerIdOf,
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
  // Loaded here, not at the top: the manifest-only commands (validate, render) never pay for
  // koffi's native module or the emulator launcher.
  const { openHcs } = await import('../hcs/index.ts');
  const explicit = g.library ?? process.env.HCS_LIBRARY;
  if (explicit || process.platform === 'win32') {
    // No bare name: the default is %SystemRoot%\System32\computecore.dll (ffi.ts, audit D22).
    return { hcs: openHcs(explicit ? { libraryPath: explicit } : {}), description: explicit ?? 'computecore.dll (System32)' };
  }
  const { ensureEmulator, findEmulator } = await import('../emulator/launcher.ts');
  const { ensureEmulatorLibrary } = await import('../emulator/native/build.mjs');
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

/** The socket of the emulator a command talks to (undefined on Windows: the real HCS). */
export function emulatorSocketFor(g: GlobalOptions): string | undefined {
  if (process.platform === 'win32' && !g.library && !process.env.HCS_LIBRARY) return undefined;
  return g.emulatorSocket ?? defaultSocketPath();
}

/** The single-instance lock file of this owner on the HCS the command drives (see lock.ts). */
export function lockFileForCli(g: GlobalOptions, lockDir?: string): string {
  return lockFileFor({ owner: g.owner, ...(lockDir ? { lockDir } : {}), ...(emulatorSocketFor(g) ? { socketPath: emulatorSocketFor(g)! } : {}) });
}

/**
 * Takes the owner's lock before a command changes HCS state (run, apply): a second command
 * working from another folder would prune this one's systems, and this one would re-create them.
 */
export function lockForCommand(g: GlobalOptions, command: 'run' | 'apply', manifests: string, lockDir?: string): ReturnType<typeof acquireLock> {
  return acquireLock(lockFileForCli(g, lockDir), { owner: g.owner, manifests, command });
}

/** Host facts, loaded on first use (the binding is only imported by commands that render). */
async function cliHostFacts(): Promise<HostProfile> {
  const { cliHostFacts: read } = await import('./host-facts.ts');
  return read();
}
