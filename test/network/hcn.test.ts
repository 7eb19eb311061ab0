// The computenetwork binding (src/hcs/hcn.ts) against the emulator's libcomputenetwork.so: the HCN
// object model, the documented errors, and published ports as real loopback listeners.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { type HcnError, HcnNative, ZERO_GUID, isHcnNotFound, isPortInUse, isNetworkAlreadyExists, isHcnInUse, isEndpointInNamespace } from '../../src/hcs/hcn.ts';
import { freePort, hcnLibrary, privateEmulator, probeTcp, probeUdp } from './helpers.ts';

const NAT = (name: string) => JSON.stringify({
  Name: name, Type: 'NAT', SchemaVersion: { Major: 2, Minor: 0 },
  Ipams: [{ Type: 'Static', Subnets: [{ IpAddressPrefix: '172.30.0.0/16', Routes: [{ NextHop: '172.30.0.1', DestinationPrefix: '0.0.0.0/0' }] }] }],
});
const endpoint = (name: string, network: string, maps: Array<[number, number, number]>) => JSON.stringify({
  Name: name, HostComputeNetwork: network, SchemaVersion: { Major: 2, Minor: 0 },
  Policies: maps.map(([Protocol, InternalPort, ExternalPort]) => ({ Type: 'PortMapping', Settings: { Protocol, InternalPort, ExternalPort } })),
});
const byName = (name: string) => JSON.stringify({ SchemaVersion: { Major: 2, Minor: 0 }, Flags: 0, Filter: JSON.stringify({ Name: name }) });
const idOf = (props: string) => (JSON.parse(props) as { ID: string }).ID;

