/**
 * Host policy: limits an administrator puts on the manifests a host accepts (every host path,
 * isolation modes, VMs, size, `document:` passthrough). Violations are ordinary manifest errors
 * at the offending field. The policy file has its own small schema.
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
    allowedHostPaths: {
      type: 'array',
      items: { type: 'string', format: 'scratch-path' },
      description: 'Host folder prefixes for every host path a manifest names (layers, scratch, mapped folders, utility VM, VM disks); a volume GUID path allows that volume as scratch.',
    },
    allowedIsolation: { type: 'array', uniqueItems: true, items: { enum: ['process', 'hyperv'] }, description: 'Allowed container isolation modes.' },
    allowVirtualMachine: { type: 'boolean', description: 'Allow virtualMachine manifests (default true).' },
    maxMemoryMB: { type: 'integer', minimum: 64, description: 'Largest memoryMB.' },
    maxCpuCount: { type: 'integer', minimum: 1, description: 'Largest cpuCount.' },
    allowDocument: { type: 'boolean', description: 'Allow document passthrough (default false under a policy: a raw document can name any host path).' },
  },
} as const;

/** One host path a manifest names, with where it is (data path) and what it is for. */
interface HostPath {
  at: (string | number)[];
  value: string;
  what: string;
  /** Whether the path is made visible inside a container (a mapped folder or a layer). */
  exposed: boolean;
}

/** Every host path a (schema-valid) manifest can name: the policy must see all of them. */
export function hostPathsOf(manifest: Manifest): HostPath[] {
  const out: HostPath[] = [];
  const c = manifest.spec.container;
  if (c) {
    // An image's layers are the controller's own store; only layers a manifest names are checked.
    for (const [i, l] of (c.layers ?? []).entries()) out.push({ at: ['spec', 'container', 'layers', i, 'path'], value: l.path, what: 'layer', exposed: true });
    if (c.scratch !== undefined) out.push({ at: ['spec', 'container', 'scratch'], value: c.scratch, what: 'scratch', exposed: false });
    for (const [i, m] of (c.mappedDirectories ?? []).entries()) out.push({ at: ['spec', 'container', 'mappedDirectories', i, 'hostPath'], value: m.hostPath, what: 'host path', exposed: true });
    if (c.utilityVm?.imagePath) out.push({ at: ['spec', 'container', 'utilityVm', 'imagePath'], value: c.utilityVm.imagePath, what: 'utility VM image', exposed: false });
    if (c.utilityVm?.scratchPath) out.push({ at: ['spec', 'container', 'utilityVm', 'scratchPath'], value: c.utilityVm.scratchPath, what: 'utility VM scratch', exposed: false });
  }
  const vm = manifest.spec.virtualMachine;
  if (vm) {
    out.push({ at: ['spec', 'virtualMachine', 'bootDisk', 'path'], value: vm.bootDisk.path, what: 'boot disk', exposed: false });
    for (const [i, d] of (vm.disks ?? []).entries()) out.push({ at: ['spec', 'virtualMachine', 'disks', i, 'path'], value: d.path, what: 'disk', exposed: false });
  }
  return out;
}

/**
 * Every policy violation of a (schema-valid) manifest. `protectedPaths` are the controller's
 * own files and folders (manifests folder, lock file, utility VM scratch folder): whoever could
 * map them into a container could rewrite what this host runs, so they are refused with or
 * without a policy.
 */
export function checkPolicy(manifest: Manifest, policy: ManifestPolicy | undefined, protectedPaths: readonly string[] = []): Problem[] {
  const { spec } = manifest;
  const problems: Problem[] = [];
  const add = (path: (string | number)[], message: string) => problems.push({ path, key: false, message });
  for (const hp of hostPathsOf(manifest)) {
    const own = hp.exposed ? protectedPaths.find((p) => isUnder(p, hp.value) || isUnder(hp.value, p)) : undefined;
    if (own !== undefined) add(hp.at, `${hp.what} ${hp.value} would expose the controller's own ${own} inside the container; choose another folder`);
  }
  if (!policy) return problems;
  // A raw document can name any host path (disks, layers, GLOBALROOT devices) and is not checked
  // field by field: under a policy it needs the policy's explicit consent.
  if (spec.document && policy.allowDocument !== true) {
    add(['spec', 'document'], `document passthrough is not allowed by the host policy (${policy.allowDocument === false ? 'allowDocument: false' : 'a policy is set and does not say allowDocument: true'})`);
  }
  if (spec.virtualMachine && policy.allowVirtualMachine === false) add(['spec', 'virtualMachine'], 'virtual machines are not allowed by the host policy (allowVirtualMachine: false)');
  const c = spec.container;
  if (c && policy.allowedIsolation && !policy.allowedIsolation.includes(c.isolation)) {
    add(['spec', 'container', 'isolation'], `isolation ${c.isolation} is not allowed by the host policy (allowed: ${policy.allowedIsolation.join(', ')})`);
  }
  const allowed = policy.allowedHostPaths;
  if (allowed) {
    for (const hp of hostPathsOf(manifest)) {
      if (!allowed.some((prefix) => isUnder(hp.value, prefix))) add(hp.at, `${hp.what} ${hp.value} is not allowed by the host policy (allowed: ${allowed.join(', ')})`);
    }
  }
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

/**
 * Whether `path` is `prefix` or inside it: case-insensitive (NTFS names are), on whole path
 * segments (C:\data is not a prefix of C:\database). Sound only for paths that passed the
 * drive-path rules (formats.ts: no `..`, no trailing dots or spaces, no short names), which
 * make one string one spelling.
 */
export function isUnder(path: string, prefix: string): boolean {
  const p = path.toLowerCase().replace(/\\+$/, '');
  const q = prefix.toLowerCase().replace(/\\+$/, '');
  return p === q || p.startsWith(`${q}\\`);
}
