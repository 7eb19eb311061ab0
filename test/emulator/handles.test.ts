// Handles: ephemeral stopped systems, ShouldTerminateOnLastHandleClosed (close and connection drop),
// events to every open handle, foreign systems.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HR } from '../../src/emulator/hresult.ts';
import { EventType } from '../../src/emulator/protocol.ts';
import { containerDoc, vmDoc, waitUntil, WireClient, withService } from './wire-client.ts';

// Each test runs its own service, so they can run side by side.
describe('handles and ephemeral systems', { concurrency: true }, () => {
  test('a stopped system stays visible while a handle is open and is removed on the last close', () =>
    withService(async ({ client, control }) => {
      const { handle } = await client.create('eph', containerDoc());
      const { handle: second } = await client.open('eph');
      await client.call('Start', handle);
      assert.equal((await control.list())[0]?.openHandles, 2);
      await client.call('Terminate', handle);
      const listed = await client.request('Enumerate', { a: null });
      assert.deepEqual(listed.json.map((p: { Id: string; State: string; Stopped: boolean; ExitType: string }) => [p.Id, p.State, p.Stopped, p.ExitType]),
        [['eph', 'Stopped', true, 'ForcedExit']]);
      await client.request('CloseSystem', { handle });
      assert.equal((await control.list()).length, 1, 'still one handle open');
      assert.equal((await client.call('GetProperties', second)).json.ExitType, 'ForcedExit', 'exit status still readable');
      await client.request('CloseSystem', { handle: second });
      assert.deepEqual(await control.list(), []);
      assert.equal((await client.open('eph')).reply.hresult, HR.HCS_E_SYSTEM_NOT_FOUND);
      assert.equal((await client.create('eph', containerDoc())).reply.hresult, HR.S_OK, 'the id can be reused');
    }));

  test('SystemExited goes to every open handle on every connection, not to closed ones', () =>
    withService(async ({ emu, client }) => {
      const other = await WireClient.connect(emu.socketPath);
      try {
        const { handle } = await client.create('multi', containerDoc());
        const { handle: mine2 } = await client.open('multi');
        const { handle: closedOne } = await client.open('multi');
        const { handle: theirs } = await other.open('multi');
        await client.request('CloseSystem', { handle: closedOne });
        await client.call('Start', handle);
        await other.call('ShutDown', theirs);
        for (const [c, h] of [[client, handle], [client, mine2], [other, theirs]] as const) {
          const ev = await c.waitEvent((e) => e.handle === h);
          assert.equal(ev.eventType, EventType.SystemExited);
        }
        assert.equal(client.events.filter((e) => e.handle === closedOne).length, 0);
        assert.equal(client.events.length, 2);
      } finally {
        await other.destroy();
      }
    }));

  test('ShouldTerminateOnLastHandleClosed: true terminates on last close, false keeps running', () =>
    withService(async ({ client, control }) => {
      const { handle: a } = await client.create('kill-on-close', containerDoc({ ShouldTerminateOnLastHandleClosed: true }));
      const { handle: a2 } = await client.open('kill-on-close');
      await client.call('Start', a);
      const props = await client.call('GetProperties', a, JSON.stringify({ PropertyTypes: ['TerminateOnLastHandleClosed'] }));
      assert.equal(props.json.TerminateOnLastHandleClosed, true);
      await client.request('CloseSystem', { handle: a });
      assert.equal((await client.call('GetProperties', a2)).json.State, 'Running', 'another handle is still open');
      await client.request('CloseSystem', { handle: a2 });
      assert.deepEqual(await control.list(), [], 'terminated and, being stopped with no handle, removed');

      const { handle: b } = await client.create('keeps-running', containerDoc());
      await client.call('Start', b);
      await client.request('CloseSystem', { handle: b });
      const [sys] = await control.list();
      assert.equal(sys?.state, 'Running');
      assert.equal(sys?.openHandles, 0);

      // A never-started system with the flag is removed by just closing its handle (hcsshim relies on it).
      const { handle: c } = await client.create('never-started', containerDoc({ ShouldTerminateOnLastHandleClosed: true }));
      await client.request('CloseSystem', { handle: c });
      assert.deepEqual((await control.list()).map((s) => s.id), ['keeps-running']);
    }));

  test('a dropped library connection closes its handles (client process died)', () =>
    withService(async ({ emu, control }) => {
      const dying = await WireClient.connect(emu.socketPath, { pid: 4242 });
      const watcher = await WireClient.connect(emu.socketPath);
      try {
        const { handle: t } = await dying.create('flagged', vmDoc({ ShouldTerminateOnLastHandleClosed: true }));
        await dying.call('Start', t);
        const { handle: k } = await dying.create('survivor', vmDoc());
        await dying.call('Start', k);
        const { handle: uvm } = await dying.create('uvm', vmDoc({ ShouldTerminateOnLastHandleClosed: true }));
        await dying.call('Start', uvm);
        const { handle: watched } = await watcher.open('uvm');
        assert.equal((await control.status()).connections.library, 3, "withService client + 2");
        await dying.destroy();
        await waitUntil(async () => (await control.list()).every((s) => s.id !== 'flagged'), 5000, 'flagged system terminated');
        const left = await control.list();
        assert.deepEqual(left.map((s) => [s.id, s.state]).sort(), [['survivor', 'Running'], ['uvm', 'Running']]);
        assert.equal((await control.status()).handles, 1, 'only the watcher handle is left');
        await watcher.request('CloseSystem', { handle: watched });
        await waitUntil(async () => (await control.list()).length === 1, 5000, 'uvm terminated on its last close');
      } finally {
        await watcher.destroy();
      }
    }));

  test('foreign systems: listed with their owner, openable, and a flagged one survives a stray open/close (D24)', () =>
    withService(async ({ client, control }) => {
      await control.createForeign({ id: 'docker-1', owner: 'docker', state: 'Running', shouldTerminateOnLastHandleClosed: true });
      await control.createForeign({ id: 'vmms-1', owner: 'VMMS', systemType: 'VirtualMachine', state: 'Paused' });
      await control.createForeign({ id: 'gone-1', owner: 'docker', state: 'Stopped' });
      const all = (await client.request('Enumerate', { a: '{}' })).json as Array<Record<string, unknown>>;
      assert.deepEqual(all.map((p) => [p.Id, p.Owner, p.SystemType, p.State]).sort(), [
        ['docker-1', 'docker', 'Container', 'Running'],
        ['gone-1', 'docker', 'Container', 'Stopped'],
        ['vmms-1', 'VMMS', 'VirtualMachine', 'Paused'],
      ]);
      assert.equal((await control.list()).find((s) => s.id === 'docker-1')?.openHandles, 0);
      await assert.rejects(control.createForeign({ id: 'docker-1' }), /already exists/);
      const { handle } = await client.open('docker-1');
      assert.equal((await client.call('GetProperties', handle)).json.Owner, 'docker');
      await client.request('CloseSystem', { handle });
      // A live terminate-on-close system always has its creator's handle open ([SCHEMA]
      // ShouldTerminateOnLastHandleClosed), so our open+close is never its last handle (audit D24).
      assert.equal((await control.list()).find((s) => s.id === 'docker-1')?.state, 'Running', 'creator still holds a handle');
    }));

  test('a handle closed before its Create completes counts as the last handle going away', () =>
    withService(async ({ client, control }) => {
      await control.latency({ op: 'Create', ms: 100 });
      const h = client.newHandle();
      const created = client.request('Create', { newHandle: h, a: 'quick-close', b: JSON.stringify(containerDoc({ ShouldTerminateOnLastHandleClosed: true })) });
      assert.equal((await client.request('CloseSystem', { handle: h })).hresult, HR.S_OK, 'close is answered at once');
      assert.equal((await created).hresult, HR.S_OK);
      assert.deepEqual(await control.list(), []);
    }));
});
