/**
 * Image nodes in the plan graph (reconciler/plan-images.ts) and their execution through the core's
 * ImagePort (executor.ts ImageDriver): pull before scratch/system, one pull per reference, the
 * placeholder rendering never created, `Pulling` in status, failures with the one backoff rule.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedClock } from 'xstate';
import { createController } from '../../reconciler/controller.ts';
import { dependencyOrder, nodeJson } from '../../reconciler/graph.ts';
import { groupObserved } from '../../reconciler/observed.ts';
import { plan } from '../../reconciler/plan.ts';
import type { Clock, DesiredSystem, ImagePort, ImagePullPolicy, Logger, ObservedImage } from '../../reconciler/ports.ts';
import type { RuntimeInfo } from '../../reconciler/runtime.ts';
import { FakeHcs } from '../fakes/fake-hcs.ts';
import { desired, snapshot } from '../fakes/desired.ts';

const OWNER = 'hcs-reconciler';
const REF = 'reg.local/win/web:v1';
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** A system rendered from `REF`: `digest` undefined = the placeholder rendering of an unstored image. */
function fromImage(name: string, digest: string | undefined, o: { policy?: ImagePullPolicy; reference?: string; provision?: boolean } = {}): DesiredSystem {
  const d = desired(name, { config: digest ?? `placeholder ${o.reference ?? REF}`, commandLine: 'C:\\app\\web.exe' });
  const parts = o.provision ? d.parts.map((p) => ({ ...p, provision: { scratch: {} } })) : d.parts;
  return { ...d, parts, image: { reference: o.reference ?? REF, pullPolicy: o.policy ?? 'IfNotPresent', ...(digest ? { digest } : {}) } };
}

const noSystems = () => groupObserved([], OWNER);
const observedWith = (images: ObservedImage[]) => ({ ...noSystems(), images });

test('an unstored image: pull first, then scratch -> create -> start -> entrypoint, each after the one before', () => {
  const web = fromImage('web', undefined, { provision: true });
  const p = plan({ desired: [web], observed: { ...observedWith([{ reference: REF, present: false }]), provisioned: { scratch: [], endpoint: [], namespace: [] } } });
  const nodes = dependencyOrder(p.nodes).map(nodeJson);
  assert.deepEqual(nodes.map((n) => `${n.op} ${n.resource.kind}`), ['pull image', 'create scratch', 'create computeSystem', 'start computeSystem', 'startProcess process']);
  assert.deepEqual(nodes[0], {
    id: `pull:image:${REF}`,
    resource: { kind: 'image', name: 'web', image: REF },
    op: 'pull',
    reason: 'imageNotStored',
    cause: `image ${REF} is not in the local image store (imagePullPolicy IfNotPresent)`,
    deps: [],
  });
  assert.deepEqual(nodes[1]!.deps, [nodes[0]!.id], 'the scratch waits for the image');
  assert.deepEqual(nodes[2]!.deps, [nodes[1]!.id], 'the system waits for the scratch');
  assert.equal(p.converged, false);
});

test('one pull per reference: another name with the placeholder rendering waits for it; a stored one is left alone', () => {
  const p = plan({ desired: [fromImage('a', undefined), fromImage('b', undefined)], observed: observedWith([{ reference: REF, present: false }]) });
  assert.deepEqual(p.nodes.filter((n) => n.op === 'pull').map((n) => n.resource.name), ['a']);
  const b = p.nodes.filter((n) => n.resource.name === 'b');
  assert.deepEqual(b.map((n) => [n.op, n.reason, n.cause]), [['wait', 'waitingForImage', `waiting for image ${REF} (pulled for a)`]]);

  const stored = plan({ desired: [fromImage('web', 'sha256:aa')], observed: observedWith([{ reference: REF, present: true, digest: 'sha256:aa' }]) });
  assert.equal(stored.nodes.some((n) => n.op === 'pull'), false, 'IfNotPresent and stored: no pull');
  assert.equal(stored.nodes[0]!.op, 'create');
});

test('a stored image the manifest is not rendered from yet (pulled by `image pull` meanwhile) still gets a pull node, which re-renders', () => {
  const p = plan({ desired: [fromImage('web', undefined)], observed: observedWith([{ reference: REF, present: true, digest: 'sha256:aa' }]) });
  assert.equal(p.nodes[0]!.reason, 'imageNotRendered');
});

test('Always: resolved before every create; for a running system every alwaysResolveMs, counted from the last pull', () => {
  const web = fromImage('web', 'sha256:aa', { policy: 'Always' });
  const present = [{ reference: REF, present: true, digest: 'sha256:aa' }];
  const create = plan({ desired: [web], observed: observedWith(present) });
  assert.deepEqual(create.nodes.slice(0, 2).map((n) => `${n.op}:${n.reason}`), ['pull:alwaysPull', 'create:notFound']);

  const running = { ...groupObserved([{ id: web.parts[0]!.id, systemType: 'Container', owner: OWNER, state: 'Running' }], OWNER), images: present };
  const runtime = new Map<string, RuntimeInfo>([['web', { restarts: 0, entrypointRunning: web.configHash, imagePulled: { reference: REF, digest: 'sha256:aa', at: 1000 } }]]);
  assert.deepEqual(plan({ desired: [web], observed: running, runtime, now: 30_000, alwaysResolveMs: 60_000 }).nodes, [], 'resolved 29 s ago: nothing');
  assert.deepEqual(plan({ desired: [web], observed: running, runtime, now: 61_000, alwaysResolveMs: 60_000 }).nodes.map((n) => n.op), ['pull']);
  assert.deepEqual(plan({ desired: [web], observed: running, runtime, now: 61_000 }).nodes, [], 'without alwaysResolveMs (the plan command): only before a create');
});

