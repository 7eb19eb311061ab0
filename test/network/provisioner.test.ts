// src/network/provisioner.ts on the emulator: our NAT network, endpoints with port mappings,
// namespaces, ownership, adoption, leftovers, reboot.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { HcnNative, ZERO_GUID } from '../../src/hcs/hcn.ts';
import { NetworkProvisioner, OWN_NETWORK, PortInUseError } from '../../src/network/provisioner.ts';
import { parsePort } from '../../src/network/ports.ts';
import { freePort, hcnLibrary, privateEmulator, probeTcp } from './helpers.ts';

const tcp = (host: number, container: number) => ({ hostPort: host, containerPort: container, protocol: 'tcp' as const });
type Dump = { networks: Array<{ ID: string; Name: string }>; endpoints: Array<{ ID: string; Name: string }>; namespaces: Array<{ ID: string }> };

describe('network provisioner on the emulator', () => {
  let emu: Awaited<ReturnType<typeof privateEmulator>>;
  let hcn: HcnNative;
  let root: string;
  before(async () => {
    emu = await privateEmulator();
    hcn = new HcnNative({ libraryPath: hcnLibrary() });
    root = mkdtempSync(join(emu.dir, 'data-'));
  });
  after(() => emu.stop());
  const dump = async () => (await emu.control.command('host')) as unknown as Dump;
  const runWith = (systemId: string, namespaceId: string) =>
    emu.control.createForeign({ id: systemId, owner: 'hcs-reconciler-test', state: 'Running', document: { Container: { Networking: { Namespace: namespaceId } } } });

  test('parsePort: host:container[/tcp|udp], Windows NAT limits', () => {
    assert.deepEqual(parsePort('8080:80'), tcp(8080, 80));
    assert.deepEqual(parsePort('5353:53/udp'), { hostPort: 5353, containerPort: 53, protocol: 'udp' });
    assert.match(parsePort('127.0.0.1:8080:80') as string, /host IP is not supported/);
    assert.match(parsePort('8080-8090:80') as string, /ranges are not supported/);
    assert.match(parsePort('70000:80') as string, /not between 1 and 65535/);
    assert.match(parsePort('80') as string, /is not "host:container/);
  });

  test('provision: own NAT network created once, endpoint + namespace, port answers; adopt; release closes it', async () => {
    const net = new NetworkProvisioner(hcn, root);
    const port = await freePort();
    const a = await net.provision('web-a', { ports: [tcp(port, 80)] });
    await runWith('web-a', a.namespaceId);
    assert.equal(await probeTcp(port), 'hcs-emulator web-a 80\n');
    assert.deepEqual((await dump()).networks.map((n) => n.Name), [OWN_NETWORK]);
    const again = await new NetworkProvisioner(hcn, root).provision('web-a', { ports: [tcp(port, 80)] });
    assert.deepEqual(again, a, 'a restarted controller adopts, does not duplicate');
    assert.deepEqual(await net.find('web-a'), a);
    await net.release('web-a');
    assert.equal(await probeTcp(port), 'refused');
    assert.deepEqual((await dump()).endpoints, []);
    assert.deepEqual((await dump()).namespaces, []);
    assert.deepEqual((await dump()).networks.map((n) => n.Name), [OWN_NETWORK], 'the network stays for the next system');
  });

  test('a host port held by another process is a PortInUseError naming the port and the holder', async () => {
    const net = new NetworkProvisioner(hcn, root);
    const port = await freePort();
    const s = createServer();
    await new Promise<void>((r) => s.listen(port, '127.0.0.1', () => r()));
    try {
      await assert.rejects(net.provision('web-b', { ports: [tcp(port, 80)] }), (e) =>
        e instanceof PortInUseError && e.message.includes(`host port ${port}/tcp is already in use`) && e.message.includes(`(held by pid ${process.pid} `));
    } finally {
      await new Promise<void>((r) => s.close(() => r()));
    }
    assert.deepEqual((await dump()).endpoints, [], 'nothing half-made is left');
  });

  test('network: NAME uses an existing network, never deletes it; a missing one is an error; foreign endpoints are untouched', async () => {
    const h = await hcn.createNetwork(ZERO_GUID, JSON.stringify({ Name: 'nat', Type: 'NAT' }), 'nat');
    const natId = (JSON.parse(await hcn.queryNetworkProperties(h, '', 'nat')) as { ID: string }).ID;
    const foreign = await hcn.createEndpoint(h, ZERO_GUID, JSON.stringify({ Name: 'docker-endpoint-1' }), 'docker-endpoint-1');
    await hcn.closeEndpoint(foreign);
    const net = new NetworkProvisioner(hcn, root);
    const c = await net.provision('web-c', { ports: [], network: 'nat' });
    assert.equal(c.networkId, natId);
    await assert.rejects(net.provision('web-d', { ports: [], network: 'missing' }), /network "missing" does not exist on this host/);
    assert.deepEqual(await net.sweep(new Set()), ['web-c']);
    const d = await dump();
    assert.deepEqual(d.endpoints.map((e) => e.Name), ['docker-endpoint-1'], 'the foreign endpoint is untouched');
    assert.ok(d.networks.some((n) => n.ID === natId), 'the named network is never deleted');
    await hcn.closeNetwork(h);
  });

  test('after an emulated reboot the own NAT network is re-created and the system provisioned anew', async () => {
    const net = new NetworkProvisioner(hcn, root);
    const port = await freePort();
    const before = await net.provision('web-e', { ports: [tcp(port, 80)] });
    await emu.control.command('reboot');
    assert.deepEqual((await dump()).networks.filter((n) => n.Name === OWN_NETWORK), []);
    assert.equal(await net.find('web-e'), undefined);
    const after = await net.provision('web-e', { ports: [tcp(port, 80)] });
    assert.notEqual(after.networkId, before.networkId);
    await runWith('web-e', after.namespaceId);
    assert.equal(await probeTcp(port), 'hcs-emulator web-e 80\n');
    await net.release('web-e');
  });
});
