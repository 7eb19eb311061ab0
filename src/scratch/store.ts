/**
 * Scratch layers, one per compute system, Docker's and containerd's way (provisioning.md 1.3 and 8
 * step 5): CreateSandboxLayer over the image's layers (the base layer's blank.vhdx becomes
 * <scratch>\sandbox.vhdx), ExpandSandboxSize to the wanted size, ActivateLayer, PrepareLayer and
 * GetLayerMountPath → `\\?\Volume{GUID}\` for the document's Container.Storage.Path. Removal:
 * UnprepareLayer, DeactivateLayer, DestroyLayer ([MOBY] Put and Remove; [SHIM] wcowHostWCIFSLayerCloser).
 *
 * Layout: <dataRoot>/scratch/<system id>/ with `hcsr-scratch.json` written BEFORE any vmcompute call,
 * so a folder the controller made is always recognisable, even after a kill -9 in the middle of the
 * sequence. A folder without that file is never touched. Removal first renames the folder to
 * `rm-<id>-<time>` (containerd's way: "any rm-* could be removed if no active transactions"), so a
 * crash during DestroyLayer leaves an rm-* folder that the next sweep finishes.
 * "these layer closers live in the shim process so they can't cleanup the layer in case of a shim
 * crash" ([SHIM] wcow_mount.go): `sweep` finds activated leftovers and unmounts them too.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LayerDescriptor, LayerNative } from '../hcs/layers.ts';
import { LayerError } from '../hcs/layers.ts';
import type { ScratchNative } from '../hcs/scratch.ts';

/** The file that marks a scratch folder as the controller's. */
export const OWNER_FILE = 'hcsr-scratch.json';
const OWNER = 'hcs-reconciler';

/** What a scratch's owner file records. */
export interface ScratchRecord {
  owner: typeof OWNER;
  systemId: string;
  createdAt: string;
  sizeGB?: number;
  /** False for a Hyper-V container's sandbox: HCS attaches sandbox.vhdx to the utility VM itself. */
  mount?: false;
}

/** A Hyper-V container's sandbox folder, handed to HCS as LayerFolderPath (never mounted on the host). */
export interface SandboxFolder {
  systemId: string;
  dir: string;
}

/** The writable disk a sandbox folder holds ([SHIM] internal/wclayer legacy.go ContainerScratchVhd's copy; [MOBY] "sandbox.vhdx"). */
export const SANDBOX_VHDX = 'sandbox.vhdx';

/** A mounted scratch, ready for the document. */
export interface MountedScratch {
  systemId: string;
  dir: string;
  /** `\\?\Volume{GUID}\` (with the trailing backslash the v2 schema wants, [SHIM] hcsdoc_wcow.go). */
  volumePath: string;
}

const win32 = (c: number) => (0x80070000 | c) | 0;
// hcsshim retries Activate/Prepare on these (an RS5 loopback-VHD flake): ERROR_NOT_READY, ERROR_DEVICE_NOT_CONNECTED.
const RETRYABLE = new Set([win32(21), win32(1167)]);
const ATTEMPTS = 5;

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Serialises PrepareLayer process-wide: "a temporary workaround for a Windows bug" ([SHIM] preparelayer.go). */
let prepareChain: Promise<unknown> = Promise.resolve();
function serialised<T>(fn: () => Promise<T>): Promise<T> {
  const run = prepareChain.then(fn, fn);
  prepareChain = run.catch(() => {});
  return run;
}

/** The controller's scratch layers under one data root. */
export class ScratchStore {
  readonly root: string;

  constructor(dataRoot: string, private readonly native: ScratchNative, private readonly layers: Pick<LayerNative, 'destroyLayer'>) {
    this.root = join(dataRoot, 'scratch');
  }

  /** The folder of a system's scratch. */
  dirOf(systemId: string): string {
    if (!SAFE_ID.test(systemId)) throw new Error(`scratch: "${systemId}" cannot name a folder`);
    return join(this.root, systemId);
  }

