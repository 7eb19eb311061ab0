/**
 * Fidelity audit rows fixed in the binding (src/hcs), checked through koffi on the emulator:
 * D6 (spurious CreateProcess failure), D8 (callbacks after completion + one state query),
 * D9 (process terminate), D21 (ExitCode only with LastWaitResult S_OK), D22 (System32 paths),
 * D23 (second callback registration), R2 (no stray deadline timer).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { toProcessExit, toProcessStatus } from '../../src/hcs/documents.ts';
import { system32Path } from '../../src/hcs/ffi.ts';
import { emulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { HcnNative, ZERO_GUID } from '../../src/hcs/hcn.ts';
import { hnsMac } from '../../src/hcs/vm-nics.ts';
import { HcsError, type NativeHcsClient, type ProcessEvent, type SystemEvent } from '../../src/hcs/index.ts';
import { assertNoLeaks, containerDoc, newClient, startService, type Service } from './harness.ts';

describe('audit rows, pure', () => {
  it('D21: ExitCode is reported only when LastWaitResult is S_OK', () => {
    assert.equal(toProcessExit(JSON.stringify({ ProcessId: 4, Exited: true, ExitCode: 3, LastWaitResult: 0 })).exitCode, 3);
    assert.equal(toProcessExit(JSON.stringify({ ProcessId: 4, Exited: true, ExitCode: 3, LastWaitResult: -2147024891 })).exitCode, undefined);
    assert.equal(toProcessExit(JSON.stringify({ ProcessId: 4, Exited: true, ExitCode: 3 })).exitCode, 3, 'absent LastWaitResult = S_OK');
    assert.equal(toProcessStatus(JSON.stringify({ Exited: true, ExitCode: 7, LastWaitResult: 1 })).exitCode, undefined);
    assert.equal(toProcessStatus(JSON.stringify({ Exited: false, ExitCode: 0 })).exitCode, undefined, 'not exited: no code');
  });

  it('D18: MACs are sent in the HNS form (00-15-5D-..., upper case); anything else is refused', () => {
    assert.equal(hnsMac('00:15:5d:0a:0b:0c'), '00-15-5D-0A-0B-0C');
    assert.equal(hnsMac('00-15-5D-52-C0-01'), '00-15-5D-52-C0-01');
    assert.throws(() => hnsMac('00155d0a0b0c'), /not a MAC address/);
  });

  it('D22: Windows DLLs are loaded by their System32 path', () => {
    assert.equal(system32Path('computecore.dll', { SystemRoot: 'C:\\Windows' }), 'C:\\Windows\\System32\\computecore.dll');
    assert.equal(system32Path('kernel32.dll', { SystemRoot: 'D:\\WIN\\' }), 'D:\\WIN\\System32\\kernel32.dll');
    assert.equal(system32Path('ole32.dll', {}), 'C:\\Windows\\System32\\ole32.dll');
  });
});

describe('audit rows, on the emulator through koffi', () => {
  let svc: Service;
  let hcs: NativeHcsClient;
  before(async () => {
    svc = await startService();
  });
  after(async () => svc.stop());
  beforeEach(() => {
    hcs = newClient(svc);
  });
  afterEach(async () => {
    await hcs.close();
    await svc.emu.control.reset();
    await assertNoLeaks(svc);
  });

  it('D6: a CreateProcess whose result fails spuriously is recovered with HcsGetProcessInfo', async () => {
    const sys = await hcs.create('d6', containerDoc());
    await sys.start();
    await svc.emu.control.fault({ op: 'CreateProcess', hresult: 'E_INVALIDARG', afterEffect: true });
    const proc = await sys.createProcess({ CommandLine: 'cmd /c ping -t localhost' });
    assert.ok(proc.processId >= 1000, `recovered pid ${proc.processId}`);
    const listed = (await sys.properties({ propertyTypes: ['ProcessList'] })).processList ?? [];
    assert.deepEqual(listed.map((p) => p.processId), [proc.processId], 'the process runs and is tracked');
    const exit = new Promise<ProcessEvent>((resolve) => proc.onExit(resolve));
    await proc.terminate();
    assert.equal((await exit).processId, proc.processId, 'its exit is delivered');
    // A real failure (no process behind the handle) still rejects, and E_INVALIDARG from a result is not permanent.
    await svc.emu.control.fault({ op: 'CreateProcess', hresult: 'E_INVALIDARG' });
    await assert.rejects(sys.createProcess({ CommandLine: 'x.exe' }), (e: HcsError) => e.kind === 'invalidConfig' && e.permanent === false);
  });

  it('D8: opening a stopped system delivers its SystemExited from the race-closing query', async () => {
    const holder = await hcs.create('d8', containerDoc());
    await holder.start();
    await holder.terminate(); // stays visible while `holder` is open
    const other = newClient(svc);
    try {
      const sys = await other.open('d8');
      const ev = await new Promise<SystemEvent>((resolve) => sys.onEvent(resolve));
      assert.equal(ev.type, 'SystemExited');
      assert.equal(ev.type === 'SystemExited' && ev.exitType, 'ForcedExit');
    } finally {
      await other.close();
    }
  });

  it('D8: the race-closing query is awaited: its failure rejects the open, or the first start of a create (before it starts)', async () => {
    const holder = await hcs.create('d8q', containerDoc());
    await svc.emu.control.fault({ op: 'GetProperties', hresult: 'E_ACCESSDENIED', id: 'd8q' });
    const other = newClient(svc);
    try {
      await assert.rejects(other.open('d8q'), (e: HcsError) => /E_ACCESSDENIED/.test(e.message));
      assert.equal(other.openHandles, 0, 'the opened handle was closed');
    } finally {
      await other.close();
    }
    await holder.close();
    // A create does not hold its caller's HCS slot for the query: the first start awaits it.
    await svc.emu.control.fault({ op: 'GetProperties', hresult: 'E_ACCESSDENIED', id: 'd8c' });
    const created = await hcs.create('d8c', containerDoc());
    await assert.rejects(created.start(), (e: HcsError) => /E_ACCESSDENIED/.test(e.message));
    const states = async () => (await svc.emu.control.list()).filter((s) => s.id === 'd8c').map((s) => s.state);
    assert.deepEqual(await states(), ['Created'], 'not started after the failed query');
    const starts = (await svc.emu.control.callLog()).filter((c) => c.op === 'Start' && c.id === 'd8c');
    assert.deepEqual(starts, [], 'no Start was sent');
    await created.start();
    assert.deepEqual(await states(), ['Running'], 'the next start runs');
    await created.terminate();
    await created.close();
  });

  it('D8: an exited process opened late still reports its exit; registration happens once (D23)', async () => {
    const sys = await hcs.create('d8p', containerDoc());
    await sys.start();
    const proc = await sys.createProcess({ CommandLine: 'cmd /c exit 4', Environment: { HCSEMU_EXIT_AFTER_MS: '0', HCSEMU_EXIT_CODE: '4' } });
    const ev = await new Promise<ProcessEvent>((resolve) => proc.onExit(resolve));
    assert.equal(ev.exitCode, 4);
  });

  it('D23: a second callback registration on a handle fails with HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET', async () => {
    const sys = await hcs.create('d23', containerDoc());
    const native = svc.native;
    const handle = (sys as unknown as { handle: bigint }).handle as never;
    const cb = native.registerEventCallback(() => {});
    try {
      assert.equal(native.setComputeSystemCallback(handle, 0, 99n, cb) >>> 0, 0x80370119, 'the binding registered already');
    } finally {
      native.unregisterCallback(cb);
    }
  });

  it('D9: terminating a process that is gone (ERROR_ACCESS_DENIED, ERROR_NOT_FOUND, already stopped) succeeds', async () => {
    const sys = await hcs.create('d9', containerDoc());
    await sys.start();
    const proc = await sys.createProcess({ CommandLine: 'server.exe' });
    for (const hresult of ['E_ACCESSDENIED', 'ERROR_NOT_FOUND']) {
      await svc.emu.control.fault({ op: 'TerminateProcess', hresult });
      await proc.terminate();
    }
    await proc.terminate();
    await proc.terminate(); // HCS_E_PROCESS_ALREADY_STOPPED now
  });

  it('D3: VM disks are granted after create and before start, and revoked once stopped; ungranted disks fail Start', async () => {
    const disk = 'C:\\vms\\d3\\os.vhdx';
    const doc = {
      Owner: 'hcs-binding-test', SchemaVersion: { Major: 2, Minor: 1 },
      VirtualMachine: { ComputeTopology: { Memory: { SizeInMB: 512 }, Processor: { Count: 1 } }, Devices: { Scsi: { 'Primary disk': { Attachments: { '0': { Type: 'VirtualDisk', Path: disk } } } } } },
    };
    const vm = await hcs.create('d3', doc);
    await vm.start();
    await vm.terminate();
    const ops = (await svc.emu.control.callLog()).map((c) => c.op).filter((op) => ['Create', 'GrantVmAccess', 'Start', 'Terminate', 'RevokeVmAccess'].includes(op));
    assert.deepEqual(ops, ['Create', 'GrantVmAccess', 'Start', 'Terminate', 'RevokeVmAccess']);
    // Without the grant (a caller that skips it), HCS cannot open the disk.
    const n = svc.native;
    const bare = await hcs.create('d3-bare', { ...doc, VirtualMachine: { ...doc.VirtualMachine } });
    assert.equal(await n.revokeVmAccessAsync('d3-bare', disk), 0);
    await assert.rejects(bare.start(), (e: HcsError) => e.hresult === 0x80070005 && e.permanent === false && /OperationFailure|E_ACCESSDENIED/.test(e.message + (e.resultDocument ?? '')));
  });
  it('D18: a VM adapter without MacAddress gets its HNS endpoint\'s MAC at create; a given one is kept; a missing endpoint fails the create', async () => {
    const hcn = new HcnNative({ libraryPath: emulatorLibraryPath('libcomputenetwork.so') });
    const net = await hcn.createNetwork(ZERO_GUID, JSON.stringify({
      Name: 'd18-nat', Type: 'NAT', SchemaVersion: { Major: 2, Minor: 0 },
      MacPool: { Ranges: [{ StartMacAddress: '00-15-5D-52-C0-00', EndMacAddress: '00-15-5D-52-CF-FF' }] },
    }), 'd18-nat');
    const netId = (JSON.parse(await hcn.queryNetworkProperties(net, '', 'd18-nat')) as { ID: string }).ID;
    const ep = await hcn.createEndpoint(net, ZERO_GUID, JSON.stringify({ Name: 'd18-ep', HostComputeNetwork: netId, SchemaVersion: { Major: 2, Minor: 0 } }), 'd18-ep');
    const epProps = JSON.parse(await hcn.queryEndpointProperties(ep, '', 'd18-ep')) as { ID: string; MacAddress: string };
    assert.match(epProps.MacAddress, /^00-15-5D-52-C0-[0-9A-F]{2}$/, 'HNS reports the endpoint MAC from the MacPool, in its dash form');
    const vm = (nics: Record<string, unknown>) => ({
      Owner: 'hcs-binding-test', SchemaVersion: { Major: 2, Minor: 1 },
      VirtualMachine: { ComputeTopology: { Memory: { SizeInMB: 512 }, Processor: { Count: 1 } }, Devices: { NetworkAdapters: nics } },
    });
    try {
      await hcs.create('d18', vm({ '0': { EndpointId: epProps.ID }, '1': { EndpointId: epProps.ID, MacAddress: '00-15-5D-01-02-03' } }));
      const created = (await svc.emu.control.list()).find((x) => x.id === 'd18')!;
      const adapters = (created.document.VirtualMachine as { Devices: { NetworkAdapters: Record<string, { MacAddress?: string }> } }).Devices.NetworkAdapters;
      assert.equal(adapters['0']!.MacAddress, epProps.MacAddress, 'the endpoint\'s MAC, as hcsshim sends it');
      assert.equal(adapters['1']!.MacAddress, '00-15-5D-01-02-03', 'the manifest\'s MAC wins');
      await assert.rejects(hcs.create('d18-none', vm({ '0': { EndpointId: '0d9e6a4b-1111-4222-8333-444455556666' } })),
        (e: HcsError) => /create\.networkAdapter/.test(e.message) && /HCN_E_ENDPOINT_NOT_FOUND/.test(e.message));
      assert.equal((await svc.emu.control.list()).some((x) => x.id === 'd18-none'), false, 'nothing was created');
    } finally {
      await hcn.closeEndpoint(ep);
      await hcn.closeNetwork(net);
    }
  });
});
