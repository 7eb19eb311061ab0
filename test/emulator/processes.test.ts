// Process lifecycle: create, list, open, terminate, scripted exits, control exitProcess, system stop.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HR } from '../../src/emulator/hresult.ts';
import { EventType } from '../../src/emulator/protocol.ts';
import { containerDoc, withService, type WireClient } from './wire-client.ts';

// Each test runs its own service, so they can run side by side.
describe('processes', { concurrency: true }, () => {
  async function runningContainer(client: WireClient, id = 'c'): Promise<bigint> {
    const { handle } = await client.create(id, containerDoc());
    await client.call('Start', handle);
    return handle;
  }

  test('CreateProcess: state checks, parameters validation, pids, ProcessStatus', () =>
    withService(async ({ client }) => {
      const { handle: created } = await client.create('not-started', containerDoc());
      assert.equal((await client.createProcess(created, { CommandLine: 'cmd' })).reply.hresult, HR.HCS_E_INVALID_STATE);
      const sys = await runningContainer(client);
      for (const bad of [{}, { CommandLine: '' }, { CommandLine: 'x', Environment: { A: 1 } }, { CommandLine: 'x', WorkingDirectory: 3 }]) {
        assert.equal((await client.createProcess(sys, bad)).reply.hresult, HR.HCS_E_INVALID_JSON, JSON.stringify(bad));
      }
      assert.equal((await client.request('CreateProcess', { handle: sys, newHandle: client.newHandle(), a: 'nope' })).hresult, HR.HCS_E_INVALID_JSON);
      const params = { CommandLine: 'ping -t localhost', WorkingDirectory: 'C:\\', Environment: { A: 'b' }, EmulateConsole: true, CreateStdInPipe: true };
      const one = await client.createProcess(sys, params);
      const two = await client.createProcess(sys, params);
      assert.equal(one.reply.hresult, HR.S_OK);
      assert.ok(one.reply.processId >= 1000);
      assert.equal(two.reply.processId, one.reply.processId + 1, 'pids increase');
      assert.deepEqual(one.reply.json, { ProcessId: one.reply.processId, Exited: false, ExitCode: 0, LastWaitResult: 0 });
      const status = await client.request('GetProcessProperties', { handle: one.handle });
      assert.deepEqual(status.json, { ProcessId: one.reply.processId, Exited: false, ExitCode: 0, LastWaitResult: 0 });
      const info = await client.request('GetProcessInfo', { handle: one.handle });
      assert.equal(info.processId, one.reply.processId);
      assert.equal((await client.request('ModifyProcess', { handle: one.handle, a: '{"Operation":"ConsoleSize","ConsoleSize":{"Height":25,"Width":80}}' })).hresult, HR.S_OK);
      assert.equal((await client.request('ModifyProcess', { handle: one.handle, a: 'x' })).hresult, HR.HCS_E_INVALID_JSON);
    }));

  test('TerminateProcess, OpenProcess and ProcessExited', () =>
    withService(async ({ client }) => {
      const sys = await runningContainer(client);
      const { handle: ph, reply } = await client.createProcess(sys, { CommandLine: 'server.exe' });
      const pid = reply.processId;
      const opened = client.newHandle();
      const o = await client.request('OpenProcess', { handle: sys, newHandle: opened, num: pid });
      assert.equal(o.hresult, HR.S_OK);
      assert.equal(o.processId, pid);
      assert.equal((await client.request('OpenProcess', { handle: sys, newHandle: client.newHandle(), num: 4 })).hresult, HR.ERROR_NOT_FOUND);
      assert.equal((await client.request('TerminateProcess', { handle: ph })).hresult, HR.S_OK);
      for (const h of [ph, opened]) {
        const ev = await client.waitEvent((e) => e.handle === h);
        assert.equal(ev.eventType, EventType.ProcessExited);
        assert.deepEqual(ev.data, { ProcessId: pid, Exited: true, ExitCode: 1, LastWaitResult: 0 });
      }
      assert.equal((await client.request('TerminateProcess', { handle: ph })).hresult, HR.HCS_E_PROCESS_ALREADY_STOPPED);
      assert.equal((await client.request('SignalProcess', { handle: ph, a: '{"Signal":"CtrlC"}' })).hresult, HR.HCS_E_PROCESS_ALREADY_STOPPED);
      assert.equal((await client.request('GetProcessProperties', { handle: ph })).json.Exited, true);
      assert.equal((await client.request('OpenProcess', { handle: sys, newHandle: client.newHandle(), num: pid })).hresult, HR.ERROR_NOT_FOUND,
        'an exited process leaves the list');
      const props = await client.call('GetProperties', sys, '{"PropertyTypes":["ProcessList"]}');
      assert.deepEqual(props.json.ProcessList, []);
      assert.equal((await client.request('CloseProcess', { handle: ph })).hresult, HR.S_OK);
      assert.equal((await client.request('GetProcessProperties', { handle: ph })).hresult, HR.E_HANDLE);
      // SignalProcess ends a running process (Ctrl-C semantics).
      const { handle: s } = await client.createProcess(sys, { CommandLine: 'x' });
      assert.equal((await client.request('SignalProcess', { handle: s, a: '{"Signal":"CtrlC"}' })).hresult, HR.S_OK);
      assert.equal((await client.waitEvent((e) => e.handle === s)).data.ExitCode, 0xc000013a);
    }));

  test('scripted exit via HCSEMU_EXIT_AFTER_MS / HCSEMU_EXIT_CODE, and control exitProcess', () =>
    withService(async ({ client, control }) => {
      const sys = await runningContainer(client);
      const { handle: scripted, reply } = await client.createProcess(sys, {
        CommandLine: 'job.exe', Environment: { HCSEMU_EXIT_AFTER_MS: '30', HCSEMU_EXIT_CODE: '7' },
      });
      const ev = await client.waitEvent((e) => e.handle === scripted);
      assert.deepEqual(ev.data, { ProcessId: reply.processId, Exited: true, ExitCode: 7, LastWaitResult: 0 });
      const { handle: zero } = await client.createProcess(sys, { CommandLine: 'ok.exe', Environment: { HCSEMU_EXIT_AFTER_MS: '0' } });
      assert.equal((await client.waitEvent((e) => e.handle === zero)).data.ExitCode, 0, 'default exit code 0');

      const { handle: manual, reply: r2 } = await client.createProcess(sys, { CommandLine: 'svc.exe' });
      await control.exitProcess('c', r2.processId, 3);
      assert.equal((await client.waitEvent((e) => e.handle === manual)).data.ExitCode, 3);
      await assert.rejects(control.exitProcess('c', r2.processId, 3), /no running process/);
      assert.equal((await client.call('GetProperties', sys)).json.State, 'Running', 'a process exit does not stop the system');
    }));

  test('processes exit when their system stops', () =>
    withService(async ({ client, control }) => {
      const sys = await runningContainer(client);
      const { handle: p1 } = await client.createProcess(sys, { CommandLine: 'a.exe' });
      const { handle: p2 } = await client.createProcess(sys, { CommandLine: 'b.exe', Environment: { HCSEMU_EXIT_AFTER_MS: '60000' } });
      await control.crash('c');
      for (const h of [p1, p2]) assert.equal((await client.waitEvent((e) => e.handle === h)).data.Exited, true);
      const exit = await client.waitEvent((e) => e.handle === sys);
      assert.equal(exit.data.ExitType, 'UnexpectedExit');
      assert.equal(exit.data.Status, HR.HCS_E_UNEXPECTED_EXIT | 0);
      assert.equal((await client.request('GetProcessProperties', { handle: p2 })).json.Exited, true);
      assert.equal((await client.createProcess(sys, { CommandLine: 'x' })).reply.hresult, HR.HCS_E_SYSTEM_ALREADY_STOPPED);
      await assert.rejects(control.crash('c'), /already stopped/);
    }));
});