  /** Reads the owner file; undefined when the folder is not ours. */
  private record(dir: string): ScratchRecord | undefined {
    try {
      const r = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as ScratchRecord;
      return r.owner === OWNER && typeof r.systemId === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Creates and mounts a scratch for `systemId` over `layers` (top-most first, base last). A leftover
   * of ours with that id is cleaned first; a foreign folder in the way is an error, never removed.
   */
  async create(systemId: string, layers: readonly LayerDescriptor[], sizeGB?: number): Promise<MountedScratch> {
    const dir = await this.makeSandbox(systemId, layers, sizeGB, true);
    await retrying(() => this.native.activateLayer(dir));
    try {
      await retrying(() => serialised(() => this.native.prepareLayer(dir, layers)));
    } catch (err) {
      await this.native.deactivateLayer(dir).catch(() => {});
      throw err;
    }
    const mount = await this.native.getLayerMountPath(dir);
    if (!/^\\\\\?\\Volume\{[0-9a-fA-F-]{36}\}$/.test(mount.replace(/\\$/, ''))) {
      throw new Error(`scratch ${systemId}: GetLayerMountPath returned "${mount}", not a volume GUID path`);
    }
    return { systemId, dir, volumePath: mount.endsWith('\\') ? mount : `${mount}\\` };
  }

  /**
   * A Hyper-V container's sandbox: CreateSandboxLayer (+ ExpandSandboxSize) and nothing more. Docker
   * does not mount the writable layer of a Hyper-V container on the host ("We do not mount if a
   * Hyper-V container", [MOBY] daemon/daemon_windows.go conditionalMountOnStart); the folder goes
   * into the schema 1.0 document's LayerFolderPath ([MOBY] libcontainerd local_windows.go
   * createWindows, which also refuses a Root.Path/VolumePath for Hyper-V) and HCS attaches its
   * sandbox.vhdx to the utility VM.
   */
  async createSandbox(systemId: string, layers: readonly LayerDescriptor[], sizeGB?: number): Promise<SandboxFolder> {
    return { systemId, dir: await this.makeSandbox(systemId, layers, sizeGB, false) };
  }

  /** The owner file, then CreateSandboxLayer and ExpandSandboxSize; a leftover of ours with that id goes first. */
  private async makeSandbox(systemId: string, layers: readonly LayerDescriptor[], sizeGB: number | undefined, mount: boolean): Promise<string> {
    if (layers.length === 0) throw new Error(`scratch ${systemId}: no layers to build on`);
    const dir = this.dirOf(systemId);
    if (existsSync(dir)) {
      if (!this.record(dir)) throw new Error(`scratch ${systemId}: ${dir} exists and was not made by hcs-reconciler; it is left alone`);
      await this.remove(systemId);
    }
    mkdirSync(dir, { recursive: true });
    const rec: ScratchRecord = { owner: OWNER, systemId, createdAt: new Date().toISOString(), ...(sizeGB ? { sizeGB } : {}), ...(mount ? {} : { mount: false as const }) };
    writeFileSync(join(dir, OWNER_FILE), JSON.stringify(rec) + '\n');
    await this.native.createSandboxLayer(dir, layers);
    if (sizeGB) await this.native.expandSandboxSize(dir, BigInt(sizeGB) * 1024n * 1024n * 1024n);
    return dir;
  }

  /** The sandbox folder of an existing Hyper-V scratch of ours (its sandbox.vhdx made), or undefined. */
  sandbox(systemId: string): SandboxFolder | undefined {
    const dir = this.dirOf(systemId);
    const rec = this.record(dir);
    return rec?.mount === false && existsSync(join(dir, SANDBOX_VHDX)) ? { systemId, dir } : undefined;
  }

  /** Usable as it is: mounted (process isolation), or a complete unmounted sandbox (Hyper-V). */
  async ready(systemId: string): Promise<boolean> {
    if (this.record(this.dirOf(systemId))?.mount === false) return this.sandbox(systemId) !== undefined;
    return (await this.mounted(systemId)) !== undefined;
  }

  /** The mounted volume of an existing scratch of ours, or undefined (not ours, missing, or not mounted). */
  async mounted(systemId: string): Promise<MountedScratch | undefined> {
    const dir = this.dirOf(systemId);
    if (!this.record(dir)) return undefined;
    const mount = await this.native.getLayerMountPath(dir);
    return mount === '' ? undefined : { systemId, dir, volumePath: mount.endsWith('\\') ? mount : `${mount}\\` };
  }

  /** Unmounts and destroys a system's scratch; a folder that is not ours (or absent) is left alone. */
  async remove(systemId: string): Promise<boolean> {
    const dir = this.dirOf(systemId);
    if (!existsSync(dir) || !this.record(dir)) return false;
    await this.unmount(dir);
    const doomed = join(this.root, `rm-${systemId}-${Date.now()}`);
    renameSync(dir, doomed);
    await this.destroy(doomed);
    return true;
  }

  /** Unprepare, then Deactivate; "not prepared"/"not activated" are fine (a crash may have stopped anywhere). */
  private async unmount(dir: string): Promise<void> {
    if ((await this.native.getLayerMountPath(dir)) === '') return;
    await this.native.unprepareLayer(dir).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
    await this.native.deactivateLayer(dir).catch((e: unknown) => { if (!isNotFound(e)) throw e; });
  }

  private async destroy(dir: string): Promise<void> {
    this.layers.destroyLayer(dir);
  }

  /** The system ids of every scratch of ours. */
  list(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root).filter((n) => !n.startsWith('rm-') && this.record(join(this.root, n)) !== undefined);
  }

  /**
   * Cleans leftovers: every scratch of ours whose system is not in `keep` (unmounted, destroyed), and
   * every rm-* folder of ours. Returns the ids removed. Run before creating anew after a crash or reboot.
   */
  async sweep(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const id of this.list()) if (!keep.has(id) && (await this.remove(id))) removed.push(id);
    await this.cleanRemoved();
    return removed;
  }

  /** Finishes removals a crash interrupted (rm-* folders of ours). */
  async cleanRemoved(): Promise<void> {
    if (existsSync(this.root)) {
      for (const n of readdirSync(this.root)) {
        const dir = join(this.root, n);
        if (n.startsWith('rm-') && this.record(dir)) {
          await this.unmount(dir).catch(() => {});
          await this.destroy(dir);
        }
      }
    }
  }
}

const isNotFound = (e: unknown) => e instanceof LayerError && (e.hresult === win32(1168) || e.hresult === win32(2) || e.hresult === win32(3));

async function retrying(fn: () => Promise<void>): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= ATTEMPTS || !(err instanceof LayerError) || !RETRYABLE.has(err.hresult)) throw err;
    }
  }
}
