import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, nextRetryAt, RETRY_FLOOR_MS } from '../../reconciler/backoff.ts';
import { node, type ActionNode, type ComputeSystemNode } from '../../reconciler/graph.ts';
import { NO_RUNTIME, reduceRuntime, type Outcome, type RuntimeInfo } from '../../reconciler/runtime.ts';
import { desired } from '../fakes/desired.ts';

const mainId = (d: ReturnType<typeof desired>) => d.parts.find((p) => p.role === 'main')!.id;

function stopNode(d: ReturnType<typeof desired>, reason: 'desiredStopped' | 'entrypointExited' | 'configChanged'): ComputeSystemNode & { op: 'stop' } {
  const why = reason === 'entrypointExited' ? { reason, exitCode: 1 } as const : reason === 'configChanged' ? { reason, from: 'a', to: 'b' } as const : { reason } as const;
  return node<ComputeSystemNode>({ op: 'stop', stopTimeoutMs: 1000, resource: { kind: 'computeSystem', name: d.name, hcsId: mainId(d) }, why }) as ComputeSystemNode & { op: 'stop' };
}

function fold(info: RuntimeInfo, d: ReturnType<typeof desired>, ...outcomes: Outcome[]): RuntimeInfo {
  return outcomes.reduce((acc, o) => reduceRuntime(acc, o, { desired: d }), info);
}

test('backoff rule: one function, kubelet curve, floor for failed calls, reset after a long run', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => backoffDelay(n)), [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  assert.deepEqual(nextRetryAt(0, undefined, { at: 100 }), { restarts: 1, nextRetryAt: 100 }, 'the first restart is immediate');
  assert.deepEqual(nextRetryAt(2, undefined, { at: 100, ranMs: 5_000 }), { restarts: 3, nextRetryAt: 100 + 20_000 });
  assert.deepEqual(nextRetryAt(5, undefined, { at: 100, ranMs: 700_000 }), { restarts: 1, nextRetryAt: 100 }, 'a 10 min run forgets the restarts');
  assert.deepEqual(nextRetryAt(0, undefined, { at: 100, floorMs: RETRY_FLOOR_MS }), { restarts: 1, nextRetryAt: 1100 }, 'a failed call waits at least the floor');
  assert.deepEqual(nextRetryAt(3, { initialMs: 1000, maxMs: 3000, resetAfterMs: 10 }, { at: 0 }), { restarts: 4, nextRetryAt: 3000 }, 'the manifest policy caps');
});

test('reducer: an unexpected exit of a live run counts once and opens the backoff window', () => {
  const web = desired('web');
  const id = mainId(web);
  const running = fold(NO_RUNTIME, web, { type: 'created', id, main: true, at: 0 }, { type: 'started', id, at: 0 });
  const once = fold(running, web, { type: 'exited', id, exit: { exitType: 'UnexpectedExit' }, at: 5_000 });
  assert.equal(once.restarts, 1);
  assert.equal(once.nextRetryAt, 5_000);
  const twice = fold(once, web, { type: 'exited', id, exit: { exitType: 'UnexpectedExit' }, at: 5_001 });
  assert.equal(twice.restarts, 1, 'a second report of the same run does not count');
});

test('reducer: restart policies decide between completion and restart', () => {
  const onFailure = desired('b', { restartPolicy: 'OnFailure', commandLine: 'x.exe' });
  const id = mainId(onFailure);
  const live = fold(NO_RUNTIME, onFailure, { type: 'started', id, at: 0 });
  const ok = fold(live, onFailure, { type: 'exited', id, exit: { exitCode: 0 }, at: 1 });
  assert.equal(ok.completed?.message, 'exited (exit code 0), restartPolicy OnFailure');
  assert.deepEqual(ok.entrypointExited, { hash: onFailure.configHash, exitCode: 0 });
  assert.equal(fold(live, onFailure, { type: 'exited', id, exit: { exitCode: 2 }, at: 1 }).restarts, 1);
  const never = desired('c', { restartPolicy: 'Never' });
  const neverLive = fold(NO_RUNTIME, never, { type: 'started', id: mainId(never), at: 0 });
  assert.match(fold(neverLive, never, { type: 'exited', id: mainId(never), exit: { exitType: 'UnexpectedExit' }, at: 1 }).completed!.message, /restartPolicy Never/);
});

