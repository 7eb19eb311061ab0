/**
 * Host policy: limits an administrator puts on the manifests a host accepts (mapped host
 * folders, isolation modes, VMs, size, `document:` passthrough). Violations are ordinary
 * manifest errors at the offending field. The policy file has its own small schema.
 */
import type { Problem } from './messages.ts';
import type { Manifest, ManifestPolicy } from './types.ts';

/** Policy file schema: `apiVersion`, `kind: ManifestPolicy`, then the ManifestPolicy fields. */
export const policySchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://hcs-reconciler.dev/schemas/v1alpha1/manifest-policy.json',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind'],
  properties: {
    apiVersion: { const: 'hcs-reconciler/v1alpha1' },
    kind: { const: 'ManifestPolicy' },
    allowedHostPaths: { type: 'array', items: { type: 'string', format: 'drive-path' }, description: 'Host folder prefixes for mappedDirectories.' },
    allowedIsolation: { type: 'array', uniqueItems: true, items: { enum: ['process', 'hyperv'] }, description: 'Allowed container isolation modes.' },
    allowVirtualMachine: { type: 'boolean', description: 'Allow virtualMachine manifests (default true).' },
    maxMemoryMB: { type: 'integer', minimum: 64, description: 'Largest memoryMB.' },
    maxCpuCount: { type: 'integer', minimum: 1, description: 'Largest cpuCount.' },
    allowDocument: { type: 'boolean', description: 'Allow document passthrough (default true).' },
  },
} as const;

/** Every policy violation of a (schema-valid) manifest. */
export function checkPolicy(manifest: Manifest, policy: ManifestPolicy): Problem[] {
  const { spec } = manifest;
  const problems: Problem[] = [];
  const add = (path: (string | number)[], message: string) => problems.push({ path, key: false, message });
  if (spec.document && policy.allowDocument === false) add(['spec', 'document'], 'document passthrough is not allowed by the host policy (allowDocument: false)');
  if (spec.virtualMachine && policy.allowVirtualMachine === false) add(['spec', 'virtualMachine'], 'virtual machines are not allowed by the host policy (allowVirtualMachine: false)');
  const c = spec.container;
  if (c && policy.allowedIsolation && !policy.allowedIsolation.includes(c.isolation)) {
    add(['spec', 'container', 'isolation'], `isolation ${c.isolation} is not allowed by the host policy (allowed: ${policy.allowedIsolation.join(', ')})`);
  }
  c?.mappedDirectories?.forEach((m, i) => {
    if (policy.allowedHostPaths && !policy.allowedHostPaths.some((prefix) => isUnder(m.hostPath, prefix))) {
      add(['spec', 'container', 'mappedDirectories', i, 'hostPath'], `host path ${m.hostPath} is not allowed by the host policy (allowed: ${policy.allowedHostPaths.join(', ')})`);
    }
  });
  const workload = c ? ['spec', 'container'] : ['spec', 'virtualMachine'];
  const sizes = c ?? spec.virtualMachine;
  if (sizes?.memoryMB !== undefined && policy.maxMemoryMB !== undefined && sizes.memoryMB > policy.maxMemoryMB) {
    add([...workload, 'memoryMB'], `must be <= ${policy.maxMemoryMB} by the host policy (got ${sizes.memoryMB})`);
  }
  if (sizes?.cpuCount !== undefined && policy.maxCpuCount !== undefined && sizes.cpuCount > policy.maxCpuCount) {
    add([...workload, 'cpuCount'], `must be <= ${policy.maxCpuCount} by the host policy (got ${sizes.cpuCount})`);
  }
  return problems;
}

/** Whether `path` is `prefix` or inside it: case-insensitive, on whole path segments (C:\data ≠ C:\database). */
export function isUnder(path: string, prefix: string): boolean {
  const p = path.toLowerCase().replace(/\\+$/, '');
  const q = prefix.toLowerCase().replace(/\\+$/, '');
  return p === q || p.startsWith(`${q}\\`);
}
