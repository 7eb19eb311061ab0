// Fault injection (fail, latency, hang, shutdown ignored), concurrency and the call log.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HR } from '../../src/emulator/hresult.ts';
import { EventType } from '../../src/emulator/protocol.ts';
import { containerDoc, vmDoc, withService } from './wire-client.ts';

// Each test runs its own service, so they can run side by side.
const INTEGRATION = JSON.stringify({ Mechanism: 'IntegrationService', Type: 'Shutdown' });

describe('fault injection', { concurrency: true }, () => {
  test('fault: fails the next N calls of an op, optionally for one id, with a custom result document', () =>
    withService(async ({ client, control }) => {
      await control.fault({ op: 'create', hresult: 'HCS_E_ACCESS_DENIED', count: 2 });
      assert.equal((await client.create('a', containerDoc())).reply.hresult, 0x8037011b);
      const second = await client.create('a', containerDoc());
      assert.equal(second.reply.hresult, 0x8037011b);
      assert.equal(second.reply.json.Error, 0x8037011b | 0);
      assert.equal((await client.create('a', containerDoc())).reply.hresult, HR.S_OK, 'third call succeeds');
      const { handle: b } = await client.create('b', containerDoc());
      const { handle: a } = await client.open('a');
      await control.fault({ op: 'Start', hresult: '0x80370100', id: 'b', resultDocument: { Error: -1, ErrorMessage: 'boom' } });
      assert.equal((await client.call('Start', a)).hresult, HR.S_OK, 'other ids unaffected');
      const failed = await client.call('Start', b);
      assert.equal(failed.hresult, 0x80370100);
      assert.deepEqual(failed.json, { Error: -1, ErrorMessage: 'boom' });
      assert.equal((await client.call('GetProperties', b)).json.State, 'Created', 'a failed Start changes nothing');
      await control.fault({ op: '*', hresult: 0x80004005 });
      assert.equal((await client.request('Enumerate')).hresult, 0x80004005);
      await assert.rejects(control.fault({ op: 'Frobnicate', hresult: 1 }), /unknown op/);
      await assert.rejects(control.fault({ op: 'Start', hresult: 'HCS_E_NOPE' }), /unknown HRESULT/);
    }));

  test('latency: per op and global, applied before the operation takes effect', () =>
    withService(async ({ client, control }) => {
      // The global latency is far above the per-op one, so "GetProperties used its own 5 ms, not the
      // global 1000 ms" holds however loaded the machine is (only the lower bounds are timings).
      await control.latency({ op: '*', ms: 1000 });
      await control.latency({ op: 'GetProperties', ms: 5 });
      const { handle } = await client.create('slow', containerDoc());
      await client.call('GetProperties', handle);
      const log = await control.callLog();
      const create = log.find((c) => c.op === 'Create');
      const props = log.find((c) => c.op === 'GetProperties');
      assert.ok(create && create.durationMs >= 999, `Create took ${create?.durationMs}`);
      assert.ok(props && props.durationMs >= 4 && props.durationMs < 999, `GetProperties took ${props?.durationMs}`);
      // While a Terminate waits out its latency, the system is still running.
      await client.call('Start', handle);
      await control.latency({ op: 'Terminate', ms: 150 });
      const terminating = client.call('Terminate', handle);
      assert.equal((await client.call('GetProperties', handle)).json.State, 'Running');
      assert.equal((await terminating).hresult, HR.S_OK);
      assert.equal((await client.call('GetProperties', handle)).json.State, 'Stopped');
      assert.deepEqual((await control.status()).faults.latency, { '*': 1000, GetProperties: 5, Terminate: 150 });
      await control.latency({ op: '*', ms: 0 });
      assert.deepEqual((await control.status()).faults.latency, { GetProperties: 5, Terminate: 150 });
    }));

  test('hang: hung calls never answer until clearFaults while everything else is served', () =>
    withService(async ({ client, control }) => {
      const { handle } = await client.create('h', containerDoc());
      await control.hang({ op: 'Start', count: 2 });
      let answered = 0;
      const hung = [client.call('Start', handle), client.call('Start', handle)].map((p) => p.then((r) => { answered++; return r; }));
      const free = await client.call('GetProperties', handle);
      assert.equal(free.json.State, 'Created', 'other requests are served and the hung Start has not run');
      assert.equal((await client.request('Enumerate')).hresult, HR.S_OK);
      await Promise.all([1, 2, 3].map(() => client.create(`other-${Math.random()}`, containerDoc())));
      assert.equal((await control.status()).faults.hung, 2);
      assert.equal(answered, 0);
      await control.clearFaults();
      const results = (await Promise.all(hung)).map((r) => r.hresult).sort();
      assert.deepEqual(results, [HR.S_OK, HR.HCS_E_INVALID_STATE], 'released calls then run normally, in order');
      assert.equal((await control.status()).faults.hung, 0);
    }));

  test('hang + latency: clearFaults while a hung call still waits out its latency releases it', () =>
    withService(async ({ client, control }) => {
      // Chaos seed 42 sequence 18: `latency Create`, then `hang Create`; the quiesce's clearFaults
      // came during the latency and the Create hung forever, so the system was never re-created.
      await control.latency({ op: 'Create', ms: 400 });
      await control.hang({ op: 'Create', count: 1 });
      const creating = client.create('late', containerDoc());
      // Frames of one connection are taken in order, so once this Enumerate is answered the Create
      // has arrived and is waiting out its latency; it already counts as hung.
      assert.equal((await client.request('Enumerate')).hresult, HR.S_OK);
      assert.equal((await control.status()).faults.hung, 1, 'counted as hung from its arrival');
      await control.clearFaults();
      assert.equal((await creating).reply.hresult, HR.S_OK, 'the released Create runs normally');
      assert.equal((await control.status()).faults.hung, 0);
      assert.deepEqual((await control.list()).map((s) => s.id), ['late']);
    }));

  test('200 concurrent requests with latency are all answered; hung ones do not block others', () =>
    withService(async ({ client, control }) => {
      await control.latency({ op: '*', ms: 50 });
      await control.hang({ op: 'Enumerate', count: 10 });
      const hung = Array.from({ length: 10 }, () => client.request('Enumerate', {}, 10_000));
      const started = Date.now();
      const creates = await Promise.all(Array.from({ length: 200 }, (_, i) => client.create(`sys-${i}`, containerDoc())));
      assert.ok(creates.every((c) => c.reply.hresult === HR.S_OK));
      assert.ok(Date.now() - started < 3000, 'latency overlaps instead of serialising');
      const starts = await Promise.all(creates.map((c) => client.call('Start', c.handle)));
      assert.ok(starts.every((r) => r.hresult === HR.S_OK));
      assert.equal((await control.list()).filter((s) => s.state === 'Running').length, 200);
      await control.clearFaults();
      const listed = await Promise.all(hung);
      assert.ok(listed.every((r) => r.hresult === HR.S_OK && r.json.length === 200));
    }));

  test('a VM shuts down only through its shutdown integration service, asked for in the options (D7)', () =>
    withService(async ({ client, control }) => {
      const services = vmDoc({ VirtualMachine: { ...(vmDoc().VirtualMachine as object), Services: { Shutdown: {}, Heartbeat: {} } } });
      const cases: Array<[string, Record<string, unknown>, string | null, boolean]> = [
        ['svc-options', services, INTEGRATION, true],
        ['svc-null', services, null, false],
        ['nosvc-options', vmDoc(), INTEGRATION, false],
      ];
      for (const [id, doc, options, graceful] of cases) {
        const { handle } = await client.create(id, doc);
        await client.call('Start', handle);
        await control.setShutdownBehaviour(id, false, { timeoutMs: 50 });
        const r = await client.call('ShutDown', handle, options);
        if (graceful) {
          assert.equal(r.hresult, HR.S_OK, id);
          assert.equal((await client.waitEvent((e) => e.handle === handle)).data.ExitType, 'GracefulExit');
        } else {
          assert.equal(r.hresult, HR.HCS_E_OPERATION_TIMEOUT, `${id}: the guest never acts on it`);
          assert.equal((await client.call('GetProperties', handle)).json.State, 'Running', id);
        }
      }
      assert.equal((await client.call('ShutDown', (await client.create('bad-opts', services)).handle!, 'not json')).hresult, HR.HCS_E_INVALID_JSON);
    }));

  test('ShutDown ignored: pending until the system stops otherwise, or times out when configured', () =>
    withService(async ({ client, control }) => {
      const { handle } = await client.create('noguest', vmDoc());
      await client.call('Start', handle);
      await control.setShutdownBehaviour('noguest', true);
      let settled = false;
      const shutdown = client.call('ShutDown', handle).then((r) => { settled = true; return r; });
      assert.equal((await client.call('GetProperties', handle)).json.State, 'Running');
      assert.equal(settled, false);
      assert.equal((await client.call('Terminate', handle)).hresult, HR.S_OK);
      const r = await shutdown;
      assert.equal(r.hresult, HR.HCS_E_SYSTEM_ALREADY_STOPPED);
      const exits = client.events.filter((e) => e.handle === handle && e.eventType === EventType.SystemExited);
      assert.deepEqual(exits.map((e) => e.data.ExitType), ['ForcedExit']);

      const withService = vmDoc({ VirtualMachine: { ...(vmDoc().VirtualMachine as object), Services: { Shutdown: {} } } });
      const { handle: h2 } = await client.create('noguest2', withService);
      await client.call('Start', h2);
      await control.setShutdownBehaviour('noguest2', true, { timeoutMs: 50 });
      assert.equal((await client.call('ShutDown', h2, INTEGRATION)).hresult, HR.HCS_E_OPERATION_TIMEOUT);
      assert.equal((await client.call('GetProperties', h2)).json.State, 'Running');
      await control.setShutdownBehaviour('noguest2', false);
      assert.equal((await client.call('ShutDown', h2, INTEGRATION)).hresult, HR.S_OK);
      assert.equal((await client.waitEvent((e) => e.handle === h2)).data.ExitType, 'GracefulExit');
      await assert.rejects(control.setShutdownBehaviour('missing', true), /no compute system/);
    }));

  test('call log records every call in order with pid, id, hresult and duration', () =>
    withService(async ({ client, control }) => {
      const { handle } = await client.create('logged', containerDoc());
      await client.call('Start', handle);
      await client.call('Start', handle);
      await client.request('CloseSystem', { handle });
      const log = await control.callLog();
      assert.deepEqual(log.map((c) => [c.op, c.id, c.hresult]), [
        ['Create', 'logged', 0], ['Start', 'logged', 0], ['Start', 'logged', HR.HCS_E_INVALID_STATE], ['CloseSystem', 'logged', 0],
      ]);
      assert.ok(log.every((c, i) => c.clientPid === process.pid && typeof c.at === 'number' && c.durationMs >= 0 && (i === 0 || c.seq > log[i - 1]!.seq)));
      await control.clearCallLog();
      assert.deepEqual(await control.callLog(), []);
    }));
});
