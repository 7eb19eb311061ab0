/**
 * Every example in manifests/ validates and renders; the rendered documents are pinned by
 * goldens in test/fixtures/golden/<name>.json (reviewed by eye against hcs-api.md §3.2).
 * Regenerate after a deliberate rendering change with UPDATE_GOLDEN=1 and review the diff.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatError, loadManifests } from '../../src/manifest/index.ts';

const snapshot = await loadManifests('manifests');

test('every example validates with no errors', () => {
  assert.equal(snapshot.folderOk, true);
  assert.deepEqual(snapshot.errors.map(formatError), []);
  assert.deepEqual(snapshot.manifests.map((m) => m.name), ['app-api', 'app-db', 'build-vm', 'raw-vm', 'web', 'web-hyperv']);
  assert.equal(snapshot.files.length, 6);
});

test('the examples cover the required kinds', () => {
  const byName = new Map(snapshot.manifests.map((m) => [m.name, m]));
  assert.deepEqual(byName.get('web')?.parts.map((p) => p.role), ['main']);
  assert.deepEqual(byName.get('web-hyperv')?.parts.map((p) => [p.role, p.systemType]), [['utilityVm', 'VirtualMachine'], ['main', 'Container']]);
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

test('every rendered document has our Owner, SchemaVersion 2.x and survives handle close', () => {
  for (const part of snapshot.manifests.flatMap((m) => m.parts)) {
    assert.equal(part.document.Owner, 'hcs-reconciler');
    assert.equal((part.document.SchemaVersion as { Major: number }).Major, 2);
    assert.equal(part.document.ShouldTerminateOnLastHandleClosed, false);
  }
});

test('the hosted container points at its utility VM', () => {
  const m = snapshot.manifests.find((x) => x.name === 'web-hyperv')!;
  const [uvm, main] = m.parts;
  assert.equal(main?.document.HostingSystemId, uvm?.id);
  assert.equal(uvm?.id, `${main?.id}-uvm`);
  assert.ok(!('Container' in (main?.document ?? {})), 'the container is under HostedSystem');
});
