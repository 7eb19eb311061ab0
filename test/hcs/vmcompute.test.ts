/**
 * The vmcompute.dll binding (schema 1.0, Hyper-V isolation the Docker way) through koffi on the
 * emulator's libvmcompute.so, behind the same client port as computecore (audit D1, D2, D4).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { HcsError, type NativeHcsClient, type ProcessEvent, type SystemEvent } from '../../src/hcs/index.ts';
import { assertNoLeaks, newClient, startService, type Service } from './harness.ts';

/** The Docker-style Hyper-V container document (as src/manifest/render.ts renders it). */
function xenon(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    SystemType: 'Container', Name: id, Owner: 'hcs-binding-test', HvPartition: true, HostName: id,
    LayerFolderPath: 'C:\\sandboxes\\x', Layers: [{ ID: '8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41', Path: 'C:\\layers\\base' }],
    HvRuntime: { ImagePath: 'C:\\layers\\base\\UtilityVM' }, ...extra,
  };
}

describe('vmcompute binding (schema 1.0)', () => {
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

  it('creates through vmcompute (pending + SystemCreateCompleted), starts, pauses, runs a process, shuts down', async () => {
    const sys = await hcs.create('xenon', xenon('xenon'));
    const listed = await svc.emu.control.list();
    assert.deepEqual(listed.map((s) => [s.id, s.state]), [['xenon', 'Created']]);
    await sys.start();
    await sys.pause();
    await sys.resume();
    const props = await sys.properties({ propertyTypes: ['ProcessList'] });
    assert.equal(props.state, 'Running');
    const proc = await sys.createProcess({ CommandLine: 'cmd /c ping -t localhost' });
    assert.ok(proc.processId >= 1000);
    const exit = new Promise<ProcessEvent>((resolve) => proc.onExit(resolve));
    const stopped = new Promise<SystemEvent>((resolve) => sys.onEvent(resolve));
    await sys.shutdown();
    assert.equal((await stopped).type, 'SystemExited');
    assert.equal((await exit).processId, proc.processId);
    await sys.shutdown(); // stopped = success
    await sys.terminate();
  });

  it('the same system is visible to computecore (enumerate, open) on the one service', async () => {
    await hcs.create('xenon2', xenon('xenon2'));
    const all = await hcs.enumerate({ owners: ['hcs-binding-test'] });
    assert.deepEqual(all.map((s) => s.id), ['xenon2']);
    const opened = await hcs.open('xenon2');
    assert.equal((await opened.properties()).state, 'Created');
  });

  it('create failures come back as the completion status; duplicate id; bad documents', async () => {
    await hcs.create('dup', xenon('dup'));
    await assert.rejects(hcs.create('dup', xenon('dup')), (e: HcsError) => e.code === 'HCS_E_SYSTEM_ALREADY_EXISTS');
    await assert.rejects(hcs.create('bad', xenon('bad', { HvRuntime: {} })), (e: HcsError) => e.kind === 'invalidConfig' && /HvRuntime.ImagePath/.test(e.message));
    await assert.rejects(hcs.create('bad2', xenon('bad2', { Layers: [] })), (e: HcsError) => e.kind === 'invalidConfig');
  });

  it('computecore rejects a schema 1.0 document (only vmcompute takes it)', async () => {
    const raw = svc.native;
    assert.ok(raw.isEmulator);
    // Straight to computecore: the client routes by document, so make the v2 call by hand.
    let handle: Parameters<typeof raw.closeComputeSystemAsync>[0] | null = null;
    const runner = (hcs as unknown as { runner: { run: (c: unknown) => Promise<unknown> } }).runner;
    await assert.rejects(
      runner.run({
        op: 'create', systemId: 'v1-on-v2',
        start: (op: never) => {
          const r = raw.createComputeSystem('v1-on-v2', JSON.stringify(xenon('v1-on-v2')), op);
          handle = r.system;
          return r.hr;
        },
      }),
      (e: HcsError) => e.code === 'HCS_E_INVALID_JSON',
    );
    if (handle) await raw.closeComputeSystemAsync(handle);
  });
});
