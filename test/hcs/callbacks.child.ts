/**
 * Child process for test/hcs/teardown.test.ts. A child, because what it guards against is a V8
 * fatal error ("Cannot create a handle without a HandleScope") that kills the process: koffi
 * throws a JS error on the library's dispatcher thread when a callback reaches it either through
 * a trampoline the binding already unregistered, or while every koffi async slot is taken. The
 * parent reports the exit instead of dying with it.
 *
 * Usage: node --import tsx callbacks.child.ts late-open|saturated-pool
 * (HCS_EMULATOR_SOCKET set; the parent injects Open/OpenProcess latency). Prints one JSON summary
 * line and exits 0, or exits 1 with a message on stderr.
 *
 * late-open: each iteration a fresh client starts an HcsOpenComputeSystem (or HcsOpenProcess)
 * that the service answers late, closes the client while that Open is on its pool thread, then
 * makes the library call every callback it still holds: the process exits (ProcessExited to every
 * open process handle) and the service drops the library connection (ServiceDisconnect to every
 * system handle with a callback: the same path as the service stopping). The late Open must be
 * rejected with E_HANDLE and its handle closed by close().
 *
 * saturated-pool: 300 concurrent opens (more than koffi's 256 async slots) while the service
 * delivers SystemExited to a handle with a callback. Every open must succeed and the event arrive.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { EmulatorControl } from '../../src/emulator/control.ts';
import { emulatorLibraryPath } from '../../src/emulator/native/build.mjs';
import { HcsError, HRESULTS, loadHcsLibrary, NativeHcsClient } from '../../src/hcs/index.ts';

const socketPath = process.env.HCS_EMULATOR_SOCKET as string;
const scenario = process.argv[2];
const native = loadHcsLibrary({ libraryPath: emulatorLibraryPath() });
const control = await EmulatorControl.connect(socketPath);
const doc = { Owner: 'callbacks-test', SchemaVersion: { Major: 2, Minor: 1 }, Container: {} };

function fail(message: string): never {
  process.stderr.write(`callbacks.child ${scenario}: ${message}\n`);
  process.exit(1);
}

async function untilIdle(what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (native.emuCallbacksInFlight() !== 0) {
    if (Date.now() > deadline) fail(`callbacks never drained (${what})`);
    await delay(2);
  }
}

/**
 * The library sees the dropped connection on its reader thread, some time after the service
 * dropped it. A call sent before that goes out on the dead connection and fails with
 * RPC_S_SERVER_UNAVAILABLE (as a call across a real vmcompute restart does), which under load made
 * the next iteration's setup fail; the next call after the library noticed reconnects.
 */
async function untilDisconnected(what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (native.emuIsConnected() !== false) {
    if (Date.now() > deadline) fail(`the library never saw the service restart (${what})`);
    await delay(2);
  }
}

async function lateOpen(iterations: number): Promise<Record<string, unknown>> {
  const outcomes: Record<string, number> = {};
  for (let i = 0; i < iterations; i++) {
    // A running system with one process: what the late Opens find.
    const id = `late-${i}`;
    const setup = new NativeHcsClient(native);
    const made = await setup.create(id, doc);
    await made.start();
    const pid = (await made.createProcess({ CommandLine: 'C:\\app\\idle.exe' })).processId;
    await setup.close();

    const hcs = new NativeHcsClient(native);
    const openProcess = i % 2 === 1;
    let opening: Promise<unknown>;
    if (openProcess) {
      const sys = await hcs.open(id);
      sys.onEvent(() => {});
      opening = sys.openProcess(pid);
    } else {
      opening = hcs.open(id);
    }
    // Close while the Open is parked on its pool thread, at varying points of its latency.
    await delay(i % 4 === 0 ? 0 : 5 + (i % 7) * 3);
    await hcs.close();
    const late = await opening.then((v) => v, (e: unknown) => e);
    const open = native.emuOpenHandleCount();

    // Everything that can still call back into JS: ProcessExited, then ServiceDisconnect.
    await control.exitProcess(id, pid, 0);
    await control.restartService();
    await untilDisconnected(`iteration ${i}`);
    await untilIdle(`iteration ${i}`);

    const what = openProcess ? 'openProcess' : 'open';
    if (!(late instanceof HcsError)) fail(`${what} that finished after close() returned a handle object (${String(late)})`);
    if (late.hresult !== HRESULTS.E_HANDLE) fail(`${what} after close(): expected E_HANDLE, got ${late.message}`);
    if (open !== 0) fail(`${open} library handle(s) still open after close() (iteration ${i}, ${what})`);
    outcomes[`${what}:E_HANDLE`] = (outcomes[`${what}:E_HANDLE`] ?? 0) + 1;
  }
  return { iterations, outcomes };
}

async function saturatedPool(opens: number): Promise<Record<string, unknown>> {
  const hcs = new NativeHcsClient(native);
  const victim = await hcs.create('victim', doc);
  await victim.start();
  let exited = 0;
  victim.onEvent((e) => {
    if (e.type === 'SystemExited') exited++;
  });
  const opening = Array.from({ length: opens }, () => hcs.open('victim').then(() => 'ok', (e: unknown) => String(e)));
  await delay(30);
  await control.crash('victim'); // SystemExited, relayed by koffi while the opens hold its slots
  const results = await Promise.all(opening);
  const failed = results.filter((r) => r !== 'ok');
  if (failed.length > 0) fail(`${failed.length} of ${opens} opens failed, e.g. ${failed[0]}`);
  await untilIdle('SystemExited');
  if (exited !== 1) fail(`SystemExited delivered ${exited} times`);
  await hcs.close();
  if (native.emuOpenHandleCount() !== 0) fail(`${native.emuOpenHandleCount()} library handle(s) open after close()`);
  return { opens, ok: results.length, exited };
}

const summary =
  scenario === 'late-open' ? await lateOpen(24)
  : scenario === 'saturated-pool' ? await saturatedPool(300)
  : fail('unknown scenario');
await control.close();
process.stdout.write(`${JSON.stringify(summary)}\n`);
