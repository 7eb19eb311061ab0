/** Finds the process listening on a loopback/any port on Linux from /proc (for the port-in-use error). */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { PortSpec } from './ports.ts';

/** `pid 1234 (node)` of the process holding the port, or undefined. */
export function findPortHolder(p: PortSpec): string | undefined {
  const inodes = new Set<string>();
  for (const file of p.protocol === 'tcp' ? ['tcp', 'tcp6'] : ['udp', 'udp6']) {
    let text = '';
    try { text = readFileSync(`/proc/net/${file}`, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = parseInt(f[1]!.split(':')[1] ?? '', 16);
      // TCP: state 0A = LISTEN; UDP: any bound socket.
      if (port === p.hostPort && (p.protocol === 'udp' || f[3] === '0A')) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      let link = '';
      try { link = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m && inodes.has(m[1]!)) {
        let comm = '?';
        try { comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { /* raced */ }
        return `pid ${pid} (${comm})`;
      }
    }
  }
  return undefined;
}
