// Compute system semantics: every transition and its error HRESULT, ids, documents, hosting,
// Enumerate filters, GetProperties property types, Modify.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HR } from '../../src/emulator/hresult.ts';
import { EventType } from '../../src/emulator/protocol.ts';
import { containerDoc, vmDoc, withService } from './wire-client.ts';

type Props = Record<string, unknown>;

// Each test runs its own service, so they can run side by side.
describe('compute system semantics', { concurrency: true }, () => {
  test('container: Create → Start → ShutDown, with state checks along the way', () =>
    withService(async ({ client }) => {
      const { handle, reply } = await client.create('c1', containerDoc());
      assert.equal(reply.hresult, HR.S_OK);
      assert.equal(reply.result, null, 'successful create has no result document');
      const props = async () => (await client.call('GetProperties', handle)).json;
      assert.equal((await props()).State, 'Created');
      assert.equal((await client.call('Resume', handle)).hresult, HR.HCS_E_INVALID_STATE);
      assert.equal((await client.call('Start', handle, '')).hresult, HR.S_OK, 'options "" accepted like hcsshim');
      assert.equal((await props()).State, 'Running');
      const again = await client.call('Start', handle);
      assert.equal(again.hresult, HR.HCS_E_INVALID_STATE);
      assert.equal(again.json.Error, HR.HCS_E_INVALID_STATE | 0, 'ResultError carries the int32 HRESULT');
      assert.match(again.json.ErrorMessage, /Start/);
      assert.equal((await client.call('Resume', handle)).hresult, HR.HCS_E_INVALID_STATE);
      assert.equal((await client.call('ShutDown', handle)).hresult, HR.S_OK);
      const ev = await client.waitEvent((e) => e.handle === handle && e.eventType === EventType.SystemExited);
      assert.equal(ev.data.Status, 0);
      assert.equal(ev.data.ExitType, 'GracefulExit');
      assert.deepEqual(ev.data.Attribution, [{ SystemExit: { Detail: 'Shutdown', Initiator: 'Client' } }]);
      const stopped = await props();
      assert.equal(stopped.State, 'Stopped');
      assert.equal(stopped.Stopped, true);
      assert.equal(stopped.ExitType, 'GracefulExit');
      for (const op of ['ShutDown', 'Terminate', 'Start', 'Pause', 'Resume'] as const) {
        assert.equal((await client.call(op, handle)).hresult, HR.HCS_E_SYSTEM_ALREADY_STOPPED, op);
      }
    }));

  test('VM: Pause/Resume, Terminate gives ForcedExit; Created system can be terminated', () =>
    withService(async ({ client }) => {
      const { handle } = await client.create('vm1', vmDoc());
      assert.equal((await client.call('Pause', handle)).hresult, HR.HCS_E_INVALID_STATE, 'pause of Created');
      await client.call('Start', handle);
      assert.equal((await client.call('Pause', handle)).hresult, HR.S_OK);
      assert.equal((await client.call('GetProperties', handle)).json.State, 'Paused');
      assert.equal((await client.call('Pause', handle)).hresult, HR.HCS_E_INVALID_STATE);
      assert.equal((await client.call('Start', handle)).hresult, HR.HCS_E_INVALID_STATE, 'start of Paused');
      assert.equal((await client.call('Resume', handle)).hresult, HR.S_OK);
      assert.equal((await client.call('GetProperties', handle)).json.State, 'Running');
      await client.call('Pause', handle);
      assert.equal((await client.call('Terminate', handle)).hresult, HR.S_OK, 'terminate of Paused');
      const ev = await client.waitEvent((e) => e.handle === handle);
      assert.equal(ev.data.ExitType, 'ForcedExit');

      const { handle: h2 } = await client.create('vm2', vmDoc());
      assert.equal((await client.call('Terminate', h2)).hresult, HR.S_OK, 'terminate of Created');
      assert.equal((await client.call('GetProperties', h2)).json.ExitType, 'ForcedExit');
    }));

  test('process-isolated container cannot be paused; a Hyper-V (hosted) one can', () =>
    withService(async ({ client }) => {
      const { handle } = await client.create('argon', containerDoc());
      await client.call('Start', handle);
      const r = await client.call('Pause', handle);
      assert.equal(r.hresult, HR.ERROR_NOT_SUPPORTED);
      assert.equal(r.json.Error, HR.ERROR_NOT_SUPPORTED | 0);

      const { handle: uvm } = await client.create('uvm', vmDoc());
      await client.call('Start', uvm);
      const hosted = { SchemaVersion: { Major: 2, Minor: 1 }, HostingSystemId: 'uvm', HostedSystem: { SchemaVersion: { Major: 2, Minor: 1 }, Container: {} } };
      const { handle: xenon, reply } = await client.create('xenon', hosted);
      assert.equal(reply.hresult, HR.S_OK);
      await client.call('Start', xenon);
      const props = (await client.call('GetProperties', xenon)).json;
      assert.equal(props.SystemType, 'Container');
      assert.equal(props.HostingSystemId, 'uvm');
      assert.equal((await client.call('Pause', xenon)).hresult, HR.S_OK);
    }));

  test('stopping a utility VM stops the systems hosted in it with UnexpectedExit', () =>
    withService(async ({ client }) => {
      const { handle: uvm } = await client.create('uvm', vmDoc());
      await client.call('Start', uvm);
      const { handle: c } = await client.create('hosted', containerDoc({ HostingSystemId: 'uvm' }));
      await client.call('Start', c);
      await client.call('Terminate', uvm);
      const ev = await client.waitEvent((e) => e.handle === c && e.eventType === EventType.SystemExited);
      assert.equal(ev.data.ExitType, 'UnexpectedExit');
      assert.equal(ev.data.Status, HR.HCS_E_UNEXPECTED_EXIT | 0);
      assert.equal((await client.call('GetProperties', c)).json.State, 'Stopped');
    }));

  test('Create validates ids and documents', () =>
    withService(async ({ client }) => {
      for (const id of ['', 'a/b', 'a\\b', 'a:b', 'a*b', 'a?b', 'a"b', 'a<b', 'a>b', 'a|b', 'a\u0001b', 'x'.repeat(256)]) {
        assert.equal((await client.create(id, containerDoc())).reply.hresult, HR.E_INVALIDARG, JSON.stringify(id));
      }
      assert.equal((await client.request('Create', { newHandle: client.newHandle(), a: null, b: '{}' })).hresult, HR.E_INVALIDARG);
      assert.equal((await client.create('x'.repeat(255), containerDoc())).reply.hresult, HR.S_OK, '255 chars is fine');
      const bad: unknown[] = [
        'not json', '[]', '"str"', '{}',
        { SchemaVersion: { Major: 2, Minor: 1 } },
        { Container: {} },
        { SchemaVersion: { Major: 2, Minor: 1 }, Container: {}, VirtualMachine: {} },
        { SchemaVersion: { Major: 2, Minor: 1 }, HostedSystem: {} },
        { SchemaVersion: { Major: 2, Minor: 1 }, Container: {}, ShouldTerminateOnLastHandleClosed: 'yes' },
      ];
      for (const doc of bad) {
        const { reply } = await client.create('bad', doc);
        assert.equal(reply.hresult, HR.HCS_E_INVALID_JSON, JSON.stringify(doc));
        assert.equal(reply.json.Error, HR.HCS_E_INVALID_JSON | 0);
        assert.equal(typeof reply.json.ErrorMessage, 'string');
      }
      const { handle: uvm } = await client.create('stopped-uvm', vmDoc());
      assert.ok(uvm);
      const notRunning = await client.create('hosted', { SchemaVersion: { Major: 2, Minor: 1 }, HostingSystemId: 'stopped-uvm', HostedSystem: {} });
      assert.equal(notRunning.reply.hresult, HR.HCS_E_INVALID_STATE, 'hosting system must be running (D25)');
      const missing = await client.create('hosted2', { SchemaVersion: { Major: 2, Minor: 1 }, HostedSystem: {}, HostingSystemId: 'missing' });
      assert.equal(missing.reply.hresult, HR.HCS_E_SYSTEM_NOT_FOUND, 'absent hosting system (D25)');
    }));

  test('duplicate Create, Open of unknown id, owner default, handle errors', () =>
    withService(async ({ client }) => {
      const { handle } = await client.create('dup', { SchemaVersion: { Major: 2, Minor: 1 }, Container: {} });
      const second = await client.create('dup', containerDoc());
      assert.equal(second.reply.hresult, HR.HCS_E_SYSTEM_ALREADY_EXISTS);
      assert.equal((await client.call('GetProperties', second.handle)).hresult, HR.HCS_E_SYSTEM_NOT_FOUND,
        'the handle of a failed Create is not bound to the existing system');
      assert.equal((await client.call('GetProperties', handle)).json.Owner, '', 'owner defaults to ""');
      assert.equal((await client.open('nope')).reply.hresult, HR.HCS_E_SYSTEM_NOT_FOUND);
      assert.equal((await client.call('Start', 999n)).hresult, HR.E_HANDLE, 'unknown handle');
      assert.equal((await client.call('Start', 0n)).hresult, HR.E_HANDLE, 'null handle');
      await client.request('CloseSystem', { handle });
      assert.equal((await client.call('GetProperties', handle)).hresult, HR.E_HANDLE, 'closed handle');
      assert.equal((await client.request('CloseSystem', { handle })).hresult, HR.E_HANDLE, 'double close');
      const { handle: h2 } = await client.open('dup');
      assert.equal((await client.request('TerminateProcess', { handle: h2 })).hresult, HR.E_HANDLE, 'system handle used as process handle');
      assert.equal((await client.request(77, {})).hresult, HR.HCS_E_UNKNOWN_MESSAGE, 'unknown op');
      assert.equal((await client.request('Open', { newHandle: h2, a: 'dup' })).hresult, HR.E_INVALIDARG, 'reused newHandle');
      assert.equal((await client.request('Open', { newHandle: 0n, a: 'dup' })).hresult, HR.E_INVALIDARG, 'zero newHandle');
    }));

  test('Enumerate: result shape and Ids/Names/Types/Owners filters', () =>
    withService(async ({ client, control }) => {
      const { handle } = await client.create('mine-c', containerDoc({ Owner: 'My-Controller' }));
      await client.call('Start', handle);
      await client.create('mine-vm', vmDoc({ Owner: 'my-controller' }));
      await control.createForeign({ id: 'theirs', owner: 'docker' });
      const ids = async (query: unknown): Promise<string[]> => {
        const r = await client.request('Enumerate', { a: query === null ? null : JSON.stringify(query) });
        assert.equal(r.hresult, HR.S_OK);
        return (r.json as Props[]).map((p) => p.Id as string).sort();
      };
      assert.deepEqual(await ids(null), ['mine-c', 'mine-vm', 'theirs']);
      assert.deepEqual(await ids({}), ['mine-c', 'mine-vm', 'theirs']);
      assert.deepEqual(await ids({ Owners: ['my-controller'] }), ['mine-c', 'mine-vm'], 'owners compare case-insensitively');
      assert.deepEqual(await ids({ Types: ['Container'] }), ['mine-c', 'theirs']);
      assert.deepEqual(await ids({ Owners: ['MY-CONTROLLER'], Types: ['VirtualMachine'] }), ['mine-vm']);
      assert.deepEqual(await ids({ Ids: ['theirs', 'nope'] }), ['theirs']);
      assert.deepEqual(await ids({ Names: ['mine-c'] }), ['mine-c']);
      assert.deepEqual(await ids({ Owners: [] }), []);
      const [entry] = (await client.request('Enumerate', { a: JSON.stringify({ Ids: ['mine-c'] }) })).json as Props[];
      assert.deepEqual(Object.keys(entry ?? {}).sort(), ['Id', 'Name', 'Owner', 'RuntimeId', 'RuntimeOsType', 'State', 'Stopped', 'SystemType']);
      assert.equal(entry?.Name, 'mine-c');
      assert.equal(entry?.RuntimeOsType, 'Windows');
      assert.equal(entry?.State, 'Running');
      assert.match(entry?.RuntimeId as string, /^[0-9a-f-]{36}$/);
      for (const bad of ['{', '[]', '{"Ids":"x"}', '{"Owners":[1]}']) {
        assert.equal((await client.request('Enumerate', { a: bad })).hresult, HR.HCS_E_INVALID_JSON, bad);
      }
    }));

  test('GetProperties: basic by default, ProcessList/Memory/Statistics/TerminateOnLastHandleClosed on request', () =>
    withService(async ({ client }) => {
      const { handle } = await client.create('vm', vmDoc({ Owner: 'o' }));
      await client.call('Start', handle);
      const { reply: p } = await client.createProcess(handle, { CommandLine: '"C:\\Windows\\System32\\cmd.exe" /c echo hi' });
      const basic = (await client.call('GetProperties', handle)).json as Props;
      assert.equal(basic.Id, 'vm');
      assert.equal(basic.SystemType, 'VirtualMachine');
      assert.equal(basic.Owner, 'o');
      assert.equal(basic.Stopped, false);
      assert.equal(basic.ProcessList, undefined);
      assert.equal(basic.ExitType, undefined, 'no ExitType while running');
      const query = JSON.stringify({ PropertyTypes: ['ProcessList', 'Memory', 'Statistics', 'TerminateOnLastHandleClosed', 'Unknown'] });
      const full = (await client.call('GetProperties', handle, query)).json as Props;
      assert.deepEqual((full.ProcessList as Props[]).map((x) => [x.ProcessId, x.ImageName]), [[p.processId, 'cmd.exe']]);
      // Exactly [SCHEMA] ProcessDetails: no CommandLine (audit D5).
      assert.deepEqual(Object.keys((full.ProcessList as Props[])[0]!).sort(), [
        'CreateTimestamp', 'ImageName', 'KernelTime100ns', 'MemoryCommitBytes', 'MemoryWorkingSetPrivateBytes',
        'MemoryWorkingSetSharedBytes', 'ProcessId', 'UserTime100ns',
      ]);
      await client.createProcess(handle, { CommandLine: 'cmd /c ping -t localhost' });
      const two = (await client.call('GetProperties', handle, query)).json as Props;
      assert.deepEqual((two.ProcessList as Props[]).map((x) => x.ImageName), ['cmd.exe', 'cmd.exe'], '.exe appended as CreateProcess does');
      assert.equal(((full.Memory as Props).VirtualMachineMemory as Props).AssignedMemory, 1024 * 1024 * 1024);
      assert.equal(typeof (full.Statistics as Props).Uptime100ns, 'number');
      assert.equal(full.TerminateOnLastHandleClosed, false);
      assert.equal((await client.call('GetProperties', handle, '{"PropertyTypes":"Memory"}')).hresult, HR.HCS_E_INVALID_JSON);
      assert.equal((await client.call('GetProperties', handle, 'nope')).hresult, HR.HCS_E_INVALID_JSON);
      await client.call('Terminate', handle);
      const stopped = (await client.call('GetProperties', handle, query)).json as Props;
      assert.equal(stopped.ProcessList, undefined, 'a stopped system answers only its basic properties');
      assert.equal(stopped.ExitType, 'ForcedExit');
    }));

  test('Modify: ModifySettingRequest shape is validated and recorded', () =>
    withService(async ({ client, control }) => {
      const { handle } = await client.create('m', vmDoc());
      const req = { ResourcePath: 'VirtualMachine/ComputeTopology/Memory/SizeInMB', RequestType: 'Update', Settings: 2048 };
      assert.equal((await client.call('Modify', handle, JSON.stringify(req))).hresult, HR.S_OK, 'Created systems accept Modify');
      await client.call('Start', handle);
      assert.equal((await client.call('Modify', handle, JSON.stringify({ GuestRequest: { ResourceType: 'Network' } }))).hresult, HR.S_OK);
      for (const bad of [null, 'x', '[]', '{}', '{"ResourcePath":5}', '{"ResourcePath":"a","RequestType":"Replace"}']) {
        assert.equal((await client.call('Modify', handle, bad)).hresult, HR.HCS_E_INVALID_JSON, String(bad));
      }
      const [sys] = await control.list();
      assert.deepEqual(sys?.modifications, [req, { GuestRequest: { ResourceType: 'Network' } }]);
      await client.call('Terminate', handle);
      assert.equal((await client.call('Modify', handle, JSON.stringify(req))).hresult, HR.HCS_E_SYSTEM_ALREADY_STOPPED);
    }));
});
