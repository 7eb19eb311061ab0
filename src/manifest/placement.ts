/**
 * `spec.placement`: which hosts a manifest applies to. A manifest placed elsewhere is neither
 * valid nor invalid here; it is reported in `snapshot.ignored` with the reason.
 */
import type { PlacementSpec } from './types.ts';

/** The host the reconciler runs on, as placement sees it. */
export interface HostInfo {
  name: string;
  labels: Record<string, string>;
}

/**
 * Why `placement` excludes `host`, or undefined when it applies. Host names compare
 * case-insensitively (Windows computer names do); labels exactly. No placement = every host.
 */
export function placementMismatch(placement: PlacementSpec | undefined, host: HostInfo): string | undefined {
  if (!placement) return undefined;
  const { hosts, hostLabels } = placement;
  if (hosts && !hosts.some((h) => h.toLowerCase() === host.name.toLowerCase())) {
    return `placed on hosts ${hosts.join(', ')}; this host is ${host.name}`;
  }
  for (const [key, want] of Object.entries(hostLabels ?? {})) {
    const have = host.labels[key];
    if (have !== want) {
      return `needs host label ${key}=${want}; this host has ${have === undefined ? `no ${key} label` : `${key}=${have}`}`;
    }
  }
  return undefined;
}
