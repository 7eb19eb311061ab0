/**
 * The scratch ("sandbox") half of vmcompute.dll's layer exports: the sequence Docker's windowsfilter
 * driver and hcsshim use for a process-isolated container's writable layer (provisioning.md 1.3, 1.4;
 * [SHIM] internal/wclayer/*.go, [MOBY] daemon/graphdriver/windows/windows.go create/Get/Put).
 * Mechanical: one wrapper per export, each on a libuv pool thread (mounting a VHDX can take seconds),
 * errors as LayerError (`layers ActivateLayer <path>: <NAME> (0x...)`). The read-only layer exports
 * (NameToGuid, ImportLayer, DestroyLayer, ...) are in layers.ts. On Linux the symbols come from the
 * emulator's libvmcompute.so (src/emulator/native/scratch.c).
 * UNVERIFIED: the count parameter's C type (ULONG vs SIZE_T: the same register on x64), and whether
 * GetLayerMountPath's length counts the terminating NUL (the buffer is sized from it either way).
 */
import koffi, { type LibraryHandle } from 'koffi';
import { LayerError, type LayerDescriptor } from './layers.ts'; // also registers LAYERS_DRIVER_INFO and WC_LAYER_DESCRIPTOR
import { PoolGate } from './pool.ts';
import { system32Path } from './ffi.ts';

const PROTOTYPES = {
  CreateSandboxLayer: 'int32_t __stdcall CreateSandboxLayer(LAYERS_DRIVER_INFO *info, const char16_t *id, const char16_t *parent, WC_LAYER_DESCRIPTOR *layers, uint32_t count)',
  ExpandSandboxSize: 'int32_t __stdcall ExpandSandboxSize(LAYERS_DRIVER_INFO *info, const char16_t *id, uint64_t size)',
  ActivateLayer: 'int32_t __stdcall ActivateLayer(LAYERS_DRIVER_INFO *info, const char16_t *id)',
  DeactivateLayer: 'int32_t __stdcall DeactivateLayer(LAYERS_DRIVER_INFO *info, const char16_t *id)',
  PrepareLayer: 'int32_t __stdcall PrepareLayer(LAYERS_DRIVER_INFO *info, const char16_t *id, WC_LAYER_DESCRIPTOR *layers, uint32_t count)',
  UnprepareLayer: 'int32_t __stdcall UnprepareLayer(LAYERS_DRIVER_INFO *info, const char16_t *id)',
  GetLayerMountPath: 'int32_t __stdcall GetLayerMountPath(LAYERS_DRIVER_INFO *info, const char16_t *id, _Inout_ uintptr_t *length, void *buffer)',
} as const;

type NativeFn = ReturnType<LibraryHandle['func']>;
const FILTER_DRIVER = { Flavour: 1, HomeDir: '' }; // hcsshim's stdDriverInfo: id = the full folder path
const gate = new PoolGate(() => 8);

function guidStruct(s: string): { Data1: number; Data2: number; Data3: number; Data4: number[] } {
  const m = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(s);
  if (!m) throw new Error(`not a GUID: ${s}`);
  const d4 = (m[4]! + m[5]!).match(/../g)!.map((x) => parseInt(x, 16));
  return { Data1: parseInt(m[1]!, 16), Data2: parseInt(m[2]!, 16), Data3: parseInt(m[3]!, 16), Data4: d4 };
}
const descriptors = (layers: readonly LayerDescriptor[]) => layers.map((l) => ({ LayerId: guidStruct(l.id), Flags: 0, Path: l.path }));

/** The loaded scratch exports. */
export class ScratchNative {
  readonly libraryPath: string;
  private readonly f: { [K in keyof typeof PROTOTYPES]: NativeFn };

  /** @param libraryPath vmcompute.dll on Windows; else the emulator's libvmcompute.so (env HCS_VMCOMPUTE_LIBRARY). */
  constructor(libraryPath?: string) {
    const path = libraryPath ?? process.env.HCS_VMCOMPUTE_LIBRARY ?? (process.platform === 'win32' ? system32Path('vmcompute.dll') : undefined);
    if (!path) throw new Error('no vmcompute library: pass libraryPath or set HCS_VMCOMPUTE_LIBRARY (on Linux, emulatorLibraryPath("libvmcompute.so"))');
    this.libraryPath = path;
    const lib = koffi.load(path);
    this.f = Object.fromEntries(Object.entries(PROTOTYPES).map(([n, p]) => [n, lib.func(p)])) as typeof this.f;
  }

  private async call(name: keyof typeof PROTOTYPES, target: string, ...args: unknown[]): Promise<void> {
    const fn = this.f[name];
    const hr = await gate.run(() => new Promise<number>((resolve, reject) => fn.async(...args, (e: unknown, r: number) => (e ? reject(e) : resolve(r)))));
    if (hr < 0) throw new LayerError(name, target, hr);
  }

  /** CreateSandboxLayer(info, scratch, 0, layers top-most first): <scratch>\sandbox.vhdx from the base layer's template. */
  createSandboxLayer(scratch: string, layers: readonly LayerDescriptor[]): Promise<void> {
    const d = descriptors(layers);
    return this.call('CreateSandboxLayer', scratch, FILTER_DRIVER, scratch, null, d, d.length);
  }
  /** ExpandSandboxSize(info, scratch, bytes). */
  expandSandboxSize(scratch: string, bytes: bigint): Promise<void> {
    return this.call('ExpandSandboxSize', scratch, FILTER_DRIVER, scratch, bytes);
  }
  /** ActivateLayer: attaches sandbox.vhdx (a volume appears). */
  activateLayer(scratch: string): Promise<void> {
    return this.call('ActivateLayer', scratch, FILTER_DRIVER, scratch);
  }
  /** DeactivateLayer. */
  deactivateLayer(scratch: string): Promise<void> {
    return this.call('DeactivateLayer', scratch, FILTER_DRIVER, scratch);
  }
  /** PrepareLayer(info, scratch, parents top-most first): the filter over the read-only layers. */
  prepareLayer(scratch: string, layers: readonly LayerDescriptor[]): Promise<void> {
    const d = descriptors(layers);
    return this.call('PrepareLayer', scratch, FILTER_DRIVER, scratch, d, d.length);
  }
  /** UnprepareLayer. */
  unprepareLayer(scratch: string): Promise<void> {
    return this.call('UnprepareLayer', scratch, FILTER_DRIVER, scratch);
  }
  /**
   * GetLayerMountPath, two calls ([SHIM] getlayermountpath.go): the length first, then the buffer.
   * "" when there is none (hcsshim treats length 0 so; an activated scratch has `\\?\Volume{GUID}`).
   */
  async getLayerMountPath(scratch: string): Promise<string> {
    const len: [number | bigint] = [0];
    await this.call('GetLayerMountPath', scratch, FILTER_DRIVER, scratch, len, null);
    const n = Number(len[0]);
    if (n === 0) return '';
    const buf = Buffer.alloc(n * 2);
    const len2: [number | bigint] = [n];
    await this.call('GetLayerMountPath', scratch, FILTER_DRIVER, scratch, len2, buf);
    const s = buf.toString('utf16le');
    const nul = s.indexOf('\0');
    return nul === -1 ? s : s.slice(0, nul);
  }
}
