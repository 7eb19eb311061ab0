// Hyper-V isolation provisioned the Docker way (issue 15): an image + ports manifest with
// `isolation: hyperv` renders one schema 1.0 document through vmcompute; the controller makes the
// sandbox (CreateSandboxLayer + ExpandSandboxSize, never mounted on the host) and puts its folder in
// LayerFolderPath, makes an HNS endpoint (no namespace) and puts its id in EndpointList; the
// emulator's schema 1.0 path checks both, and the published port answers with the system's id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { NativeHcsClient } from '../../src/hcs/index.ts';
import { HcnNative } from '../../src/hcs/hcn.ts';
import { LayerNative } from '../../src/hcs/layers.ts';
import { ScratchNative } from '../../src/hcs/scratch.ts';
import { formatError, loadManifests, type ImageLookup } from '../../src/manifest/index.ts';
import { NetworkProvisioner } from '../../src/network/provisioner.ts';
import { ProvisioningPort } from '../../src/network/provisioning-port.ts';
import { ScratchStore } from '../../src/scratch/store.ts';
import { createController } from '../../reconciler/index.ts';
import { OWNER, quiet, startRig, until } from '../integration/helpers.ts';
import { freePort, hcnLibrary, probeTcp, vmcomputeLibrary } from './helpers.ts';

const IMAGE = 'mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022';
const web = (ports: string[]) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: webhv }
spec:
  container:
    image: ${IMAGE}
    isolation: hyperv
    ports: ${JSON.stringify(ports)}
    scratchSizeGB: 30
