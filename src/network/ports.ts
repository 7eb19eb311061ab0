/**
 * Published ports: `"8080:80"`, `"5353:53/udp"` (host:container[/tcp|udp]). Docker's Windows limits
 * are the validation rules ([MOBY] libnetwork drivers/windows/windows.go ConvertPortBindings): only
 * TCP or UDP, one host port per mapping (no ranges), no host IP ("Windows does not support host IP
 * addresses in NAT settings").
 */

/** One port mapping. */
export interface PortSpec {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

const PORT = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/i;

/** Parses one mapping; returns an error text for a bad one. */
export function parsePort(text: string): PortSpec | string {
  const m = PORT.exec(text.trim());
  if (!m) {
    if (/^[^:]+:\d+:\d+/.test(text)) return `"${text}": a host IP is not supported (Windows NAT has no host IP addresses); use "host:container[/tcp|udp]"`;
    if (/-/.test(text)) return `"${text}": port ranges are not supported (Windows NAT maps one host port); use "host:container[/tcp|udp]"`;
    return `"${text}" is not "host:container[/tcp|udp]", e.g. "8080:80" or "5353:53/udp"`;
  }
  const hostPort = Number(m[1]), containerPort = Number(m[2]);
  for (const [what, p] of [['host', hostPort], ['container', containerPort]] as const) {
    if (p < 1 || p > 65535) return `"${text}": the ${what} port ${p} is not between 1 and 65535`;
  }
  return { hostPort, containerPort, protocol: (m[3]?.toLowerCase() ?? 'tcp') as 'tcp' | 'udp' };
}

/** `8080/tcp`: the key two mappings collide on. */
export const hostPortKey = (p: PortSpec): string => `${p.hostPort}/${p.protocol}`;

/** IANA protocol numbers, which every real HNS caller sends (provisioning.md 4.2). */
export const PROTOCOL_NUMBER = { tcp: 6, udp: 17 } as const;
