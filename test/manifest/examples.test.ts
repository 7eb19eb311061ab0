/**
 * Every example in manifests/ validates and renders; the rendered documents are pinned by
 * goldens in test/fixtures/golden/<name>.json (reviewed by eye against hcs-api.md §3.2).
 * Regenerate after a deliberate rendering change with UPDATE_GOLDEN=1 and review the diff.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerIdOf } from '../../src/cli/layer-ids.ts';
import { formatError, loadManifests } from '../../src/manifest/index.ts';

// Layer ids come from NameToGuid of the folder names (audit D14): here the emulator's.
const snapshot = await loadManifests('manifests', { layerIds: layerIdOf });

test('every example validates with no errors', () => {
  assert.equal(snapshot.folderOk, true);
  assert.deepEqual(snapshot.errors.map(formatError), []);
  assert.deepEqual(snapshot.manifests.map((m) => m.name), ['app-api', 'app-db', 'build-vm', 'raw-vm', 'web', 'web-hyperv']);
  assert.equal(snapshot.files.length, 6);
});

test('the examples cover the required kinds', () => {
  const byName = new Map(snapshot.manifests.map((m) => [m.name, m]));
  assert.deepEqual(byName.get('web')?.parts.map((p) => p.role), ['main']);
  assert.deepEqual(byName.get('web-hyperv')?.parts.map((p) => [p.role, p.systemType]), [['main', 'Container']]);
  assert.equal(byName.get('build-vm')?.parts[0]?.systemType, 'VirtualMachine');
  assert.ok(byName.get('raw-vm')?.parts[0]?.document.VirtualMachine);
  assert.deepEqual(byName.get('app-api')?.dependsOn, ['app-db']);
});

for (const m of snapshot.manifests) {
  test(`golden rendering: ${m.name}`, () => {
    const golden = `test/fixtures/golden/${m.name}.json`;
    const actual = { configHash: m.configHash, parts: m.parts, process: m.process ?? null };
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden, `${JSON.stringify(actual, null, 2)}\n`);
    // A missing golden is a failure, not a new baseline: review the rendering, then UPDATE_GOLDEN=1.
    assert.ok(existsSync(golden), `${golden} is missing; review the rendering and run with UPDATE_GOLDEN=1`);
    assert.deepEqual(actual, JSON.parse(readFileSync(golden, 'utf8')));
  });
}

test('every rendered document has our Owner, its schema version and survives handle close', () => {
  for (const part of snapshot.manifests.flatMap((m) => m.parts)) {
    assert.equal(part.document.Owner, 'hcs-reconciler');
    if (part.document.HvPartition === true) {
      // Schema 1.0 (Docker's Hyper-V form): no SchemaVersion, TerminateOnLastHandleClosed left out (false).
      assert.equal(part.document.SchemaVersion, undefined);
      assert.equal(part.document.TerminateOnLastHandleClosed, undefined);
      continue;
    }
    assert.equal((part.document.SchemaVersion as { Major: number }).Major, 2);
    assert.equal(part.document.ShouldTerminateOnLastHandleClosed, false);
  }
});

test('web-hyperv renders the Docker way: one schema 1.0 document, HvPartition, HvRuntime.ImagePath (D1, D2, D4, D11)', () => {
  const m = snapshot.manifests.find((x) => x.name === 'web-hyperv')!;
  const [main] = m.parts;
  const doc = main!.document as Record<string, unknown>;
  assert.equal(doc.SystemType, 'Container');
  assert.equal(doc.Name, main!.id);
  assert.equal(doc.HvPartition, true);
  assert.deepEqual(doc.HvRuntime, { ImagePath: 'C:\\ProgramData\\hcs-reconciler\\layers\\servercore-ltsc2022\\UtilityVM' });
  assert.equal(doc.LayerFolderPath, 'C:\\ProgramData\\hcs-reconciler\\sandboxes\\web-hyperv');
  assert.deepEqual((doc.Layers as Array<{ ID: string }>).map((l) => l.ID), [layerIdOf('web-app'), layerIdOf('servercore-ltsc2022')]);
  assert.ok(!('HostingSystemId' in doc) && !('HostedSystem' in doc) && !('Container' in doc));
});

test('build-vm on a 20348 host: Services.Shutdown, IntegrationService shutdown options, schema 2.5 (D7)', () => {
  const vm = snapshot.manifests.find((x) => x.name === 'build-vm')!.parts[0]!;
  assert.deepEqual((vm.document.VirtualMachine as { Services?: unknown }).Services, { Shutdown: {}, Heartbeat: {} });
  assert.deepEqual(vm.shutdownOptions, { Mechanism: 'IntegrationService', Type: 'Shutdown' });
  assert.deepEqual(vm.document.SchemaVersion, { Major: 2, Minor: 5 });
});
