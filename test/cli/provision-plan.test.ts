/**
 * `plan` observes provisioned objects the way `run` does (issue 15): after `apply` converged a
 * manifest with an image and ports, `plan` exits 0 with no nodes; when the system's endpoint is
 * deleted behind the controller's back (through the emulated computenetwork.dll, as another HNS
 * client would), `plan` shows the endpoint's and namespace's create and the system's re-create, and
 * the next `apply` repairs it (the port answers again).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, } from './run-cli.ts';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { HcnNative } from '../../src/hcs/hcn.ts';
import { registrySkip, startRealRegistry, type RealRegistry } from '../images/real-registry.ts';
import { baseLayerEntries, layerTar, pushImage, windowsImage } from '../images/synthetic.ts';
import { freePort, hcnLibrary, probeTcp } from '../network/helpers.ts';

describe('plan observes scratches, endpoints and namespaces', { skip: process.platform === 'win32' ? 'uses the emulator library' : registrySkip }, () => {
  let reg: RealRegistry;
  let dir: string;
  before(async () => {
    reg = await startRealRegistry();
    await pushImage(reg.base, 'win/iis', 'ltsc2022', windowsImage([await layerTar(baseLayerEntries())]));
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-plan-'));
  });
  after(async () => {
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('converged: no nodes, exit 0; endpoint deleted behind our back: its create and the system re-create', async () => {
    const socket = join(dir, 'emu.sock');
    const emu = await startEmulator({ socketPath: socket });
    const env = { HCS_EMULATOR_SOCKET: socket, HCS_RECONCILER_DEBUG: '' };
    process.env.HCS_EMULATOR_SOCKET = socket; // for this process's own HCN client (the C library reads it at each connect)
    const g = ['--data-root', join(dir, 'data'), '--owner', 'plan-test'];
    const folder = join(dir, 'manifests');
    mkdirSync(folder);
    const ref = `${reg.host}/win/iis:ltsc2022`;
    const port = await freePort();
    try {
      assert.equal((await cli([...g, 'image', 'pull', ref], env)).code, 0);
      writeFileSync(join(folder, 'web.yaml'), `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: web }
spec:
  container:
    image: ${ref}
    ports: ["${port}:80"]
`);
      const fresh = await cli([...g, 'plan', '--manifests', folder, '-o', 'json'], env);
      assert.equal(fresh.code, 2, fresh.stderr);
      assert.deepEqual((JSON.parse(fresh.stdout) as { nodes: Array<{ op: string; resource: { kind: string } }> }).nodes.map((n) => `${n.op} ${n.resource.kind}`),
        ['create scratch', 'create endpoint', 'create namespace', 'create computeSystem', 'start computeSystem', 'startProcess process']);

      const applied = await cli([...g, 'apply', '--manifests', folder, '--lock-dir', dir, '--timeout', '60s'], env);
      assert.equal(applied.code, 0, applied.stderr);
      const id = (await emu.control.list()).find((s) => s.owner === 'plan-test' && s.state === 'Running')!.id;
      assert.equal(await probeTcp(port), `hcs-emulator ${id} 80\n`);

      const converged = await cli([...g, 'plan', '--manifests', folder, '-o', 'json'], env);
      assert.equal(converged.code, 0, converged.stdout + converged.stderr);
      // Only the verification of the image's entrypoint remains (a one-shot `plan` has not tracked it; not a change).
      const left = JSON.parse(converged.stdout) as { converged: boolean; nodes: Array<{ id: string; op: string }> };
      assert.deepEqual(left, { converged: true, nodes: left.nodes.filter((n) => n.op === 'ensureProcess') });
      assert.deepEqual(left.nodes.map((n) => n.id), [`ensureProcess:${id}`]);
      const text = await cli([...g, 'plan', '--manifests', folder], env);
      assert.equal(text.code, 0);
      assert.match(text.stdout, /Converged \(nothing will change\)\./);
      assert.doesNotMatch(text.stdout, /create|remove/);

      // Another HNS client removes our endpoint from its namespace and deletes it.
      const hcn = new HcnNative({ libraryPath: hcnLibrary() });
      const [epId] = JSON.parse(await hcn.enumerateEndpoints('')) as string[];
      const h = await hcn.openEndpoint(epId!);
      const ep = JSON.parse(await hcn.queryEndpointProperties(h, '', epId!)) as { Name: string; HostComputeNamespace: string };
      await hcn.closeEndpoint(h);
      assert.match(ep.Name, /^hcsr-web-[0-9a-f]{12}$/);
      const ns = await hcn.openNamespace(ep.HostComputeNamespace);
      await hcn.modifyNamespace(ns, JSON.stringify({ ResourceType: 'Endpoint', RequestType: 'Remove', Settings: { EndpointId: epId } }), ep.HostComputeNamespace);
      await hcn.closeNamespace(ns);
      await hcn.deleteEndpoint(epId!);
      assert.equal(await probeTcp(port), 'refused');

      const broken = await cli([...g, 'plan', '--manifests', folder, '-o', 'json'], env);
      assert.equal(broken.code, 2, broken.stderr);
      const netId = ep.Name.slice('hcsr-'.length);
      const nodes = (JSON.parse(broken.stdout) as { nodes: Array<{ id: string; reason: string; cause: string }> }).nodes;
      assert.deepEqual(nodes.map((n) => [n.id, n.reason]), [
        [`stop:${id}`, 'provisionLost'],
        [`remove:namespace:${netId}`, 'systemGone'],
        [`remove:endpoint:${netId}`, 'systemGone'],
        [`create:endpoint:${netId}`, 'neededBy'],
        [`create:namespace:${netId}`, 'neededBy'],
        [`create:${id}`, 'provisionLost'],
        [`start:${id}`, 'created'],
        [`startProcess:${id}`, 'entrypoint'],
      ]);
      assert.equal(nodes[0]!.cause, `its endpoint ${netId} is gone`);
      const brokenText = await cli([...g, 'plan', '--manifests', folder], env);
      assert.match(brokenText.stdout, new RegExp(`^\\+ create endpoint ${netId} \\(web\\): needed by ${id}$`, 'm'));

      const repaired = await cli([...g, 'apply', '--manifests', folder, '--lock-dir', dir, '--timeout', '60s'], env);
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.equal(await probeTcp(port), `hcs-emulator ${id} 80\n`, 'the same system id again, on a new endpoint');
      const after = await cli([...g, 'plan', '--manifests', folder], env);
      assert.equal(after.code, 0, after.stdout);
    } finally {
      await emu.stop();
    }
  });
});