`;

test('isolation: hyperv + image + ports: sandbox in LayerFolderPath, endpoint in EndpointList, port answers; ports-only change keeps the sandbox; delete cleans up', async () => {
  const rig = await startRig();
  const dataRoot = join(rig.dir, 'data');
  const layers = new LayerNative({ libraryPath: vmcomputeLibrary() });
  const base = join(dataRoot, 'layers', 'base');
  const config = join(base, 'Files', 'Windows', 'System32', 'config');
  mkdirSync(config, { recursive: true });
  for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM']) writeFileSync(join(config, h), 'hive');
  mkdirSync(join(base, 'UtilityVM', 'Files'), { recursive: true });
  layers.enableBackupPrivileges();
  layers.processBaseImage(base);
  const images: ImageLookup = { find: (ref) => (ref === IMAGE ? { reference: IMAGE, digest: `sha256:${'b'.repeat(64)}`, layers: [{ id: layers.nameToGuid('base'), path: base }] } : undefined) };
  const load = () => loadManifests(rig.manifests, { owner: OWNER, images });
  const scratch = new ScratchStore(dataRoot, new ScratchNative(vmcomputeLibrary()), layers);
  const network = new NetworkProvisioner(new HcnNative({ libraryPath: hcnLibrary() }), dataRoot);
  const hcs = new NativeHcsClient(rig.native);
  const clock = new SimulatedClock();
  const controller = createController({
    hcs, owner: OWNER, logger: quiet, resyncMs: 0, allowEmpty: true, provision: new ProvisioningPort(() => ({ scratch, network })),
    clock: { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) },
  });
  const running = async () => (await rig.systems()).filter((s) => s.endsWith(':Running')).map((s) => s.split(':')[0]!);
  const host = async () => (await rig.emu.control.command('host')) as { endpoints: Array<{ ID?: string; id?: string }>; namespaces: unknown[]; volumes: unknown[] };
  try {
    const [p1, p2] = [await freePort(), await freePort()];
    rig.write('webhv', web([`${p1}:80`]));
    const snap = await load();
    assert.deepEqual(snap.errors.map(formatError), [], 'hyperv + ports is a valid manifest now');
    const part = snap.manifests[0]!.parts[0]!;
    assert.deepEqual(part.provision, { scratch: { sizeGB: 30 }, network: { ports: [{ protocol: 'tcp', containerPort: 80, hostPort: p1 }] }, isolation: 'hyperv' });
    assert.equal((part.document as { LayerFolderPath?: string }).LayerFolderPath, undefined, 'filled in at create');
    controller.applySnapshot(snap);
    await until(async () => (await running()).includes(part.id), 'webhv running', controller);
    const id1 = part.id;
    assert.equal(await probeTcp(p1), `hcs-emulator ${id1} 80\n`, 'the port reaches the Hyper-V container through its EndpointList');
    const doc = (await rig.emu.control.list()).find((s) => s.id === id1)!.document as { HvPartition: boolean; LayerFolderPath: string; EndpointList: string[]; VolumePath?: string; SchemaVersion?: unknown };
    assert.equal(doc.HvPartition, true);
    assert.equal(doc.SchemaVersion, undefined, 'schema 1.0, through vmcompute');
    assert.equal(doc.VolumePath, undefined);
    assert.equal(doc.LayerFolderPath, join(scratch.root, part.provisionIds!.scratch!), 'the sandbox folder');
    assert.ok(existsSync(join(doc.LayerFolderPath, 'sandbox.vhdx')));
    const h1 = await host();
    assert.equal(h1.volumes.length, 0, 'a Hyper-V sandbox is never mounted on the host');
    assert.equal(h1.namespaces.length, 0, 'no namespace: the endpoint is in EndpointList');
    assert.equal(doc.EndpointList.length, 1);
    const calls = await rig.emu.control.callLog();
    assert.deepEqual(calls.filter((c) => ['CreateSandboxLayer', 'ExpandSandboxSize', 'ActivateLayer', 'PrepareLayer'].includes(c.op)).map((c) => c.op), ['CreateSandboxLayer', 'ExpandSandboxSize']);

    // A ports-only change: a new endpoint and system, the same sandbox.
    await rig.emu.control.command('clearCallLog');
    rig.write('webhv', web([`${p2}:80`]));
    const next = (await load()).manifests[0]!.parts[0]!;
    controller.applySnapshot(await load());
    await until(async () => (await running()).includes(next.id), 'webhv re-created', controller);
    assert.equal(await probeTcp(p2), `hcs-emulator ${next.id} 80\n`);
    assert.equal(await probeTcp(p1), 'refused');
    const doc2 = (await rig.emu.control.list()).find((s) => s.id === next.id)!.document as typeof doc;
    assert.equal(doc2.LayerFolderPath, doc.LayerFolderPath, 'the same sandbox, re-attached');
    assert.notDeepEqual(doc2.EndpointList, doc.EndpointList);
    const moved = await rig.emu.control.callLog();
    assert.deepEqual(moved.filter((c) => ['CreateSandboxLayer', 'ExpandSandboxSize', 'DestroyLayer'].includes(c.op)), [], 'no scratch call');

    // Deleting the manifest closes the port and leaves nothing under the data root.
    rig.remove('webhv');
    controller.applySnapshot(await load());
    await until(async () => (await rig.systems()).length === 0, 'gone from HCS', controller);
    await until(async () => (await probeTcp(p2)) === 'refused', 'the port closed', controller);
    await until(() => readdirSync(scratch.root).length === 0, 'the sandbox removed', controller);
    const h2 = await host();
    assert.deepEqual([h2.endpoints, h2.namespaces, h2.volumes], [[], [], []]);
    assert.deepEqual(existsSync(join(dataRoot, 'network')) ? readdirSync(join(dataRoot, 'network')) : [], []);
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});

test('the emulator\'s schema 1.0 Hyper-V create checks the sandbox folder and the EndpointList', async () => {
  const rig = await startRig();
  const hcs = new NativeHcsClient(rig.native);
  const layers = new LayerNative({ libraryPath: vmcomputeLibrary() });
  const base = join(rig.dir, 'layers', 'base');
  mkdirSync(join(base, 'Files', 'Windows', 'System32', 'config'), { recursive: true });
  for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM']) writeFileSync(join(base, 'Files', 'Windows', 'System32', 'config', h), 'hive');
  layers.enableBackupPrivileges();
  layers.processBaseImage(base);
  const scratch = new ScratchStore(join(rig.dir, 'data'), new ScratchNative(vmcomputeLibrary()), layers);
  const baseLayer = { id: layers.nameToGuid('base'), path: base };
  const doc = (extra: Record<string, unknown>) => ({ SystemType: 'Container', Name: 'x', Owner: OWNER, HvPartition: true, Layers: [{ ID: baseLayer.id, Path: base }], HvRuntime: { ImagePath: join(base, 'UtilityVM') }, ...extra });
  const hr = async (id: string, d: Record<string, unknown>) => hcs.create(id, { ...d, Name: id }).then(async (s) => { await s.close(); return 'ok'; }, (e: { hresult?: number; message?: string }) => (e.hresult === undefined ? `no hresult: ${e.message}` : `0x${(e.hresult >>> 0).toString(16)}`));
  try {
    const empty = join(rig.dir, 'no-sandbox');
    mkdirSync(empty);
    assert.equal(await hr('a', doc({ LayerFolderPath: empty })), '0x80070003', 'no sandbox.vhdx in LayerFolderPath');
    const sb = await scratch.createSandbox('hv-1', [baseLayer]);
    assert.equal(await hr('b', doc({ LayerFolderPath: sb.dir, VolumePath: '\\\\?\\Volume{11111111-2222-3333-4444-555555555555}' })), '0x80070057', 'VolumePath must be omitted for Hyper-V');
    assert.equal(await hr('c', doc({ LayerFolderPath: sb.dir, EndpointList: ['6d2f8b41-7c3e-4a95-b0d6-9e1a3c5f7b28'] })), '0x803b0002', 'an unknown endpoint');
    assert.equal(await hr('d', doc({ LayerFolderPath: sb.dir, EndpointList: 'x' })), '0x8037010d');
    const mounted = await scratch.create('pc-1', [baseLayer]);
    assert.equal(await hr('e', doc({ LayerFolderPath: mounted.dir })), '0x80070020', 'a sandbox attached on the host');
    assert.equal(await hr('f', doc({ LayerFolderPath: sb.dir })), 'ok');
    assert.equal(await hr('g', doc({ LayerFolderPath: 'C:\\ProgramData\\sandboxes\\x' })), 'ok', 'a Windows path the emulator cannot look at is taken as it is');
  } finally {
    await hcs.close();
    await rig.stop();
  }
});