test('a pull that failed backs off with the one rule, and the wait names the registry text; a permanent failure parks', () => {
  const web = fromImage('web', undefined);
  const backoff = new Map<string, RuntimeInfo>([['web', { restarts: 1, nextRetryAt: 5000, backoffAfter: { kind: 'failure', op: 'pull', message: 'manifest v1: 503 UNAVAILABLE' } }]]);
  const p = plan({ desired: [web], observed: observedWith([{ reference: REF, present: false }]), runtime: backoff, now: 4000 });
  assert.deepEqual(p.nodes.map((n) => [n.op, n.cause]), [['wait', 'pull failed: manifest v1: 503 UNAVAILABLE; retry in 1s']]);
  const failed = new Map<string, RuntimeInfo>([['web', { restarts: 0, failed: { hash: web.configHash, message: 'no image for host build 10.0.20348' } }]]);
  assert.deepEqual(plan({ desired: [web], observed: observedWith([]), runtime: failed }).nodes.map((n) => n.reason), ['failed']);
});

test('Never, parked on a missing image: re-examined once the store has the image (`image pull`), not before; a stored rendering stays parked', () => {
  const web = fromImage('web', undefined, { policy: 'Never' });
  const parked = new Map<string, RuntimeInfo>([['web', { restarts: 0, failed: { hash: web.configHash, message: `image ${REF} is not in the local image store and imagePullPolicy is Never (host build 10.0.20348.1)` } }]]);
  const missing = plan({ desired: [web], observed: observedWith([{ reference: REF, present: false }]), runtime: parked });
  assert.deepEqual(missing.nodes.map((n) => n.reason), ['failed']);
  assert.ok(missing.converged, 'parked: nothing to do');
  const stored = plan({ desired: [web], observed: observedWith([{ reference: REF, present: true, digest: 'sha256:aa' }]), runtime: parked });
  assert.deepEqual(stored.nodes.map((n) => [n.op, n.reason, n.resource.image]), [['pull', 'imageNotRendered', REF]]);
  assert.equal((stored.nodes[0] as { policy?: string }).policy, 'Never', 'the pull keeps the policy: it only finds the stored image and re-renders');
  const real = fromImage('web', 'sha256:aa', { policy: 'Never' });
  const realParked = new Map<string, RuntimeInfo>([['web', { restarts: 0, failed: { hash: real.configHash, message: 'HCS_E_INVALID_JSON' } }]]);
  assert.deepEqual(plan({ desired: [real], observed: observedWith([{ reference: REF, present: true, digest: 'sha256:aa' }]), runtime: realParked }).nodes.map((n) => n.reason), ['failed']);
});

/** An ImagePort whose pulls the test finishes: `finish` stores the image and re-renders (applies the resolved snapshot). */
class FakeImages implements ImagePort {
  stored = new Map<string, string>();
  pulls: string[] = [];
  progressNow: { doneBytes: number; totalBytes: number } | undefined;
  #pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  constructor(private readonly rerender: () => void) {}

  async observe(references: readonly string[]): Promise<ObservedImage[]> {
    return references.map((reference) => {
      const digest = this.stored.get(reference);
      return digest ? { reference, present: true, digest } : { reference, present: false };
    });
  }

