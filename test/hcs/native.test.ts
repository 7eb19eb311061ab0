/**
 * The raw exports (src/hcs/ffi.ts) against the emulator library and service: operation semantics
 * (not started / pending / already started / timeout / reuse), every export's happy path, argument
 * and handle errors, no-service behaviour and the HcsEmu* inspection exports.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { HRESULTS, HcsEventType, GENERIC_ALL, type HcsNative } from '../../src/hcs/index.ts';
import type { NativeEvent, OperationHandle, SystemHandle } from '../../src/hcs/ffi.ts';
import { assertNoLeaks, containerDoc, emulatorNative, eventually, startService, type Service } from './harness.ts';

const hex = (hr: number): string => `0x${(hr >>> 0).toString(16)}`;
const eqHr = (actual: number, expected: number, what = ''): void => assert.equal(hex(actual), hex(expected), what);

/** Polls an operation (with the non-blocking Get) until it is no longer pending. */
async function settle(n: HcsNative, op: OperationHandle): Promise<{ hr: number; document: string | null }> {
  for (;;) {
    const r = n.getOperationResult(op);
    if ((r.hr >>> 0) !== HRESULTS.HCS_E_OPERATION_PENDING) return r;
    await new Promise((res) => setTimeout(res, 5));
  }
}

describe('no service', () => {
  it('returns RPC_S_SERVER_UNAVAILABLE from the call and leaves the operation not started', () => {
    const saved = process.env.HCS_EMULATOR_SOCKET;
    process.env.HCS_EMULATOR_SOCKET = '/nonexistent/hcs-emulator.sock';
    try {
      const n = emulatorNative();
      const op = n.createOperation(0n, null) as OperationHandle;
      eqHr(n.enumerateComputeSystems(null, op), HRESULTS.RPC_S_SERVER_UNAVAILABLE);
      eqHr(n.getOperationResult(op).hr, HRESULTS.HCS_E_OPERATION_NOT_STARTED);
      assert.equal(n.emuIsConnected(), false);
      n.closeOperation(op);
      assert.equal(n.emuOpenHandleCount(), 0);
    } finally {
      if (saved === undefined) delete process.env.HCS_EMULATOR_SOCKET;
      else process.env.HCS_EMULATOR_SOCKET = saved;
    }
  });
});

