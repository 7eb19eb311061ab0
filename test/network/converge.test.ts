// The done-when on the emulator: a manifest with only an image, ports and scratchSizeGB
// converges from nothing through the real bindings (computecore, computenetwork, vmcompute); the
// published port prints the running system's id; moving the port moves the listener; a second
// manifest on the same port is a validation error; an emulated reboot is recovered from without
// operator action; deleting the manifest closes the port and leaves no file of that system.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
import { freePort, hcnLibrary, probeTcp, probeUdp, vmcomputeLibrary } from './helpers.ts';
import { SimulatedClock } from 'xstate';
import { createSocket } from 'node:dgram';

const IMAGE = 'mcr.microsoft.com/windows/servercore/iis:windowsservercore-ltsc2022';
const web = (name: string, ports: string[]) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: ${name} }
spec:
  container:
    image: ${IMAGE}
    ports: ${JSON.stringify(ports)}
    scratchSizeGB: 20
`;

test('image + ports + scratchSizeGB: converge, port answers, move port, conflict, reboot, delete', async () => {
  const rig = await startRig();
  const dataRoot = join(rig.dir, 'data');
  const layers = new LayerNative({ libraryPath: vmcomputeLibrary() });
  const base = join(dataRoot, 'layers', 'base');
  const config = join(base, 'Files', 'Windows', 'System32', 'config');
  mkdirSync(config, { recursive: true });
  for (const h of ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM']) writeFileSync(join(config, h), 'hive');
  layers.enableBackupPrivileges();
  layers.processBaseImage(base);
  // The image store's record of the image (issue 14's store fills this in after a pull).
  const images: ImageLookup = { find: (ref) => (ref === IMAGE ? { reference: IMAGE, digest: `sha256:${'a'.repeat(64)}`, layers: [{ id: layers.nameToGuid('base'), path: base }] } : undefined) };
  const load = () => loadManifests(rig.manifests, { owner: OWNER, images });

  const scratch = new ScratchStore(dataRoot, new ScratchNative(vmcomputeLibrary()), layers);
  const network = new NetworkProvisioner(new HcnNative({ libraryPath: hcnLibrary() }), dataRoot);
  const hcs = new NativeHcsClient(rig.native);
  const provision = new ProvisioningPort(() => ({ scratch, network }));
  const clock = new SimulatedClock();
  const controller = createController({
    hcs, owner: OWNER, logger: quiet, resyncMs: 0, allowEmpty: true, provision,
    clock: { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) },
  });
  const running = async () => (await rig.systems()).filter((s) => s.endsWith(':Running')).map((s) => s.split(':')[0]!);
  try {
    const [p1, p2, udp] = [await freePort(), await freePort(), await freePort()];
    rig.write('web', web('web', [`${p1}:80`, `${udp}:53/udp`]));
    controller.applySnapshot(await load());
    await until(async () => (await running()).length === 1, 'web running', controller);
    const [id1] = await running();
    assert.equal(await probeTcp(p1), `hcs-emulator ${id1} 80\n`, 'the published TCP port reaches the running system');
    assert.equal(await probeUdp(udp), `hcs-emulator ${id1} 53\n`);
    const doc = (await rig.emu.control.list()).find((s) => s.id === id1)!.document as { Container: { Storage: { Path: string }; Networking: { Namespace: string } } };
    assert.match(doc.Container.Storage.Path, /^\\\\\?\\Volume\{[0-9a-f-]{36}\}\\$/, 'the scratch volume is in the document');
    assert.match(doc.Container.Networking.Namespace, /^[0-9a-f-]{36}$/);

    // 8080:80 → 8081:80 moves the listener: the endpoint (and its namespace) and the system are
    // re-created, the scratch is kept and re-attached (no scratch call at all in the call log).
    const scratchBefore = readdirSync(scratch.root);
    assert.equal(scratchBefore.length, 1);
    await rig.emu.control.command('clearCallLog');
    rig.write('web', web('web', [`${p2}:80`, `${udp}:53/udp`]));
    controller.applySnapshot(await load());
    await until(async () => { const r = await running(); return r.length === 1 && r[0] !== id1; }, 'web re-created', controller);
    const [id2] = await running();
    assert.equal(await probeTcp(p2), `hcs-emulator ${id2} 80\n`);
    assert.equal(await probeTcp(p1), 'refused', 'the old port is closed (its endpoint was removed before the new one was made)');
    assert.deepEqual(readdirSync(scratch.root), scratchBefore, 'the same scratch, not a new one');
    const calls = await rig.emu.control.callLog();
    const ops = (names: string[]) => calls.filter((c) => names.includes(c.op)).map((c) => `${c.op} ${c.id.replace(scratch.root, 'S')}`);
    assert.deepEqual(ops(['CreateSandboxLayer', 'ExpandSandboxSize', 'ActivateLayer', 'PrepareLayer', 'UnprepareLayer', 'DeactivateLayer', 'DestroyLayer']), [], 'no scratch call');
    assert.equal(ops(['DeleteEndpoint']).length, 1, 'the old endpoint was deleted');
    assert.equal(ops(['CreateEndpoint']).length, 1, 'a new endpoint was made');
    assert.equal(ops(['DeleteNamespace', 'CreateNamespace']).length, 2, 'and a new namespace');
    assert.deepEqual(calls.filter((c) => c.op === 'Create').map((c) => c.id), [id2], 'one system created: the new one');
    assert.ok(calls.some((c) => (c.op === 'ShutDown' || c.op === 'Terminate') && c.id === id1), 'the old system was stopped');
    const doc2 = (await rig.emu.control.list()).find((s) => s.id === id2)!.document as typeof doc;
    assert.equal(doc2.Container.Storage.Path, doc.Container.Storage.Path, 'the new system got the same scratch volume');
    assert.notEqual(doc2.Container.Networking.Namespace, doc.Container.Networking.Namespace);
    const replaced = controller.history.list('web').map((e) => e.kind);
    assert.ok(replaced.includes('stopped'), `history: ${replaced.join(',')}`);

    // A second manifest on the same host port: a validation error naming both files; web keeps running.
    rig.write('other', web('other', [`${p2}:8080`]));
    const conflicted = await load();
    assert.deepEqual(conflicted.errors.map(formatError).map((e) => e.replace(rig.manifests, 'M')), [
      `M/other.yaml:1:1 spec.container.ports: host port ${p2}/tcp is also published by "web" (${join(rig.manifests, 'web.yaml')}:1:1); none of them is applied`,
      `M/web.yaml:1:1 spec.container.ports: host port ${p2}/tcp is also published by "other" (${join(rig.manifests, 'other.yaml')}:1:1); none of them is applied`,
    ]);
    controller.applySnapshot(conflicted);
    rig.remove('other');
    controller.applySnapshot(await load());
    assert.deepEqual(await running(), [id2], 'the running system was kept');

    // An emulated Windows reboot: everything is re-created and the port answers again.
    await rig.emu.control.command('reboot');
    await until(async () => (await running()).length === 1, 'web re-created after the reboot', controller, 30_000);
    await until(async () => (await probeTcp(p2)).startsWith('hcs-emulator '), 'the port answers again', controller);
    const [id3] = await running();
    assert.equal(await probeTcp(p2), `hcs-emulator ${id3} 80\n`);

    // Deleting the manifest closes the port and leaves no file of that system under the data root.
    rig.remove('web');
    controller.applySnapshot({ ...(await load()) });
    await until(async () => (await running()).length === 0, 'web removed', controller);
    await until(async () => (await rig.systems()).length === 0, 'gone from HCS', controller);
    await until(async () => (await probeTcp(p2)) === 'refused', 'the port closed', controller);
    await until(() => readdirSync(scratch.root).length === 0, 'the scratch removed after the endpoint', controller);
    const sock = createSocket('udp4');
    await new Promise<void>((r, j) => { sock.once('error', j); sock.bind(udp, '127.0.0.1', () => r()); });
    await new Promise<void>((r) => sock.close(() => r()));
    assert.deepEqual(readdirSync(scratch.root), []);
    assert.deepEqual(existsSync(join(dataRoot, 'network')) ? readdirSync(join(dataRoot, 'network')) : [], [], 'no network journal left');
    const host = (await rig.emu.control.command('host')) as { endpoints: unknown[]; namespaces: unknown[]; volumes: unknown[] };
    assert.deepEqual([host.endpoints, host.namespaces, host.volumes], [[], [], []]);
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});
