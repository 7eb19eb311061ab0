// Manifests with provisioned scratch and ports: the rendered request, the config hash, and the
// cross-file host-port check.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatError, loadManifests } from '../../src/manifest/index.ts';
import { plan } from '../../reconciler/index.ts';

const manifest = (name: string, extra: string) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: ${name} }
spec:
  container:
    layers: [{ id: 11111111-2222-5333-8444-555555555555, path: 'C:\\ProgramData\\hcs-reconciler\\layers\\base' }]
${extra}`;

const folders: string[] = [];
after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hcsr-provision-'));
  folders.push(dir);
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

test('ports, network and scratchSizeGB render a provisioning request and no Storage.Path; plan shows scratch, endpoint and namespace nodes before the create; a ports-only change re-creates the endpoint, namespace and system and keeps the scratch', async () => {
  const a = await loadManifests(folder({ 'web.yaml': manifest('web', '    ports: ["8080:80", "5353:53/udp"]\n    scratchSizeGB: 30\n') }));
  assert.deepEqual(a.errors.map(formatError), []);
  const part = a.manifests[0]!.parts[0]!;
  const doc = part.document as { Container: { Storage: { Path?: string }; Networking?: unknown } };
  assert.deepEqual(part.provision, {
    scratch: { sizeGB: 30 },
    network: { ports: [{ protocol: 'tcp', containerPort: 80, hostPort: 8080 }, { protocol: 'udp', containerPort: 53, hostPort: 5353 }] },
  });
  assert.equal(doc.Container.Storage.Path, undefined, 'the volume is filled in at create');
  assert.equal(doc.Container.Networking, undefined);
  const b = await loadManifests(folder({ 'web.yaml': manifest('web', '    ports: ["8081:80", "5353:53/udp"]\n    scratchSizeGB: 30\n') }));
  const p = plan({ desired: a.manifests, observed: { groups: new Map(), unrecognised: [] } });
  const id = part.id;
  const { scratch: scratchId, network: netId } = part.provisionIds!;
  assert.match(scratchId!, /^web-[0-9a-f]{12}$/);
  assert.match(netId!, /^web-[0-9a-f]{12}$/);
  assert.notEqual(scratchId, id, 'each object has its own id, from its own inputs');
  assert.deepEqual(p.nodes.map((n) => [n.id, n.deps]), [
    [`create:scratch:${scratchId}`, []],
    [`create:endpoint:${netId}`, [`create:scratch:${scratchId}`]],
    [`create:namespace:${netId}`, [`create:endpoint:${netId}`]],
    [`create:${id}`, [`create:namespace:${netId}`]],
    [`start:${id}`, [`create:${id}`]],
  ]);
  assert.equal(p.nodes[0]!.cause, `needed by ${id}`);
  assert.notEqual(b.manifests[0]!.configHash, a.manifests[0]!.configHash, 'a changed port is a new system');
  const next = b.manifests[0]!.parts[0]!;
  assert.equal(next.provisionIds!.scratch, scratchId, 'same layers and size: the same scratch');
  assert.notEqual(next.provisionIds!.network, netId, 'other ports: another endpoint');
  // A ports-only change, with the old system running and its objects provisioned: the old system is
  // stopped, its namespace and endpoint are removed, new ones are made, and the new system is created
  // on the same scratch (kept mounted, re-attached). The image (layers) and the network are not touched.
  const newId = next.id;
  const newNet = next.provisionIds!.network!;
  const change = plan({
    desired: b.manifests,
    observed: {
      groups: new Map([['web', { name: 'web', parts: [{ id, name: 'web', role: 'main' as const, hash: id.slice(-12), state: 'Running' as const }] }]]),
      unrecognised: [],
      provisioned: { scratch: [{ id: scratchId!, ready: true }], endpoint: [{ id: netId!, ready: true }], namespace: [{ id: netId!, ready: true }] },
    },
  });
  assert.deepEqual(change.nodes.map((n) => n.id), [
    `stop:${id}`, `remove:namespace:${netId}`, `remove:endpoint:${netId}`,
    `create:endpoint:${newNet}`, `create:namespace:${newNet}`, `create:${newId}`, `start:${newId}`,
  ]);
  // A size change is a new scratch (and a new system); the endpoint stays.
  const c = await loadManifests(folder({ 'web.yaml': manifest('web', '    ports: ["8080:80", "5353:53/udp"]\n    scratchSizeGB: 40\n') }));
  assert.notEqual(c.manifests[0]!.parts[0]!.provisionIds!.scratch, scratchId);
  assert.equal(c.manifests[0]!.parts[0]!.provisionIds!.network, netId);
  // With CreateBeforeStop the old system still runs on its scratch while the new one is created: one scratch per system.
  const cbs = (ports: string) => loadManifests(folder({ 'web.yaml': manifest('web', `    ports: ["${ports}"]\n`).replace('spec:\n', 'spec:\n  updateStrategy: CreateBeforeStop\n') }));
  const [x, y] = [await cbs('8080:80'), await cbs('8081:80')];
  assert.deepEqual(x.errors.map(formatError), []);
  assert.notEqual(x.manifests[0]!.parts[0]!.provisionIds!.scratch, y.manifests[0]!.parts[0]!.provisionIds!.scratch);
  const named = await loadManifests(folder({ 'web.yaml': manifest('web', '    network: nat\n') }));
  assert.deepEqual(named.manifests[0]!.parts[0]!.provision, { scratch: {}, network: { ports: [], network: 'nat' } });
  const own = await loadManifests(folder({ 'web.yaml': manifest('web', "    scratch: '\\\\?\\Volume{11111111-2222-3333-4444-555555555555}\\'\n") }));
  assert.equal(own.manifests[0]!.parts[0]!.provision, undefined, 'nothing to provision');
});

test('two manifests asking for the same host port: a validation error on both, naming the other file; neither applied', async () => {
  const dir = folder({
    'web.yaml': manifest('web', '    ports: ["8081:80"]\n'),
    'api.yaml': manifest('api', '    ports: ["8081:8080/tcp", "9090:90"]\n'),
    'dns.yaml': manifest('dns', '    ports: ["8081:53/udp"]\n'),
  });
  const s = await loadManifests(dir);
  assert.deepEqual(s.manifests.map((m) => m.name), ['dns'], 'udp 8081 is a different port');
  assert.deepEqual(s.errors.map(formatError), [
    `${join(dir, 'api.yaml')}:1:1 spec.container.ports: host port 8081/tcp is also published by "web" (${join(dir, 'web.yaml')}:1:1); none of them is applied`,
    `${join(dir, 'web.yaml')}:1:1 spec.container.ports: host port 8081/tcp is also published by "api" (${join(dir, 'api.yaml')}:1:1); none of them is applied`,
  ]);
});
