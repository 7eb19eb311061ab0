/**
 * Platform selection for Windows images by host build (provisioning.md 2.4, from containerd's
 * `platforms/platform_windows_compat.go` and [MSDOCS] version-compatibility.md):
 * - os `windows`, the host's architecture; `win32k` in os.features is ignored;
 * - major.minor of os.version must match;
 * - a host below 20348 (ltsc2022) needs the exact build (process isolation);
 * - a host at 20348 or later runs container builds from the previous LTSC floor (20348) up to its own build;
 * - among the compatible entries the highest os.version wins (compared numerically; containerd
 *   compares the strings, which gives the same order for same-length builds).
 */
import { arch, release } from 'node:os';

/** The host, as platform matching sees it. */
export interface HostPlatform {
  architecture: string; // OCI names: amd64, arm64
  /** `major.minor.build[.revision]`, e.g. 10.0.20348.2340. */
  osVersion: string;
}

/** An index/manifest-list entry's platform. */
export interface Platform {
  os?: string;
  architecture?: string;
  'os.version'?: string;
  variant?: string;
}

const LTSC2022 = 20348;

function ociArch(nodeArch: string): string {
  return nodeArch === 'x64' ? 'amd64' : nodeArch === 'ia32' ? '386' : nodeArch;
}

/**
 * This host's platform. On Windows `os.release()` is libuv's RtlGetVersion `major.minor.build`
 * (no application manifest needed). Elsewhere (the emulator) it is `HCS_EMULATOR_HOST_OS_VERSION`
 * or, by default, an emulated Windows Server 2022 (10.0.20348).
 */
export function hostPlatform(env: NodeJS.ProcessEnv = process.env): HostPlatform {
  const osVersion = process.platform === 'win32' ? release() : (env.HCS_EMULATOR_HOST_OS_VERSION ?? '10.0.20348');
  return { architecture: ociArch(arch()), osVersion };
}

function parts(v: string): number[] | undefined {
  const p = v.split('.').map((x) => Number(x));
  return p.length >= 3 && p.every((n) => Number.isInteger(n) && n >= 0) ? p : undefined;
}

/** Whether a container built for `imageVersion` runs process-isolated on a host at `hostVersion`. */
export function isCompatibleOsVersion(hostVersion: string, imageVersion: string): boolean {
  const h = parts(hostVersion);
  const c = parts(imageVersion);
  if (!h || !c) return false;
  if (h[0] !== c[0] || h[1] !== c[1]) return false;
  const hb = h[2]!;
  const cb = c[2]!;
  if (hb < LTSC2022) return hb === cb;
  return cb >= LTSC2022 && cb <= hb;
}

function compareVersions(a: string, b: string): number {
  const pa = parts(a) ?? [];
  const pb = parts(b) ?? [];
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Picks the best entry for the host, or undefined; entries without os.version are not chosen. */
export function selectPlatform<T extends { platform?: Platform }>(entries: readonly T[], host: HostPlatform): T | undefined {
  const ok = entries.filter(
    (e) =>
      e.platform?.os === 'windows' &&
      e.platform.architecture === host.architecture &&
      e.platform['os.version'] !== undefined &&
      isCompatibleOsVersion(host.osVersion, e.platform['os.version']),
  );
  return ok.sort((a, b) => compareVersions(b.platform!['os.version']!, a.platform!['os.version']!))[0];
}

/** One line describing what an index offers, for the platform-mismatch error. */
export function describePlatforms(entries: readonly { platform?: Platform }[]): string {
  const list = entries.map((e) => `${e.platform?.os ?? '?'}/${e.platform?.architecture ?? '?'}${e.platform?.['os.version'] ? ` ${e.platform['os.version']}` : ''}`);
  return list.length > 0 ? list.join(', ') : 'no platforms';
}
