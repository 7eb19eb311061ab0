/**
 * Test harness for the binding: one emulated compute service per test file (own temp socket,
 * given to the library through HCS_EMULATOR_SOCKET) and a fresh client per test, with the handle
 * accounting checks every test ends with.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startEmulator, type EmulatorProcess } from '../../src/emulator/launcher.ts';
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../../src/emulator/native/build.mjs';
import { loadHcsLibrary, NativeHcsClient, type HcsNative } from '../../src/hcs/index.ts';

/** A running service and the loaded library (one per test file / process). */
export interface Service {
  emu: EmulatorProcess;
  native: HcsNative;
  socketPath: string;
  stop(): Promise<void>;
}

let native: HcsNative | undefined;

/** The emulator library, built if needed and loaded once per process. */
export function emulatorNative(): HcsNative {
  ensureEmulatorLibrary();
  native ??= loadHcsLibrary({ libraryPath: emulatorLibraryPath() });
  return native;
}

/** Starts a private service on a temp socket and points the library at it. */
export async function startService(): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-binding-'));
  const socketPath = join(dir, 'service.sock');
  process.env.HCS_EMULATOR_SOCKET = socketPath;
  const emu = await startEmulator({ socketPath });
  return {
    emu,
    native: emulatorNative(),
    socketPath,
    stop: async () => {
      await emu.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A new client on the shared library. */
export function newClient(svc: Service): NativeHcsClient {
  return new NativeHcsClient(svc.native);
}

/** Polls `check` until it returns true (or fails after `ms`). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(10);
  }
}

/**
 * Every test ends here: the library has no open handle (operations, systems, processes), no
 * callback queued or running, and the service holds no handle for us. CloseSystem is
 * fire-and-forget on the wire, so the service count is polled briefly.
 */
export async function assertNoLeaks(svc: Service): Promise<void> {
  await eventually(() => svc.native.emuCallbacksInFlight() === 0, 'callbacks to drain');
  assert.equal(svc.native.emuOpenHandleCount(), 0, 'library handles still open');
  await eventually(async () => (await svc.emu.control.status()).handles === 0, 'service handles to reach 0');
}

/** A minimal process-isolated container document. */
export function containerDoc(owner = 'hcs-binding-test', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { Owner: owner, SchemaVersion: { Major: 2, Minor: 1 }, Container: {}, ...extra };
}

/** A minimal VM document (pausable). */
export function vmDoc(owner = 'hcs-binding-test'): Record<string, unknown> {
  return {
    Owner: owner,
    SchemaVersion: { Major: 2, Minor: 1 },
    VirtualMachine: { ComputeTopology: { Memory: { SizeInMB: 512 }, Processor: { Count: 1 } } },
  };
}
