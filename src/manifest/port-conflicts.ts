/**
 * Cross-file check: two manifests (or one manifest twice) publishing the same host port. HNS would
 * refuse the second endpoint with HCN_E_PORT_ALREADY_EXISTS at create time (provisioning.md 4.1);
 * catching it here makes it a validation error on every file involved, and neither is applied (as for
 * duplicate names), so the running system keeps its last-known-good manifest.
 */
import type { DesiredSystem, ManifestError } from '../../reconciler/ports.ts';

const portsOf = (m: DesiredSystem) => m.parts.flatMap((p) => (p.provision?.network?.ports ?? []).map((q) => `${q.hostPort}/${q.protocol}`));

const where = (m: DesiredSystem) => `"${m.name}" (${m.source.file}:${m.source.line}:${m.source.col})`;

/** One error per manifest that shares a host port with another (or lists one twice). */
export function portConflictErrors(manifests: readonly DesiredSystem[]): ManifestError[] {
  const byPort = new Map<string, DesiredSystem[]>();
  const errors: ManifestError[] = [];
  for (const m of manifests) {
    const ports = portsOf(m);
    const twice = ports.filter((p, i) => ports.indexOf(p) !== i);
    if (twice.length > 0) errors.push({ ...m.source, path: 'spec.container.ports', name: m.name, message: `host port ${twice[0]} is listed more than once` });
    for (const p of new Set(ports)) byPort.set(p, [...(byPort.get(p) ?? []), m]);
  }
  for (const [port, users] of byPort) {
    if (users.length < 2) continue;
    for (const m of users) {
      const others = users.filter((o) => o !== m).map(where).join(', ');
      errors.push({ ...m.source, path: 'spec.container.ports', name: m.name, message: `host port ${port} is also published by ${others}; none of them is applied` });
    }
  }
  return errors;
}
