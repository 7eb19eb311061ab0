/** Builders of DesiredSystem / ManifestSnapshot values for reconciler tests (no YAML involved). */
import { createHash } from 'node:crypto';
import { systemIdFor } from '../../reconciler/identity.ts';
import type { DesiredSystem, ManifestSnapshot } from '../../reconciler/ports.ts';

/** Options for {@link desired}. */
export interface DesiredOpts extends Partial<Omit<DesiredSystem, 'parts' | 'configHash'>> {
  /** Anything that should change the config hash. */
  config?: string;
  hyperv?: boolean;
  vm?: boolean;
  commandLine?: string;
  owner?: string;
}

/** A desired system named `name`; its hash derives from `config`. */
export function desired(name: string, o: DesiredOpts = {}): DesiredSystem {
  const config = `${o.config ?? 'v1'}|${o.hyperv ? 'hv' : ''}|${o.vm ? 'vm' : ''}|${o.commandLine ?? ''}`;
  const configHash = createHash('sha256').update(config).digest('hex');
  const owner = o.owner ?? 'hcs-reconciler';
  const doc = (extra: Record<string, unknown>) => ({ Owner: owner, SchemaVersion: { Major: 2, Minor: 1 }, ShouldTerminateOnLastHandleClosed: false, ...extra });
  const parts: DesiredSystem['parts'] = [];
  if (o.hyperv) parts.push({ id: systemIdFor(name, configHash, 'utilityVm'), role: 'utilityVm', systemType: 'VirtualMachine', document: doc({ VirtualMachine: {} }) });
  parts.push({
    id: systemIdFor(name, configHash),
    role: 'main',
    systemType: o.vm ? 'VirtualMachine' : 'Container',
    document: doc(o.vm ? { VirtualMachine: { config } } : { Container: { config } }),
  });
  return {
    name,
    configHash,
    parts,
    state: o.state ?? 'Running',
    restartPolicy: o.restartPolicy ?? 'Always',
    ...(o.backoff ? { backoff: o.backoff } : {}),
    stopTimeoutMs: o.stopTimeoutMs ?? 30_000,
    dependsOn: o.dependsOn ?? [],
    suspend: o.suspend ?? false,
    updateStrategy: o.updateStrategy ?? 'StopBeforeCreate',
    ...(o.commandLine ? { process: { commandLine: o.commandLine, parameters: { CommandLine: o.commandLine } } } : {}),
    labels: o.labels ?? {},
    source: o.source ?? { file: `manifests/${name}.yaml`, line: 1, col: 1 },
  };
}

/** A healthy snapshot of these systems (one file each). */
export function snapshot(systems: DesiredSystem[], extra: Partial<ManifestSnapshot> = {}): ManifestSnapshot {
  return { manifests: systems, errors: [], ignored: [], files: systems.map((s) => s.source.file), folderOk: true, ...extra };
}
