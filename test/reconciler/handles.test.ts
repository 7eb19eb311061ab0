import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HandleRegistry } from '../../reconciler/handles.ts';
import type { HcsSystem, SystemEvent } from '../../reconciler/ports.ts';
import { FakeHcs } from '../fakes/fake-hcs.ts';

/** A FakeHcs whose creates complete only when the test says so (a slow HcsCreateComputeSystem). */
class GatedHcs extends FakeHcs {
  release: () => void = () => {};
  override async create(id: string, document: Record<string, unknown>): Promise<HcsSystem> {
    await new Promise<void>((r) => (this.release = r));
    return super.create(id, document);
  }
}

const listeners = (events: string[]) => ({
  onSystemEvent: (id: string, e: SystemEvent) => events.push(`${id} ${e.type}`),
  onProcessExit: () => {},
});

test('handles: a get() while the create is in flight waits for the created handle and opens no second one', async () => {
  const hcs = new GatedHcs();
  const events: string[] = [];
  const reg = new HandleRegistry(hcs, listeners(events));
  const creating = reg.create('web', { Owner: 'o', Container: {} });
  await new Promise((r) => setImmediate(r));
  assert.equal(reg.has('web'), true, 'the pending create is recorded at once');
  assert.equal(reg.size, 0, 'but it is not an open handle yet');
  const got = reg.get('web');
  hcs.release();
  const [created, fetched] = await Promise.all([creating, got]);
  assert.equal(fetched, created, 'get() returned the create\'s handle');
  assert.deepEqual(hcs.calls.filter((c) => c.startsWith('open')), [], 'no HcsOpenComputeSystem during the create');
  assert.equal(hcs.openHandles, 1);
  assert.equal(reg.size, 1);
  // Events of the created system reach the controller once (one subscription).
  await created.start();
  hcs.crash('web');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(events, ['web SystemExited']);
  await reg.releaseAll();
  assert.equal(hcs.openHandles, 0);
});

test('handles: a failed create leaves no entry, and a later get() opens normally', async () => {
  const hcs = new GatedHcs();
  const reg = new HandleRegistry(hcs, listeners([]));
  hcs.failNext('create', 'invalidConfig', { id: 'web', permanent: true });
  const creating = reg.create('web', { Owner: 'o', Container: {} });
  await new Promise((r) => setImmediate(r));
  const got = reg.get('web');
  hcs.release();
  await assert.rejects(creating);
  await assert.rejects(got, 'the waiting get() sees the create fail');
  assert.equal(reg.has('web'), false);
  hcs.addForeign('web', 'o');
  const opened = await reg.get('web');
  assert.ok(opened);
  assert.deepEqual(hcs.calls.filter((c) => c.startsWith('open')), ['open web']);
  await reg.releaseAll();
});

test('handles: a release while the create is in flight closes the created handle', async () => {
  const hcs = new GatedHcs();
  const reg = new HandleRegistry(hcs, listeners([]));
  const creating = reg.create('web', { Owner: 'o', Container: {} });
  await new Promise((r) => setImmediate(r));
  const released = reg.release('web');
  hcs.release();
  await creating;
  await released;
  assert.equal(reg.has('web'), false);
  assert.equal(hcs.openHandles, 0, 'the handle was closed, not leaked');
});
