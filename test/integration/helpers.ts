/**
 * Integration harness: a private emulated compute service (temp socket), the real koffi binding
 * on the emulator library, a temp manifests folder, and controllers on a SimulatedClock (HCS calls
 * are real and asynchronous; only the controller's timers are simulated).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import { startEmulator, type EmulatorProcess } from '../../src/emulator/launcher.ts';
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../../src/emulator/native/build.mjs';
import { loadHcsLibrary, NativeHcsClient, type HcsNative } from '../../src/hcs/index.ts';
import { loadManifests } from '../../src/manifest/index.ts';
import { createController, type Controller } from '../../reconciler/index.ts';
import type { Clock, Logger, ManifestSnapshot } from '../../reconciler/ports.ts';

export const OWNER = 'hcs-reconciler';
export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

let native: HcsNative | undefined;

/** One emulator + manifests folder per test. */
export interface Rig {
  emu: EmulatorProcess;
  native: HcsNative;
  socketPath: string;
  dir: string;
  manifests: string;
  write(name: string, yaml: string): string;
  remove(name: string): void;
  load(): Promise<ManifestSnapshot>;
  /** Live systems in the emulator for an owner, sorted `id:state`. */
  systems(owner?: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Start a private emulator service and a temp manifests folder. */
export async function startRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-int-'));
  const socketPath = join(dir, 'service.sock');
  const manifests = join(dir, 'manifests');
  process.env.HCS_EMULATOR_SOCKET = socketPath;
  const emu = await startEmulator({ socketPath });
  ensureEmulatorLibrary();
  native ??= loadHcsLibrary({ libraryPath: emulatorLibraryPath() });
  writeFileSync(join(dir, '.keep'), '');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(manifests);
  return {
    emu, native, socketPath, dir, manifests,
    write: (name, yaml) => {
      const file = join(manifests, `${name}.yaml`);
      writeFileSync(file, yaml);
      return file;
    },
    remove: (name) => unlinkSync(join(manifests, `${name}.yaml`)),
    load: () => loadManifests(manifests, { owner: OWNER }),
    systems: async (owner = OWNER) =>
      (await emu.control.list()).filter((s) => s.owner === owner && s.state !== 'Stopped').map((s) => `${s.id}:${s.state}`).sort(),
    stop: async () => {
      await emu.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A controller on a SimulatedClock against the rig's emulator through the real binding. */
export function startController(rig: Rig, opts: { allowEmpty?: boolean } = {}): { controller: Controller; clock: SimulatedClock; hcs: NativeHcsClient } {
  const clock = new SimulatedClock();
  const simulated: Clock = { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) };
  const hcs = new NativeHcsClient(rig.native);
  const controller = createController({ hcs, owner: OWNER, clock: simulated, logger: quiet, resyncMs: 0, ...opts });
  return { controller, clock, hcs };
}

/** Run `fn` with a fresh rig and controller; disposes the controller, its client and the rig after. */
export async function withController(fn: (ctx: { rig: Rig; controller: Controller; clock: SimulatedClock }) => Promise<void>): Promise<void> {
  const rig = await startRig();
  const { controller, clock, hcs } = startController(rig);
  try {
    await fn({ rig, controller, clock });
  } finally {
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
}

/** Wait (explicitly, with a deadline) until `check` holds; re-checks after every reconcile pass and HCS poll. */
export async function until(check: () => boolean | Promise<boolean>, what: string, controller?: Controller, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${controller ? `; status: ${JSON.stringify(controller.status().systems)}` : ''}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Manifest YAML for a small process-isolated container. */
export function containerYaml(name: string, o: { memoryMB?: number; dependsOn?: string[]; state?: string; restartPolicy?: string; commandLine?: string; extraEnv?: Record<string, string> } = {}): string {
  const env = o.extraEnv ? `\n      environment: ${JSON.stringify(o.extraEnv)}` : '';
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  state: ${o.state ?? 'Running'}
  restartPolicy: ${o.restartPolicy ?? 'Always'}
  stopTimeout: 5s${o.dependsOn ? `\n  dependsOn: [${o.dependsOn.join(', ')}]` : ''}
  container:
    layers:
      - id: aa54c278-e19b-5a7c-bbf7-91e0123aa69a
        path: 'C:\\layers\\base'
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
    memoryMB: ${o.memoryMB ?? 512}${o.commandLine ? `\n    process:\n      commandLine: '${o.commandLine}'${env}` : ''}
`;
}
