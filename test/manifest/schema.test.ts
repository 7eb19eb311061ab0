/**
 * The schema is the source of truth: the TS types (types.ts) must have exactly its keys, and the
 * generated artifacts (schema.json, README field table) must be current.
 */
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifestSchema } from '../../src/manifest/index.ts';
import { fieldTable, readmeWithTable, schemaJson } from '../../src/manifest/docgen.ts';
import type * as T from '../../src/manifest/types.ts';

// `satisfies Record<keyof X, true>` fails to compile when a key is missing or extra, so each
// list below is exactly the key set of its TypeScript type; the test compares it to the schema.
const keys = {
  '': { apiVersion: true, kind: true, metadata: true, spec: true } satisfies Record<keyof T.Manifest, true>,
  metadata: { name: true, labels: true } satisfies Record<keyof T.ManifestMetadata, true>,
  spec: { state: true, restartPolicy: true, stopTimeout: true, dependsOn: true, suspend: true, updateStrategy: true, backoff: true, placement: true, container: true, virtualMachine: true, document: true } satisfies Record<keyof T.ManifestSpec, true>,
  'spec.backoff': { initial: true, max: true, resetAfter: true } satisfies Record<keyof T.BackoffSpec, true>,
  'spec.placement': { hosts: true, hostLabels: true } satisfies Record<keyof T.PlacementSpec, true>,
  'spec.container': { image: true, imagePullPolicy: true, isolation: true, layers: true, scratch: true, scratchSizeGB: true, ports: true, network: true, hostName: true, memoryMB: true, cpuCount: true, mappedDirectories: true, networkNamespace: true, process: true, utilityVm: true } satisfies Record<keyof T.ContainerSpec, true>,
  'spec.container.layers[]': { id: true, path: true } satisfies Record<keyof T.LayerSpec, true>,
  'spec.container.mappedDirectories[]': { hostPath: true, containerPath: true, readOnly: true } satisfies Record<keyof T.MappedDirectorySpec, true>,
  'spec.container.process': { commandLine: true, workingDirectory: true, environment: true, logs: true } satisfies Record<keyof T.ProcessSpec, true>,
  'spec.container.process.logs': { maxSize: true, maxFiles: true } satisfies Record<keyof T.LogsSpec, true>,
  'spec.container.utilityVm': { imagePath: true, scratchPath: true } satisfies Record<keyof T.UtilityVmSpec, true>,
  'spec.virtualMachine': { memoryMB: true, cpuCount: true, secureBoot: true, secureBootTemplate: true, bootDisk: true, disks: true, networkAdapters: true } satisfies Record<keyof T.VirtualMachineSpec, true>,
  'spec.virtualMachine.bootDisk': { path: true } satisfies Record<keyof T.VirtualMachineSpec['bootDisk'], true>,
  'spec.virtualMachine.disks[]': { path: true, readOnly: true } satisfies Record<keyof T.DiskSpec, true>,
  'spec.virtualMachine.networkAdapters[]': { endpointId: true, macAddress: true } satisfies Record<keyof T.NetworkAdapterSpec, true>,
  'spec.document': { SchemaVersion: true, Container: true, VirtualMachine: true, HostingSystemId: true, HostedSystem: true, Owner: true, ShouldTerminateOnLastHandleClosed: true } satisfies Record<keyof T.DocumentSpec, true>,
};

type Node = { properties?: Record<string, Node>; items?: Node; required?: string[]; default?: unknown; type?: string };

/** Every object schema with properties, by dotted path (arrays as `[]`). */
function objectSchemas(node: Node, path = '', out = new Map<string, Node>()): Map<string, Node> {
  if (!node.properties) return out;
  out.set(path, node);
  for (const [k, child] of Object.entries(node.properties)) {
    const p = path ? `${path}.${k}` : k;
    if (child.type === 'array' && child.items) objectSchemas(child.items, `${p}[]`, out);
    else objectSchemas(child, p, out);
  }
  return out;
}

test('types.ts and the schema have the same keys', () => {
  const schemas = objectSchemas(manifestSchema as unknown as Node);
  schemas.delete('spec.document.SchemaVersion'); // typed inline as { Major; Minor }
  assert.deepEqual([...schemas.keys()].sort(), Object.keys(keys).sort());
  for (const [path, typed] of Object.entries(keys)) {
    assert.deepEqual(Object.keys(schemas.get(path)?.properties ?? {}).sort(), Object.keys(typed).sort(), path);
  }
});

test('schema.json is the generated copy of schema.ts', () => {
  assert.equal(readFileSync('src/manifest/schema.json', 'utf8'), schemaJson());
});

test('README field tables (src/manifest and top level) are generated from the schema and list every field', () => {
  for (const file of ['src/manifest/README.md', 'README.md']) {
    const readme = readFileSync(file, 'utf8');
    assert.match(readme, /<!-- fields -->\n\| Field \| Type/, `${file} has the generated table`);
    assert.equal(readme, readmeWithTable(readme), `${file} is stale; run: node --import tsx src/manifest/docgen.ts`);
  }
  for (const path of objectSchemas(manifestSchema as unknown as Node).keys()) {
    if (path) assert.ok(fieldTable().includes(`\`${path.replace(/\[\]$/, '')}\``), path);
  }
});

test('examples reference the editor schema', () => {
  for (const f of ['web', 'web-hyperv', 'vm', 'raw-document', 'app-db', 'app-api']) {
    assert.match(readFileSync(`manifests/${f}.yaml`, 'utf8'), /^# yaml-language-server: \$schema=\.\.\/src\/manifest\/schema\.json\n/);
  }
});
