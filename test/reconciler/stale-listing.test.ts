/**
 * A listing answered before a crash and delivered after its SystemExited (HCS runs completions and
 * events on its thread pool, so they can overtake each other; the emulator's callback pool,
 * HCSEMU_CALLBACK_THREADS, does the same). The one crash must count once: the stale "Running" of the
 * listing is not adopted (that re-opened the dying system, marked the run live again and counted
 * the same crash a second time at the next relist: test/invariants/restart-cap.test.ts parked a
 * system after 10 crashes instead of 11, once in a while, with the pool).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { HandleRegistry } from '../../reconciler/handles.ts';
import { createController } from '../../reconciler/controller.ts';
import type { Clock, Logger } from '../../reconciler/ports.ts';
import { FakeHcs } from '../fakes/fake-hcs.ts';
import { desired, snapshot } from '../fakes/desired.ts';

const OWNER = 'hcs-reconciler';
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

test('a listing that predates a crash does not adopt the crashed system: the crash counts once', async () => {
  const hcs = new FakeHcs();
  hcs.keepStoppedWhileOpen = true; // as HCS: the stopped system stays openable while our handle is open
  const clock = new SimulatedClock();
  const simulated: Clock = { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h as number) };
  const controller = createController({ hcs, owner: OWNER, clock: simulated, logger: quiet, resyncMs: 0 });
  const web = desired('web', { backoff: { initialMs: 0, maxMs: 0, resetAfterMs: 600_000 } });
  const id = web.parts[0]!.id;
  const created = () => hcs.calls.filter((c) => c === `create ${id}`).length;
  try {
    controller.applySnapshot(snapshot([web]));
    await until(() => hcs.systems.get(id)?.state === 'Running', 'running');
    await controller.waitForPass((p) => p.converged);

    // A pass lists while the system still runs; its answer is held back.
    const release = hcs.staleEnumerate();
    const enumerates = hcs.calls.filter((c) => c === 'enumerate').length;
    controller.reconcile();
    await until(() => hcs.calls.filter((c) => c === 'enumerate').length > enumerates, 'enumerate in flight');
    await new Promise((r) => setImmediate(r)); // the answer is taken
    hcs.crash(id); // SystemExited reaches the controller first
    assert.equal(controller.status().systems[0]!.restarts, 1, 'the crash is counted by its event');
    const opensBefore = hcs.calls.filter((c) => c === `open ${id}`).length;
    release(); // then the listing that still says Running

    await until(() => created() === 2 && hcs.systems.get(id)?.state === 'Running', 're-created and running');
    await controller.waitForPass((p) => p.converged);
    clock.increment(1_000);
    controller.reconcile();
    await controller.waitForPass((p) => p.converged);
    assert.equal(hcs.calls.filter((c) => c === `open ${id}`).length, opensBefore, 'the stale Running was not adopted (no HcsOpenComputeSystem)');
    assert.equal(controller.status().systems[0]!.restarts, 1, 'one crash, one restart');
    const exits = controller.history.list('web').filter((e) => e.kind === 'exited');
    assert.equal(exits.length, 1, `one exit in the history: ${JSON.stringify(exits.map((e) => e.message))}`);
    assert.equal(created(), 2, 'one re-create');
  } finally {
    await controller.dispose();
  }
});

test('handles: a get() while a release of the same id is closing waits for the close, then opens', async () => {
  const hcs = new (class extends FakeHcs {
    /** Handles open when each open was sent. */
    readonly openWhileOpen: number[] = [];
    override open(id: string) {
      this.openWhileOpen.push(this.openHandles);
      return super.open(id);
    }
  })();
  const reg = new HandleRegistry(hcs, { onSystemEvent: () => {}, onProcessExit: () => {} });
  hcs.addForeign('web', 'o');
  await reg.get('web');
  const closing = reg.release('web');
  const reopened = reg.get('web');
  await Promise.all([closing, reopened]);
  assert.deepEqual(hcs.openWhileOpen, [0, 0], 'the second open was sent after the first handle closed');
  assert.equal(hcs.openHandles, 1);
  await reg.releaseAll();
  assert.equal(hcs.openHandles, 0);
});
