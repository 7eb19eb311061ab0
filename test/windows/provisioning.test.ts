/**
 * The issue-15 steps against the real APIs: computenetwork.dll (our NAT network, an endpoint with a
 * port mapping, a namespace, the duplicate-port error, cleanup) and vmcompute.dll's scratch exports
 * (CreateSandboxLayer over a processed base layer, ExpandSandboxSize, Activate/Prepare/
 * GetLayerMountPath, Unprepare/Deactivate/DestroyLayer). Skipped everywhere else.
 *
 * Run elevated (PowerShell):
 *   $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows/provisioning
 * The scratch part also needs a processed base layer folder (e.g. one the image store imported):
 *   $env:HCSR_TEST_BASE_LAYER='C:\ProgramData\hcs-reconciler\layers\<chain id>'
 * Everything it creates is named hcsr-functional-* / lives under a temp folder, and is removed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HcnNative } from '../../src/hcs/hcn.ts';
import { LayerNative } from '../../src/hcs/layers.ts';
import { ScratchNative } from '../../src/hcs/scratch.ts';
import { NetworkProvisioner, PortInUseError } from '../../src/network/provisioner.ts';
import { ScratchStore } from '../../src/scratch/store.ts';

const enabled = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1';
const skip = enabled ? false : 'needs Windows, elevation and HCS_FUNCTIONAL=1 (real computenetwork.dll / vmcompute.dll)';
const baseLayer = process.env.HCSR_TEST_BASE_LAYER;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('real computenetwork.dll', { skip }, () => {
  let root: string;
  before(() => { root = mkdtempSync(join(tmpdir(), 'hcsr-functional-')); });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('own NAT network, endpoint with a port mapping in a namespace, duplicate port, release', async () => {
    const net = new NetworkProvisioner(new HcnNative(), root);
    const port = await freePort();
    const a = await net.provision('hcsr-functional-a', { ports: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] });
    try {
      assert.match(a.namespaceId, /^[0-9a-f-]{36}$/i);
      assert.deepEqual(await net.find('hcsr-functional-a'), a, 'adopted by enumerating (Name tag)');
      // UNVERIFIED on NAT until this runs: HCN_E_PORT_ALREADY_EXISTS for a second endpoint on the same port.
      await assert.rejects(net.provision('hcsr-functional-b', { ports: [{ hostPort: port, containerPort: 81, protocol: 'tcp' }] }), PortInUseError);
    } finally {
      await net.release('hcsr-functional-a');
      await net.release('hcsr-functional-b');
    }
    assert.equal(await net.find('hcsr-functional-a'), undefined);
  });
});

describe('real vmcompute.dll scratch exports', { skip: skip || (baseLayer ? false : 'set HCSR_TEST_BASE_LAYER to a processed base layer folder') }, () => {
  it('creates, mounts as \\\\?\\Volume{GUID}\\, unmounts and destroys a scratch', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hcsr-functional-scratch-'));
    const layers = new LayerNative();
    const store = new ScratchStore(root, new ScratchNative(), layers);
    const base = { id: layers.nameToGuid(basename(baseLayer!)), path: baseLayer! };
    try {
      const m = await store.create('hcsr-functional-1', [base], 21);
      assert.match(m.volumePath, /^\\\\\?\\Volume\{[0-9a-f-]{36}\}\\$/i);
      assert.deepEqual(await store.mounted('hcsr-functional-1'), m);
      assert.equal(await store.remove('hcsr-functional-1'), true);
    } finally {
      await store.sweep(new Set());
      rmSync(root, { recursive: true, force: true });
    }
  });
});
