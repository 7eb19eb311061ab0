/**
 * Functional checks of the binding against the real computecore.dll (Windows, Hyper-V enabled,
 * run elevated or as a member of "Hyper-V Administrators"). Skipped everywhere else.
 *
 * Run (PowerShell):  $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows
 *
 * Uses the documented "empty virtual machine" (MSDOCS OperationCompletionSample.md): no disk, so
 * it sits in firmware, which is enough to exercise create/start/pause/resume/terminate and events.
 * Everything it creates has Owner "hcs-reconciler-functional" and ShouldTerminateOnLastHandleClosed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  HcsError, isAlreadyExists, isInvalidState, isNotFound, openHcs, type NativeHcsClient, type SystemEvent,
} from '../../src/hcs/index.ts';

const enabled = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1';
const skip = enabled ? false : 'needs Windows with Hyper-V and HCS_FUNCTIONAL=1 (real computecore.dll)';
const OWNER = 'hcs-reconciler-functional';

function emptyVm(): Record<string, unknown> {
  return {
    SchemaVersion: { Major: 2, Minor: 1 },
    Owner: OWNER,
    ShouldTerminateOnLastHandleClosed: true,
    VirtualMachine: {
      Chipset: { Uefi: {} },
      ComputeTopology: { Memory: { Backing: 'Virtual', SizeInMB: 256 }, Processor: { Count: 1 } },
    },
  };
}

async function rejects(p: Promise<unknown>, pred: (e: unknown) => boolean, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof HcsError, `${what}: ${String(e)}`);
    assert.ok(pred(e), `${what}: ${e.message}`);
    return true;
  });
}

describe('real computecore.dll', { skip }, () => {
  let hcs: NativeHcsClient;
  before(() => {
    hcs = openHcs();
  });
  after(async () => hcs?.close());

  it('enumerates (every owner) and filters by owner', async () => {
    const all = await hcs.enumerate();
    assert.ok(Array.isArray(all));
    const ours = await hcs.enumerate({ owners: [OWNER] });
    assert.ok(ours.every((s) => s.owner === OWNER));
  });

  it('runs the VM lifecycle with events and the documented error paths', async () => {
    const id = randomUUID();
    const vm = await hcs.create(id, emptyVm(), { timeoutMs: 60_000 });
    try {
      await rejects(hcs.create(id, emptyVm()), isAlreadyExists, 'create duplicate');
      await vm.start({ timeoutMs: 60_000 });
      await rejects(vm.start(), isInvalidState, 'start twice (UNVERIFIED code)');
      assert.equal((await vm.properties()).state, 'Running');
      await vm.pause();
      assert.equal((await vm.properties()).state, 'Paused');
      await vm.resume();
      const exited = new Promise<SystemEvent>((resolve) => vm.onEvent(resolve));
      await vm.terminate({ timeoutMs: 60_000 });
      const ev = await exited;
      assert.equal(ev.type, 'SystemExited');
      assert.equal(ev.type === 'SystemExited' && ev.exitType, 'ForcedExit');
      await vm.terminate(); // already stopped: success
      await vm.shutdown();
    } finally {
      await vm.close();
    }
  });

  it('reports an unknown id as not found', async () => {
    await rejects(hcs.open(randomUUID()), isNotFound, 'open unknown');
  });
});