  async pull(reference: string, policy: ImagePullPolicy): Promise<{ digest: string; changed: boolean }> {
    this.pulls.push(`${reference} ${policy}`);
    await new Promise<void>((resolve, reject) => this.#pending.push({ resolve, reject }));
    this.stored.set(reference, 'sha256:aa');
    this.progressNow = undefined;
    this.rerender();
    return { digest: 'sha256:aa', changed: true };
  }

  progress(): { doneBytes: number; totalBytes: number } | undefined {
    return this.progressNow;
  }

  /** Wait until a pull is in flight. */
  async pulling(): Promise<void> {
    for (let i = 0; i < 5000 && this.#pending.length === 0; i++) await new Promise((r) => setTimeout(r, 2));
    assert.ok(this.#pending.length > 0, 'a pull started');
  }
  finish(): void {
    this.#pending.shift()!.resolve();
  }
  fail(message: string, permanent: boolean): void {
    this.#pending.shift()!.reject(Object.assign(new Error(message), { permanent }));
  }
}

function setup() {
  const clock = new SimulatedClock();
  const simulated: Clock = { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) };
  const hcs = new FakeHcs();
  const placeholder = fromImage('web', undefined);
  const resolved = fromImage('web', 'sha256:aa');
  let controller: ReturnType<typeof createController> | undefined;
  const images = new FakeImages(() => controller!.applySnapshot(snapshot([resolved])));
  controller = createController({ hcs, owner: OWNER, clock: simulated, logger: quiet, resyncMs: 0, images });
  return { hcs, clock, controller, images, placeholder, resolved };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5000 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(check(), what);
}

test('controller: pulls before creating; status shows Pulling with bytes; the placeholder rendering is never created', async () => {
  const { hcs, controller, images, placeholder, resolved } = setup();
  controller.applySnapshot(snapshot([placeholder]));
  await images.pulling();
  images.progressNow = { doneBytes: 12_000_000, totalBytes: 80_000_000 };
  const row = controller.status().systems.find((s) => s.name === 'web')!;
  assert.equal(row.actual, 'Pulling');
  assert.deepEqual(row.pull, { reference: REF, doneBytes: 12_000_000, totalBytes: 80_000_000 });
  assert.equal(hcs.calls.filter((c) => c.startsWith('create ')).length, 0, 'nothing is created while the image is pulled');
  images.finish();
  await until(() => hcs.systems.get(resolved.parts[0]!.id)?.state === 'Running', 'the system rendered from the stored image runs');
  await controller.waitForPass((p) => p.converged, 10_000);
  assert.deepEqual(hcs.calls.filter((c) => c.startsWith('create ')), [`create ${resolved.parts[0]!.id}`], 'only the real rendering was created');
  assert.deepEqual(images.pulls, [`${REF} IfNotPresent`]);
  assert.ok(controller.history.list('web').some((e) => e.kind === 'pulled' && e.message === `pulled image ${REF} (sha256:aa)`));
  assert.equal(controller.status().systems[0]!.pull, undefined);
  await controller.dispose();
});

test('controller: a failed pull is reported with the registry text and retried after the backoff; a permanent one parks the manifest', async () => {
  const { hcs, clock, controller, images, placeholder } = setup();
  controller.applySnapshot(snapshot([placeholder]));
  await images.pulling();
  images.fail(`${REF}: manifest v1: 503 UNAVAILABLE: try later`, false);
  await until(() => controller.status().systems[0]?.lastError !== undefined, 'the failure is reported');
  const row = controller.status().systems[0]!;
  assert.equal(row.lastError, `${REF}: manifest v1: 503 UNAVAILABLE: try later`);
  assert.equal(row.phase, 'backoff');
  assert.equal(images.pulls.length, 1, 'not retried before the backoff ends');
  clock.increment(1000);
  await images.pulling();
  assert.equal(images.pulls.length, 2, 'retried after the window');
  images.fail(`${REF}: no image for this host (windows/amd64 10.0.20348.1); the index offers windows/amd64 10.0.17763.1`, true);
  await until(() => controller.status().systems[0]?.phase === 'failed', 'parked');
  assert.match(controller.status().systems[0]!.lastError!, /10\.0\.20348\.1.*10\.0\.17763\.1/);
  assert.equal(hcs.calls.filter((c) => c.startsWith('create ')).length, 0, 'nothing created');
  await controller.dispose();
});

test('controller: an edit to a tag whose pull fails (a tampered blob: digest error) changes nothing running', async () => {
  const { hcs, controller, images, resolved } = setup();
  images.stored.set(REF, 'sha256:aa');
  controller.applySnapshot(snapshot([resolved]));
  await until(() => hcs.systems.get(resolved.parts[0]!.id)?.state === 'Running', 'v1 runs');
  const v2 = fromImage('web', undefined, { reference: 'reg.local/win/web:v2' });
  controller.applySnapshot(snapshot([v2]));
  await images.pulling();
  images.fail('layer sha256:bb: downloaded content has digest sha256:cc', true);
  await until(() => controller.status().systems[0]?.phase === 'failed', 'the edit is parked');
  assert.equal(hcs.systems.get(resolved.parts[0]!.id)?.state, 'Running', 'v1 still runs');
  assert.equal(hcs.calls.filter((c) => c.startsWith('shutdown') || c.startsWith('terminate')).length, 0, 'nothing stopped');
  assert.match(controller.status().systems[0]!.lastError!, /digest/);
  await controller.dispose();
});

test('controller: a Stopped manifest whose image is not stored still stops its running system (no pull, nothing refused)', async () => {
  const { hcs, controller, images, resolved } = setup();
  images.stored.set(REF, 'sha256:aa');
  controller.applySnapshot(snapshot([resolved]));
  await until(() => hcs.systems.get(resolved.parts[0]!.id)?.state === 'Running', 'runs');
  images.stored.clear(); // e.g. removed from the store meanwhile: the manifest renders as a placeholder
  controller.applySnapshot(snapshot([{ ...fromImage('web', undefined), state: 'Stopped' }]));
  await until(() => hcs.live(OWNER).length === 0, 'stopped');
  assert.deepEqual(images.pulls, [], 'nothing pulled for a stop');
  await controller.dispose();
});
