/**
 * Host facts decide the document: which HCS schema features this host's build supports, and the
 * manifest problems that depend on the host (CPU count) or on what HCS accepts (scratch form, NIC
 * MAC). Pure: the facts are read by src/hcs/host.ts and passed in through ManifestOptions.
 *
 * Build → highest schema version: [SCHEMA] Schema-Version-Map, as multipass reads it
 * (src/platform/backends/hyperv_api/hcs/hyperv_hcs_schema_version.h): 2.1 on 17763 (1809 /
 * Server 2019), 2.2 on 18362, 2.3 on 19041 (2004), 2.4 and 2.5 on 20348 (Server 2022), 2.6 on
 * 22000 (Windows 11).
 */

/** What the renderer knows about the host. */
export interface HostProfile {
  build: number;
  /** Logical processors, when known (a cpuCount above it is a manifest error, audit D12). */
  logicalProcessors?: number;
  /** Whether a layer folder has a `UtilityVM` folder, when the host filesystem can be asked (D11). */
  hasUtilityVm?: (layerPath: string) => boolean;
  /** Where the facts came from, for `render`. */
  source?: string;
}

/** Windows Server 2022, the default when no host facts are given (the emulator's default too). */
export const DEFAULT_HOST: HostProfile = { build: 20348, source: 'default (Windows Server 2022)' };

/** Released builds this renderer knows, with their names. Anything else is refused (issue 13). */
const KNOWN_BUILDS: ReadonlyMap<number, string> = new Map([
  [17763, 'Windows Server 2019 / Windows 10 1809'],
  [18362, 'Windows 10 1903'], [18363, 'Windows 10 1909'],
  [19041, 'Windows 10 2004'], [19042, 'Windows 10 20H2'], [19043, 'Windows 10 21H1'], [19044, 'Windows 10 21H2'],
  [19045, 'Windows 10 22H2'],
  [20348, 'Windows Server 2022'], [20349, 'Azure Stack HCI 22H2'],
  [22000, 'Windows 11 21H2'], [22621, 'Windows 11 22H2'], [22631, 'Windows 11 23H2'],
  [25398, 'Windows Server 23H2'], [26100, 'Windows Server 2025 / Windows 11 24H2'],
]);

const SCHEMA_BY_BUILD: ReadonlyArray<[number, number]> = [[22000, 6], [20348, 5], [19041, 3], [18362, 2], [17763, 1]];

/** A host build the renderer cannot vouch for: a clear message instead of an HCS error later. */
export class UnknownHostBuildError extends Error {
  constructor(readonly build: number) {
    super(`host build ${build} is not one hcs-reconciler knows (known: ${[...KNOWN_BUILDS.keys()].join(', ')}); ` +
      'its HCS schema support cannot be derived. On the emulator set HCSEMU_HOST_BUILD to a known build.');
    this.name = 'UnknownHostBuildError';
  }
}

/** What the host's HCS supports. */
export interface HostCapabilities {
  build: number;
  name: string;
  /** Highest HCS schema 2.x minor version. */
  schemaMinor: number;
  /** `Uefi.ApplySecureBootTemplate` (schema 2.3, build 19041+; audit D15). */
  secureBootTemplate: boolean;
  /** `VirtualMachine.Services.Shutdown` and IntegrationService `ShutdownOptions` (2.5, 20348+; D7). */
  integrationShutdown: boolean;
}

/** The capabilities of a known build; throws {@link UnknownHostBuildError} otherwise. */
export function hostCapabilities(build: number): HostCapabilities {
  const name = KNOWN_BUILDS.get(build);
  if (name === undefined) throw new UnknownHostBuildError(build);
  const schemaMinor = SCHEMA_BY_BUILD.find(([b]) => build >= b)?.[1] ?? 1;
  return { build, name, schemaMinor, secureBootTemplate: schemaMinor >= 3, integrationShutdown: schemaMinor >= 5 };
}

/** The ShutdownOptions hcs-reconciler passes for VMs with the shutdown integration service (multipass). */
export const INTEGRATION_SHUTDOWN_OPTIONS = { Mechanism: 'IntegrationService', Type: 'Shutdown' } as const;

/** hcsshim rounds VM memory up to a multiple of 2 MB (internal/vm/vmutils/normalize.go; audit D12). */
export function alignMemoryMB(mb: number): number {
  return mb % 2 === 0 ? mb : mb + 1;
}

const VOLUME_GUID_PATH = /^\\\\\?\\Volume\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}\\$/;

/** `\\?\Volume{GUID}\`, the only scratch hcsshim accepts for process isolation (hcsdoc_wcow.go; D13). */
export function isVolumeGuidPath(path: string): boolean {
  return VOLUME_GUID_PATH.test(path);
}