test('reducer: exits of a deliberate stop never count, neither SystemExited nor ProcessExited', () => {
  const app = desired('app', { commandLine: 'a.exe' });
  const id = mainId(app);
  const stop = stopNode(app, 'desiredStopped');
  const live = fold({ restarts: 2 }, app, { type: 'started', id, at: 0 });
  const stopping = fold(live, app, { type: 'nodeStarted', node: stop, at: 5 });
  const after = fold(stopping, app, { type: 'exited', id, exit: { exitCode: 1 }, at: 10 }, { type: 'exited', id, exit: { exitType: 'ForcedExit' }, at: 11 });
  assert.equal(after.restarts, 2, 'not counted as a restart');
  assert.equal(after.nextRetryAt, undefined);
  const done = fold(after, app, { type: 'stopped', node: stop, how: 'shut down' });
  assert.deepEqual(done, { restarts: 0 }, 'a deliberate stop forgets the crash history: re-enabling starts fresh');
});

test('reducer: failures park (permanent), back off with the floor (transient), or count once (gone)', () => {
  const web = desired('web');
  const start = node<ComputeSystemNode>({ op: 'start', resource: { kind: 'computeSystem', name: 'web', hcsId: mainId(web) }, why: { reason: 'created' } }) as ActionNode;
  const failed = (failure: 'permanent' | 'gone' | 'transient') => fold(NO_RUNTIME, web, { type: 'failed', node: start, failure, message: 'boom', at: 100 });
  assert.deepEqual(failed('permanent').failed, { hash: web.configHash, message: 'boom' });
  assert.deepEqual(failed('gone'), { restarts: 0, lastError: 'boom' });
  const transient = failed('transient');
  assert.equal(transient.restarts, 1);
  assert.equal(transient.nextRetryAt, 100 + RETRY_FLOOR_MS);
  assert.deepEqual(transient.backoffAfter, { kind: 'failure', op: 'start', message: 'boom' });
  assert.equal(fold(transient, web, { type: 'done', node: start }).lastError, undefined, 'the next success clears the error (MESSAGE)');
});

test('reducer: a create starts a new run (AGE, entrypoint state, last exit reset)', () => {
  const app = desired('app', { commandLine: 'a.exe' });
  const id = mainId(app);
  const before: RuntimeInfo = { restarts: 1, since: 5, entrypointExited: { hash: app.configHash, exitCode: 3 }, entrypointRunning: app.configHash, lastExit: { hash: app.configHash } };
  const after = fold(before, app, { type: 'created', id, main: true, at: 900 });
  assert.deepEqual(after, { restarts: 1, since: 900, awaitingEntrypoint: id });
  assert.deepEqual(fold(after, app, { type: 'processStarted', hash: app.configHash, id }), { restarts: 1, since: 900, entrypointRunning: app.configHash });
});

test('reducer: a run begins when its Start is sent: an exit before the call returns counts, a failed Start began none', () => {
  const web = desired('web');
  const id = mainId(web);
  const start = node<ComputeSystemNode>({ op: 'start', resource: { kind: 'computeSystem', name: 'web', hcsId: id }, why: { reason: 'created' } }) as ActionNode;
  const starting = fold(NO_RUNTIME, web, { type: 'nodeStarted', node: start, at: 10 });
  assert.equal(fold(starting, web, { type: 'exited', id, exit: { exitType: 'UnexpectedExit' }, at: 11 }).restarts, 1);
  const failed = fold(starting, web, { type: 'failed', node: start, failure: 'transient', message: 'timeout', at: 11 });
  assert.equal(failed.live, undefined, 'no run to lose');
  const gone = fold(starting, web, { type: 'failed', node: start, failure: 'gone', message: 'stopped', at: 11 });
  assert.deepEqual(gone.live, [{ id, at: 10 }], 'its exit is still to be counted (event or missed-exit detection)');
});
