/**
 * NativeHcsClient against the emulator: the lifecycle, every error path the core relies on,
 * events from foreign threads, timeouts/abort with hung calls, injected faults, disconnects,
 * and handle accounting (library and service both back to 0 after every test).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  HcsError, isAlreadyExists, isDisconnected, isInvalidConfig, isInvalidState, isNotFound, isNotSupported,
  isTimeout, type NativeHcsClient, type NativeHcsProcess, type ProcessEvent, type SystemEvent,
} from '../../src/hcs/index.ts';
import { assertNoLeaks, containerDoc, eventually, newClient, startService, vmDoc, type Service } from './harness.ts';

/** Asserts the promise rejects with an HcsError matching `pred`, and returns it. */
async function rejectsWith(p: Promise<unknown>, pred: (e: unknown) => boolean, what: string): Promise<HcsError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HcsError, `${what}: not an HcsError: ${String(err)}`);
    assert.ok(pred(err), `${what}: unexpected ${err.message}`);
    return err;
  }
  assert.fail(`${what}: resolved`);
}

describe('NativeHcsClient', () => {
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
    assert.equal(hcs.openHandles, 0);
    await svc.emu.control.reset();
    await assertNoLeaks(svc);
  });

  it('creates, starts, queries, stops; closing a handle never stops the system', async () => {
    const sys = await hcs.create('web', containerDoc());
    assert.equal((await sys.properties()).state, 'Created');
    await sys.start();
    const props = await sys.properties({ propertyTypes: ['ProcessList'] });
    assert.equal(props.state, 'Running');
    assert.deepEqual(props.processList, []);
    await sys.close();
    await sys.close(); // exactly once, idempotent
    const again = await hcs.open('web');
    assert.equal((await again.properties()).state, 'Running');
    await again.shutdown();
    const stopped = await again.properties();
    assert.equal(stopped.state, 'Stopped');
    assert.equal(stopped.exitType, 'GracefulExit');
  });

  it('maps error paths to kinds: duplicate, unknown, start twice, pause container, invalid JSON', async () => {
    const sys = await hcs.create('dup', containerDoc());
    await rejectsWith(hcs.create('dup', containerDoc()), isAlreadyExists, 'create duplicate');
    const notFound = await rejectsWith(hcs.open('nope'), isNotFound, 'open unknown');
    assert.equal(notFound.message, 'hcs open nope: HCS_E_SYSTEM_NOT_FOUND (0x8037010E)');
    await sys.start();
    const twice = await rejectsWith(sys.start(), isInvalidState, 'start twice');
    assert.match(twice.message, /^hcs start dup: HCS_E_INVALID_STATE \(0x80370105\): /);
    await rejectsWith(sys.pause(), isNotSupported, 'pause a process-isolated container');
    const bad = await rejectsWith(hcs.create('bad', { Owner: 'x' }), isInvalidConfig, 'invalid document');
    assert.ok(bad.errorMessage, 'the service message is kept');
    assert.ok(bad.message.endsWith(bad.errorMessage as string));
    assert.equal(bad.permanent, true);
  });

  it('treats shutdown/terminate of a stopped system as success, other calls on it fail', async () => {
    const sys = await hcs.create('s1', containerDoc());
    await sys.start();
    await sys.terminate();
    await sys.terminate();
    await sys.shutdown();
    await rejectsWith(sys.start(), (e) => (e as HcsError).kind === 'alreadyStopped', 'start a stopped system');
    await rejectsWith(sys.modify({ ResourcePath: 'x' }), (e) => (e as HcsError).kind === 'alreadyStopped', 'modify');
    assert.equal((await sys.properties()).stopped, true, 'a stopped system can still be queried');
  });

  it('pauses and resumes a VM', async () => {
    const vm = await hcs.create('vm1', vmDoc());
    await vm.start();
    await vm.pause();
    assert.equal((await vm.properties()).state, 'Paused');
    await rejectsWith(vm.pause(), isInvalidState, 'pause twice');
    await vm.resume();
    assert.equal((await vm.properties()).state, 'Running');
  });

  it('enumerates with Owners, Ids and Types filters', async () => {
    for (const [id, owner] of [['a1', 'us'], ['a2', 'us'], ['b1', 'them']] as const) await hcs.create(id, containerDoc(owner));
    await hcs.create('v1', vmDoc('us'));
    await svc.emu.control.createForeign({ id: 'docker1' });
    const ids = (list: { id: string }[]): string[] => list.map((s) => s.id).sort();
    assert.deepEqual(ids(await hcs.enumerate()), ['a1', 'a2', 'b1', 'docker1', 'v1']);
    assert.deepEqual(ids(await hcs.enumerate({ owners: ['us'] })), ['a1', 'a2', 'v1']);
    assert.deepEqual(ids(await hcs.enumerate({ owners: ['us'], types: ['Container'] })), ['a1', 'a2']);
    assert.deepEqual(ids(await hcs.enumerate({ ids: ['b1', 'zz'] })), ['b1']);
    const [docker] = await hcs.enumerate({ ids: ['docker1'] });
    assert.equal(docker?.owner, 'docker');
    assert.equal(docker?.state, 'Running');
    assert.equal(docker?.systemType, 'Container');
    assert.equal(typeof docker?.runtimeId, 'string');
  });

  it('runs processes: exit event with code (also for late subscribers), open, terminate, signal, info', async () => {
    const sys = await hcs.create('p1', containerDoc());
    await sys.start();
    const env = { HCSEMU_EXIT_AFTER_MS: '50', HCSEMU_EXIT_CODE: '3' };
    const quick = (await sys.createProcess({ CommandLine: 'cmd /c exit 3', Environment: env })) as NativeHcsProcess;
    assert.ok(quick.processId > 0);
    const exit = await new Promise<ProcessEvent>((resolve) => quick.onExit(resolve));
    assert.deepEqual(exit, { type: 'ProcessExited', systemId: 'p1', processId: quick.processId, exitCode: 3 });
    const late = await new Promise<ProcessEvent>((resolve) => quick.onExit(resolve));
    assert.equal(late.exitCode, 3);
    assert.deepEqual((await quick.properties()).exitCode, 3);
    await quick.terminate(); // already exited: success
    const long = (await sys.createProcess({ CommandLine: 'ping -t localhost' })) as NativeHcsProcess;
    assert.deepEqual(await long.info(), { processId: long.processId });
    const opened = await sys.openProcess(long.processId);
    assert.equal(opened.processId, long.processId);
    const seen = new Promise<ProcessEvent>((resolve) => opened.onExit(resolve));
    await long.modify({ Operation: 'CloseHandle', CloseHandle: { Handle: 'StdIn' } });
    await long.signal({ Signal: 'CtrlC' });
    assert.equal((await seen).exitCode, 0xc000013a, 'every handle of the process hears the exit');
    assert.equal((await sys.properties({ propertyTypes: ['ProcessList'] })).processList?.length, 0);
    await rejectsWith(sys.openProcess(long.processId), isNotFound, 'open an exited process');
  });

  it('delivers SystemExited with ExitType after an emulator crash, on the JS thread', async () => {
    const sys = await hcs.create('c1', containerDoc());
    await sys.start();
    const got = new Promise<SystemEvent>((resolve) => sys.onEvent(resolve));
    await svc.emu.control.crash('c1');
    const ev = await got;
    assert.equal(ev.type, 'SystemExited');
    assert.equal(ev.type === 'SystemExited' && ev.exitType, 'UnexpectedExit');
    assert.equal(ev.type === 'SystemExited' && ev.status >>> 0, 0x80370106);
  });

  it('closes a handle from inside its own event listener without deadlock', async () => {
    const sys = await hcs.create('c2', containerDoc());
    await sys.start();
    const closed = new Promise<void>((resolve) => sys.onEvent(() => void sys.close().then(resolve)));
    await svc.emu.control.crash('c2');
    await closed;
  });

  it('ServiceDisconnect after restartService: handles invalid, pending ops fail, next call reconnects', async () => {
    const sys = await hcs.create('d1', containerDoc());
    await sys.start();
    await svc.emu.control.hang({ op: 'GetProperties' });
    const pending = rejectsWith(sys.properties(), isDisconnected, 'pending op on disconnect');
    const disconnect = new Promise<SystemEvent>((resolve) => sys.onEvent(resolve));
    await eventually(async () => (await svc.emu.control.status()).faults.hung === 1, 'call to hang');
    await svc.emu.control.restartService();
    assert.deepEqual(await disconnect, { type: 'ServiceDisconnect', systemId: 'd1' });
    await pending;
    await rejectsWith(sys.start(), isDisconnected, 'call on an invalidated handle (E_HANDLE)');
    await sys.close(); // closing an invalidated handle still frees it
    const again = await hcs.open('d1'); // reconnects lazily
    assert.equal((await again.properties()).state, 'Running');
    assert.equal(svc.native.emuIsConnected(), true);
  });

  it('honours timeoutMs with a hung call and keeps the operation until its callback arrives', async () => {
    const sys = await hcs.create('t1', containerDoc());
    await svc.emu.control.hang({ op: 'Start' });
    const t0 = Date.now();
    const err = await rejectsWith(sys.start({ timeoutMs: 100 }), isTimeout, 'start timeout');
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(err.message, 'hcs start t1: HCS_E_OPERATION_TIMEOUT (0x80370118)');
    assert.equal(hcs.operationsInFlight, 1, 'the timed-out operation stays open');
    assert.equal(svc.native.emuOpenHandleCount(), 2, 'system + the still-pending operation');
    await svc.emu.control.clearFaults();
    await eventually(() => hcs.operationsInFlight === 0, 'late completion');
    assert.equal((await sys.properties()).state, 'Running', 'the hung start did run once released');
    const ac = new AbortController();
    await svc.emu.control.hang({ op: 'GetProperties' });
    const aborted = sys.properties(undefined, { signal: ac.signal });
    ac.abort();
    const abortErr = await rejectsWith(aborted, (e) => (e as HcsError).code === 'E_ABORT', 'abort');
    assert.equal(abortErr.kind, 'transient');
    await svc.emu.control.clearFaults();
  });

  it('reports injected faults with the result document and classification', async () => {
    const sys = await hcs.create('f1', containerDoc());
    await svc.emu.control.fault({
      op: 'Start', hresult: 'HCS_E_TERMINATED_DURING_START',
      resultDocument: { Error: 0x80370100 | 0, ErrorMessage: 'guest died while starting' },
    });
    const err = await rejectsWith(sys.start(), (e) => (e as HcsError).kind === 'transient', 'start fault');
    assert.equal(err.message, 'hcs start f1: HCS_E_TERMINATED_DURING_START (0x80370100): guest died while starting');
    await svc.emu.control.fault({ op: 'Enumerate', hresult: 0x80070005 });
    const denied = await rejectsWith(hcs.enumerate(), (e) => (e as HcsError).kind === 'accessDenied', 'denied');
    assert.equal(denied.permanent, false, 'E_ACCESSDENIED outside create/open is transient (hcsshim, audit D10)');
    await svc.emu.control.fault({ op: 'Open', hresult: 0x80070005 });
    const openDenied = await rejectsWith(hcs.open('f1'), (e) => (e as HcsError).kind === 'accessDenied', 'open denied');
    assert.equal(openDenied.permanent, true);
    await svc.emu.control.fault({ op: 'Create', hresult: 'HCS_E_INVALID_STATE' });
    await rejectsWith(hcs.create('f2', containerDoc()), isInvalidState, 'create fault closes the handle');
    await sys.start(); // faults are one-shot
  });

  it('client.close() closes every open handle and refuses new calls', async () => {
    const a = await hcs.create('k1', containerDoc());
    await a.start();
    await (await a.createProcess({ CommandLine: 'x' })).onExit(() => {});
    await hcs.open('k1');
    assert.equal(hcs.openHandles, 3);
    await hcs.close();
    assert.equal(hcs.openHandles, 0);
    await rejectsWith(hcs.enumerate(), isDisconnected, 'call after close');
  });
});
