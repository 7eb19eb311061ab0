/**
 * Benchmark rig: a private emulated compute service (temp socket), the real koffi binding on the
 * emulator library, a temp manifests folder, and the same composition as `hcs-reconciler run`
 * (controller ← folder watcher with the real manifest parser), hosted in the bench process so the
 * harness can read CPU time, memory and the controller's history directly.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type EmulatorProcess } from '../../src/emulator/launcher.ts';
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../../src/emulator/native/build.mjs';
import { loadHcsLibrary, NativeHcsClient, type HcsNative } from '../../src/hcs/index.ts';
import { manifestParser } from '../../src/manifest/index.ts';
import { watchManifests, type ManifestSource } from '../../src/watch/index.ts';
import { createController, type Controller } from '../../reconciler/index.ts';
import type { Clock, Logger } from '../../reconciler/ports.ts';

/** Owner of every benchmark system. */
export const OWNER = 'hcs-bench';
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const realClock: Clock = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
let native: HcsNative | undefined;

/** A private emulator plus a scratch folder. */
export interface Rig {
  emu: EmulatorProcess;
  native: HcsNative;
  dir: string;
  socketPath: string;
  /** Epoch ms of the service's call-log zero (`at` + this = wall clock of arrival). */
  serviceEpoch(): Promise<number>;
  /** CPU seconds (user+sys) the emulator service process has used so far. */
  serviceCpuMs(): number;
  /** Remove the scratch folder (call right before exiting). */
  stop(): Promise<void>;
}

/** Start a private emulator service and a scratch folder. */
export async function startRig(): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-bench-'));
  const socketPath = join(dir, 'service.sock');
  process.env.HCS_EMULATOR_SOCKET = socketPath;
  const emu = await startEmulator({ socketPath });
  ensureEmulatorLibrary();
  native ??= loadHcsLibrary({ libraryPath: emulatorLibraryPath() });
  return {
    emu, native, dir, socketPath,
    serviceEpoch: async () => {
      const before = Date.now();
      const s = await emu.control.status();
      return (before + Date.now()) / 2 - s.uptimeMs;
    },
    serviceCpuMs: () => procCpuMs(emu.pid),
    // The service is not stopped here: it exits with this process (stdin closes). Stopping it
    // while the emulator library is still connected crashed node at exit (see PERFORMANCE.md).
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** User+system CPU time of a process in ms, from /proc/<pid>/stat (Linux). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // CLK_TCK is 100 on Linux
}

/** Resident set size of a process in bytes, from /proc/<pid>/status. */
export function procRssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Manifest YAML for a small process-isolated container (no entrypoint: create + start only). */
export function manifestYaml(name: string, memoryMB = 512): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  state: Running
  restartPolicy: Always
  stopTimeout: 5s
  container:
    layers:
      - id: aa54c278-e19b-5a7c-bbf7-91e0123aa69a
        path: 'C:\\layers\\base'
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
    memoryMB: ${memoryMB}
`;
}

/** Name of the i-th benchmark system. */
export function sysName(i: number): string {
  return `s${String(i).padStart(5, '0')}`;
}

/** Write `count` manifests (names from `from`) into `folder`; returns the folder. */
export function writeManifests(folder: string, count: number, opts: { from?: number; memoryMB?: number } = {}): string {
  mkdirSync(folder, { recursive: true });
  const from = opts.from ?? 0;
  for (let i = from; i < from + count; i++) writeFileSync(join(folder, `${sysName(i)}.yaml`), manifestYaml(sysName(i), opts.memoryMB));
  return folder;
}

/** The `run` composition: binding → controller → watcher, snapshots fed to the controller. */
export interface Stack {
  hcs: NativeHcsClient;
  controller: Controller;
  source: ManifestSource;
  /** Number of snapshots handed to the controller after the initial one. */
  snapshots(): number;
  /** ms the initial folder scan took (watcher start, real parser). */
  initialScanMs: number;
  /** performance.now() when the initial snapshot was handed to the controller. */
  appliedAt: number;
  dispose(): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  manifests: string;
  concurrency?: number;
  resyncMs?: number;
  settleMs?: number;
}

/** Start the controller and the watcher on `manifests`, like `hcs-reconciler run`. */
export async function startStack(rig: Rig, o: StackOptions): Promise<Stack> {
  const hcs = new NativeHcsClient(rig.native);
  const controller = createController({
    hcs, owner: OWNER, clock: realClock, logger: quiet, resyncMs: o.resyncMs ?? 30_000, concurrency: o.concurrency ?? 16,
  });
  const t0 = performance.now();
  const source = await watchManifests({ path: o.manifests, parser: manifestParser({ owner: OWNER }), settleMs: o.settleMs ?? 150, resyncMs: o.resyncMs ?? 30_000, logger: quiet });
  const initialScanMs = performance.now() - t0;
  let snapshots = 0;
  const sub = source.onSnapshot((s) => {
    snapshots++;
    controller.applySnapshot(s);
  });
  const appliedAt = performance.now();
  controller.applySnapshot(source.current());
  return {
    hcs, controller, source, initialScanMs, appliedAt,
    snapshots: () => snapshots,
    dispose: async () => {
      sub.dispose();
      await source.dispose();
      await controller.dispose();
      await hcs.close();
    },
  };
}

/** Resolve when a pass is converged and `check` holds (checked after every pass). */
export async function converged(controller: Controller, timeoutMs: number, check: () => boolean = () => true): Promise<void> {
  await controller.waitForPass((p) => p.converged && check(), timeoutMs);
}
