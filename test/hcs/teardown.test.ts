/**
 * No native callback may reach koffi in a state where it cannot run it.
 *
 * koffi relays a callback made on a foreign thread (the library's dispatcher thread, HCS's own
 * threads on Windows) to the JS thread. If the trampoline was already unregistered, or no async
 * slot is free, koffi throws a JS error on that foreign thread, and node aborts with
 * "Fatal error in v8::HandleScope::CreateHandle(): Cannot create a handle without a HandleScope".
 *
 * Regressions:
 *  - an HcsOpen* still on its pool thread when client.close() ran was wrapped afterwards into the
 *    closed client, subscribing the new handle to the event callbacks close() had just
 *    unregistered. Nobody closed it, so when the service went away the library delivered
 *    ServiceDisconnect (or ProcessExited) into the freed trampoline;
 *  - more than 256 concurrent pool calls (koffi's max_async_calls) took every slot, so an event
 *    arriving meanwhile could not be relayed (and the excess calls threw "Too many asynchronous
 *    calls are running").
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { HcsError, HRESULTS } from '../../src/hcs/index.ts';
import { assertNoLeaks, containerDoc, newClient, startService, type Service } from './harness.ts';

const child = fileURLToPath(new URL('./callbacks.child.ts', import.meta.url));

/** Runs one scenario of callbacks.child.ts; asserts a clean exit and returns its JSON summary. */
async function runChild(svc: Service, scenario: string): Promise<Record<string, unknown>> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, scenario], {
    env: { ...process.env, HCS_EMULATOR_SOCKET: svc.socketPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const [code, signal] = (await once(proc, 'exit')) as [number | null, NodeJS.Signals | null];
  assert.doesNotMatch(err, /Fatal error|HandleScope/, 'node aborted in a native callback');
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, `child failed:\n${err.slice(-2000)}`);
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('callbacks after close and under load', () => {
  let svc: Service;
  before(async () => {
    svc = await startService();
  });
  after(async () => svc.stop());
  afterEach(async () => {
    await svc.emu.control.reset();
    await assertNoLeaks(svc);
  });

  it('close() waits for an in-flight open, closes its handle and rejects it with E_HANDLE', async () => {
    const setup = newClient(svc);
    await setup.create('busy', containerDoc());
    await setup.close();
    await svc.emu.control.latency({ op: 'Open', ms: 100 });
    const hcs = newClient(svc);
    const opening = hcs.open('busy');
    // The Open is in flight once the service has registered its new handle (on arrival; it
    // answers only after the 100 ms latency): wait for that, not for a fixed time.
    while ((await svc.emu.control.status()).handles === 0) await new Promise((r) => setImmediate(r));
    await hcs.close();
    assert.equal(svc.native.emuOpenHandleCount(), 0, 'the late handle is closed before close() resolves');
    const err = await opening.then(() => assert.fail('a late open must not hand out a handle'), (e: unknown) => e);
    assert.ok(err instanceof HcsError && err.hresult === HRESULTS.E_HANDLE, String(err));
    assert.equal(hcs.openHandles, 0);
  });

  it('an open the caller gave up on (timeoutMs) is closed when it arrives, never wrapped', async () => {
    const setup = newClient(svc);
    await setup.create('slow', containerDoc());
    await setup.close();
    await svc.emu.control.latency({ op: 'Open', ms: 80 });
    const hcs = newClient(svc);
    const err = await hcs.open('slow', { timeoutMs: 10 }).then(() => assert.fail('resolved'), (e: unknown) => e);
    assert.ok(err instanceof HcsError && err.hresult === HRESULTS.HCS_E_OPERATION_TIMEOUT, String(err));
    await hcs.close(); // waits for the late open, which closes its handle
    assert.equal(svc.native.emuOpenHandleCount(), 0);
    assert.equal(hcs.openHandles, 0);
  });

  it('opens that finish after close() never leave a callback the library can still call (child loop)', async () => {
    await svc.emu.control.latency({ op: 'Open', ms: 40 });
    await svc.emu.control.latency({ op: 'OpenProcess', ms: 40 });
    const summary = await runChild(svc, 'late-open');
    assert.deepEqual(summary, { iterations: 24, outcomes: { 'open:E_HANDLE': 12, 'openProcess:E_HANDLE': 12 } });
  });

  it('300 concurrent opens neither fail nor starve the relay of an event (child)', async () => {
    await svc.emu.control.latency({ op: 'Open', ms: 100 });
    const summary = await runChild(svc, 'saturated-pool');
    assert.deepEqual(summary, { opens: 300, ok: 300, exited: 1 });
  });
});