describe('HCN binding on the emulator', () => {
  let emu: Awaited<ReturnType<typeof privateEmulator>>;
  let hcn: HcnNative;
  before(async () => {
    emu = await privateEmulator();
    hcn = new HcnNative({ libraryPath: hcnLibrary() });
  });
  after(() => emu.stop());

  test('network: create with a zero GUID, enumerate by name, query, duplicate name, delete, not found', async () => {
    const h = await hcn.createNetwork(ZERO_GUID, NAT('t-nat1'), 't-nat1');
    const id = idOf(await hcn.queryNetworkProperties(h, '', 't-nat1'));
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.notEqual(id, ZERO_GUID, 'HNS generates the id');
    assert.deepEqual(JSON.parse(await hcn.enumerateNetworks(byName('t-nat1'))), [id]);
    assert.deepEqual(JSON.parse(await hcn.enumerateNetworks(byName('nope'))), []);
    await assert.rejects(hcn.createNetwork(ZERO_GUID, NAT('t-nat1'), 't-nat1'), (e) => isNetworkAlreadyExists(e) && /hcn create network t-nat1: HCN_E_NETWORK_ALREADY_EXISTS \(0x803B0010\)/.test((e as Error).message));
    await assert.rejects(hcn.createNetwork(ZERO_GUID, '{not json', 'bad'), /HCN_E_INVALID_JSON \(0x803B001B\)/);
    await assert.rejects(hcn.modifyNetwork(h, '{}', 't-nat1'), /hcn modify network t-nat1: HCN_E_REQUEST_UNSUPPORTED \(0x803B0015\)/, 'not modelled: refused, never silently accepted');
    await hcn.closeNetwork(h);
    await hcn.deleteNetwork(id);
    await assert.rejects(hcn.openNetwork(id), (e) => isHcnNotFound(e) && /HCN_E_NETWORK_NOT_FOUND/.test((e as Error).message));
    await assert.rejects(hcn.deleteNetwork(id), isHcnNotFound);
  });

  test('a published TCP port answers with the system id; duplicate and foreign-held ports are HCN_E_PORT_ALREADY_EXISTS', async () => {
    const net = await hcn.createNetwork(ZERO_GUID, NAT('t-nat2'), 't-nat2');
    const netId = idOf(await hcn.queryNetworkProperties(net, '', 't-nat2'));
    const port = await freePort();
    const ep = await hcn.createEndpoint(net, ZERO_GUID, endpoint('t-ep1', netId, [[6, 80, port]]), 't-ep1');
    const epId = idOf(await hcn.queryEndpointProperties(ep, '', 't-ep1'));
    assert.equal(await probeTcp(port), '', 'no system behind the endpoint yet: the connection is closed without a line');

    // Same host port again: the documented duplicate-port error, with the ErrorRecord text.
    await assert.rejects(hcn.createEndpoint(net, ZERO_GUID, endpoint('t-ep2', netId, [[6, 81, port]]), 't-ep2'),
      (e) => isPortInUse(e) && (e as HcnError).message.startsWith('hcn create endpoint t-ep2: HCN_E_PORT_ALREADY_EXISTS (0x803B0013)') && (e as Error).message.includes(String(port)));
    // A port a non-emulator process holds.
    const foreign = createServer();
    const held = await freePort();
    await new Promise<void>((r) => foreign.listen(held, '127.0.0.1', () => r()));
    await assert.rejects(hcn.createEndpoint(net, ZERO_GUID, endpoint('t-ep3', netId, [[6, 80, held]]), 't-ep3'), (e) => isPortInUse(e) && /in use on the host/.test((e as Error).message));
    await new Promise<void>((r) => foreign.close(() => r()));

    // Namespace + endpoint, then a running system naming the namespace.
    const ns = await hcn.createNamespace(ZERO_GUID, JSON.stringify({ SchemaVersion: { Major: 2, Minor: 0 } }), 't-ns');
    const nsId = idOf(await hcn.queryNamespaceProperties(ns, '', 't-ns'));
    const add = JSON.stringify({ ResourceType: 'Endpoint', RequestType: 'Add', Settings: { EndpointId: epId } });
    await hcn.modifyNamespace(ns, add, nsId);
    await assert.rejects(hcn.modifyNamespace(ns, add, nsId), isEndpointInNamespace);
    assert.equal((JSON.parse(await hcn.queryEndpointProperties(ep, '', 't-ep1')) as { HostComputeNamespace: string }).HostComputeNamespace, nsId);
    await emu.control.createForeign({ id: 'web-1', owner: 'test', state: 'Running', document: { SchemaVersion: { Major: 2, Minor: 1 }, Container: { Networking: { Namespace: nsId } } } });
    assert.equal(await probeTcp(port), `hcs-emulator web-1 80\n`);

    // Deleting an endpoint still in a namespace is refused; the documented cleanup order works.
    await assert.rejects(hcn.deleteEndpoint(epId), isHcnInUse);
    await assert.rejects(hcn.deleteNetwork(netId), isHcnInUse, 'a network with endpoints');
    await hcn.modifyNamespace(ns, JSON.stringify({ ResourceType: 'Endpoint', RequestType: 'Remove', Settings: { EndpointId: epId } }), nsId);
    await hcn.deleteNamespace(nsId);
    await hcn.deleteEndpoint(epId);
    assert.equal(await probeTcp(port), 'refused', 'the listener closes with the endpoint');
    await assert.rejects(hcn.queryEndpointProperties(ep, '', 't-ep1'), isHcnNotFound, 'a stale handle sees the deletion');
    await hcn.closeEndpoint(ep);
    await hcn.closeNamespace(ns);
    await hcn.closeNetwork(net);
    await hcn.deleteNetwork(netId);
  });

  test('UDP mapping answers any datagram; reboot drops NAT networks, endpoints and their ports', async () => {
    const net = await hcn.createNetwork(ZERO_GUID, NAT('t-nat3'), 't-nat3');
    const netId = idOf(await hcn.queryNetworkProperties(net, '', 't-nat3'));
    const port = await freePort();
    const ep = await hcn.createEndpoint(net, ZERO_GUID, endpoint('t-udp', netId, [[17, 53, port]]), 't-udp');
    const epId = idOf(await hcn.queryEndpointProperties(ep, '', 't-udp'));
    const ns = await hcn.createNamespace(ZERO_GUID, '{}', 't-ns2');
    const nsId = idOf(await hcn.queryNamespaceProperties(ns, '', 't-ns2'));
    await hcn.modifyNamespace(ns, JSON.stringify({ ResourceType: 'Endpoint', RequestType: 'Add', Settings: { EndpointId: epId } }), nsId);
    await emu.control.createForeign({ id: 'dns-1', owner: 'test', state: 'Running', document: { Container: { Networking: { Namespace: nsId } } } });
    assert.equal(await probeUdp(port), 'hcs-emulator dns-1 53\n');
    await emu.control.command('reboot');
    assert.deepEqual(JSON.parse(await hcn.enumerateNetworks(byName('t-nat3'))), [], 'NAT networks are not persisted after a reboot');
    assert.deepEqual(JSON.parse(await hcn.enumerateEndpoints('')), []);
    assert.deepEqual(JSON.parse(await hcn.enumerateNamespaces('')), []);
    await assert.rejects(hcn.openEndpoint(epId), isHcnNotFound);
    assert.deepEqual(await emu.control.list(), [], 'compute systems are gone');
    // The port is free again: a plain socket can take it.
    const s = createServer();
    await new Promise<void>((r, j) => { s.once('error', j); s.listen(port, '127.0.0.1', () => r()); });
    await new Promise<void>((r) => s.close(() => r()));
    for (const h of [ep, ns, net]) await (h.kind === 'endpoint' ? hcn.closeEndpoint(h) : h.kind === 'namespace' ? hcn.closeNamespace(h) : hcn.closeNetwork(h));
  });
});