describe('native exports', () => {
  let svc: Service;
  let n: HcsNative;
  before(async () => {
    svc = await startService();
    n = svc.native;
  });
  after(async () => svc.stop());
  afterEach(async () => {
    await svc.emu.control.reset();
    await assertNoLeaks(svc);
  });

  it('an operation is not started, then pending, then done; reusable; context/type/system readable', async () => {
    const op = n.createOperation(77n, null) as OperationHandle;
    assert.equal(n.getOperationContext(op), 77n);
    eqHr(n.setOperationContext(op, 78n), 0);
    assert.equal(n.getOperationContext(op), 78n);
    eqHr(n.getOperationType(op), -1);
    eqHr(n.getOperationResult(op).hr, HRESULTS.HCS_E_OPERATION_NOT_STARTED);
    await svc.emu.control.latency({ op: 'Create', ms: 150 });
    const c = n.createComputeSystem('a', JSON.stringify(containerDoc()), op);
    eqHr(c.hr, 0);
    assert.notEqual(c.system, null, 'the handle is returned before the create completes');
    eqHr(n.getOperationResult(op).hr, HRESULTS.HCS_E_OPERATION_PENDING);
    eqHr(n.getOperationType(op), 1, 'HcsOperationTypeCreate');
    assert.equal(n.getComputeSystemFromOperation(op), c.system);
    eqHr(n.startComputeSystem(c.system as SystemHandle, op, null), HRESULTS.HCS_E_OPERATION_ALREADY_STARTED);
    const done = await settle(n, op);
    eqHr(done.hr, 0);
    assert.equal(done.document, null, 'a successful create has no result document');
    eqHr(n.startComputeSystem(c.system as SystemHandle, op, ''), 0, 'reused sequentially; "" options accepted');
    eqHr((await settle(n, op)).hr, 0);
    eqHr(n.getOperationType(op), 2, 'HcsOperationTypeStart');
    eqHr(n.cancelOperation(op), HRESULTS.E_NOTIMPL);
    n.closeOperation(op);
    await n.closeComputeSystemAsync(c.system as SystemHandle);
  });

  it('HcsWaitForOperationResult times out on a hung call, then returns the result once released', async () => {
    await svc.emu.control.hang({ op: 'Enumerate' });
    const op = n.createOperation(0n, null) as OperationHandle;
    eqHr(n.enumerateComputeSystems('{"Owners":["nobody"]}', op), 0);
    eqHr((await n.waitForOperationResultAsync(op, 50)).hr, HRESULTS.HCS_E_OPERATION_TIMEOUT);
    await svc.emu.control.clearFaults();
    const r = await n.waitForOperationResultAsync(op, 5000);
    eqHr(r.hr, 0);
    assert.deepEqual(JSON.parse(r.document ?? 'null'), []);
    n.closeOperation(op);
  });

  it('the completion callback fires from the library thread; the op may be closed inside it', async () => {
    const seen: Array<{ hr: number; doc: string | null; ctx: bigint }> = [];
    const cb = n.registerCompletionCallback((op, ctx) => {
      const r = n.getOperationResult(op);
      n.closeOperation(op); // allowed from within its own callback
      seen.push({ hr: r.hr, doc: r.document, ctx });
    });
    const op = n.createOperation(5n, null) as OperationHandle;
    eqHr(n.setOperationCallback(op, 9n, cb), 0);
    eqHr(n.enumerateComputeSystems(null, op), 0);
    await eventually(() => seen.length === 1, 'completion callback');
    assert.equal(seen[0]?.ctx, 9n);
    eqHr(seen[0]?.hr ?? -1, 0);
    assert.ok(Array.isArray(JSON.parse(seen[0]?.doc ?? 'null')));
    await eventually(() => n.emuCallbacksInFlight() === 0, 'callback to return');
    n.unregisterCallback(cb);
  });

  it('covers open, properties, modify, pause/resume, processes and their info/signal/modify/terminate', async () => {
    await svc.emu.control.createForeign({ id: 'vm', systemType: 'VirtualMachine', state: 'Running' });
    const opened = await n.openComputeSystemAsync('vm', GENERIC_ALL);
    eqHr(opened.hr, 0);
    const sys = opened.system as SystemHandle;
    const op = n.createOperation(0n, null) as OperationHandle;
    const step = async (hr: number): Promise<string | null> => {
      eqHr(hr, 0);
      const r = await n.waitForOperationResultAsync(op, 5000);
      eqHr(r.hr, 0, r.document ?? '');
      return r.document;
    };
    const props = JSON.parse((await step(n.getComputeSystemProperties(sys, op, '{"PropertyTypes":["ProcessList"]}'))) ?? '{}');
    assert.equal(props.Id, 'vm');
    assert.deepEqual(props.ProcessList, []);
    await step(n.modifyComputeSystem(sys, op, JSON.stringify({ ResourcePath: 'VirtualMachine/ComputeTopology/Memory/SizeInMB', RequestType: 'Update', Settings: 1024 })));
    await step(n.pauseComputeSystem(sys, op, null));
    await step(n.resumeComputeSystem(sys, op, null));
    const cp = n.createProcess(sys, JSON.stringify({ CommandLine: 'cmd.exe /c ping -t localhost' }), op);
    eqHr(cp.hr, 0);
    const created = await n.waitForOperationResultAndProcessInfoAsync(op, 5000);
    eqHr(created.hr, 0);
    assert.ok(created.processId > 0, 'process id from HCS_PROCESS_INFORMATION');
    const proc = cp.process as NonNullable<typeof cp.process>;
    await step(n.getProcessInfo(proc, op));
    assert.equal(n.getOperationResultAndProcessInfo(op).processId, created.processId);
    const status = JSON.parse((await step(n.getProcessProperties(proc, op, null))) ?? '{}');
    assert.equal(status.Exited, false);
    await step(n.modifyProcess(proc, op, JSON.stringify({ Operation: 'CloseHandle', CloseHandle: { Handle: 'StdIn' } })));
    const again = await n.openProcessAsync(sys, created.processId, GENERIC_ALL);
    eqHr(again.hr, 0);
    await step(n.signalProcess(proc, op, JSON.stringify({ Signal: 'CtrlC' })));
    eqHr(n.terminateProcess(proc, op, null), 0);
    eqHr((await n.waitForOperationResultAsync(op, 5000)).hr, HRESULTS.HCS_E_PROCESS_ALREADY_STOPPED);
    await n.closeProcessAsync(again.process as NonNullable<typeof again.process>);
    await n.closeProcessAsync(proc);
    // A VM without the shutdown integration service ignores ShutDown (audit D7): it stays pending
    // until the system stops some other way.
    const shutOp = n.createOperation(0n, null) as OperationHandle;
    eqHr(n.shutDownComputeSystem(sys, shutOp, null), 0);
    eqHr((await n.waitForOperationResultAsync(shutOp, 50)).hr, HRESULTS.HCS_E_OPERATION_TIMEOUT);
    await step(n.terminateComputeSystem(sys, op, null));
    eqHr((await n.waitForOperationResultAsync(shutOp, 5000)).hr, HRESULTS.HCS_E_SYSTEM_ALREADY_STOPPED);
    n.closeOperation(shutOp);
    eqHr(n.terminateComputeSystem(sys, op, null), 0);
    eqHr((await n.waitForOperationResultAsync(op, 5000)).hr, HRESULTS.HCS_E_SYSTEM_ALREADY_STOPPED);
    n.closeOperation(op);
    await n.closeComputeSystemAsync(sys);
  });

  it('delivers system events to the callback, from a foreign thread, until the handle is closed', async () => {
    const events: NativeEvent[] = [];
    const cb = n.registerEventCallback((ev) => events.push(ev));
    await svc.emu.control.createForeign({ id: 'c1', state: 'Running' });
    const { system } = await n.openComputeSystemAsync('c1', GENERIC_ALL);
    eqHr(n.setComputeSystemCallback(system as SystemHandle, 0, 1n, cb), 0);
    await svc.emu.control.crash('c1');
    await eventually(() => events.length === 1, 'SystemExited');
    assert.equal(events[0]?.type, HcsEventType.SystemExited);
    assert.equal(JSON.parse(events[0]?.eventData ?? '{}').ExitType, 'UnexpectedExit');
    await n.closeComputeSystemAsync(system as SystemHandle);
    n.unregisterCallback(cb);
  });

  it('rejects bad handles and arguments the way Windows does', async () => {
    const op = n.createOperation(0n, null) as OperationHandle;
    const bogus = 0xdead00n as SystemHandle;
    eqHr(n.startComputeSystem(bogus, op, null), HRESULTS.E_HANDLE);
    eqHr(n.getOperationResult(0xbad0n as OperationHandle).hr, HRESULTS.E_HANDLE);
    eqHr(n.cancelOperation(0xbad0n as OperationHandle), HRESULTS.E_HANDLE);
    eqHr(n.enumerateComputeSystems(null, 0xbad0n as OperationHandle), HRESULTS.E_HANDLE);
    const opened = await n.openComputeSystemAsync('missing', GENERIC_ALL);
    eqHr(opened.hr, HRESULTS.HCS_E_SYSTEM_NOT_FOUND);
    assert.equal(opened.system, null);
    const c = n.createComputeSystem('x', '{', op);
    eqHr(c.hr, 0, 'the call starts; the document is judged by the service');
    const r = await n.waitForOperationResultAsync(op, 5000);
    eqHr(r.hr, HRESULTS.HCS_E_INVALID_JSON);
    assert.match(JSON.parse(r.document ?? '{}').ErrorMessage, /JSON|json/);
    n.closeOperation(op);
    await n.closeComputeSystemAsync(c.system as SystemHandle);
    eqHr(n.startComputeSystem(c.system as SystemHandle, op, null), HRESULTS.E_HANDLE, 'closed handle and op');
  });
});
