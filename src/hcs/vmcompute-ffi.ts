/**
 * Raw vmcompute.dll declarations: the HCS v1 compute API Docker uses to submit schema 1.0
 * documents (Hyper-V isolation the Docker way). One wrapper per export, mechanical, no policy.
 *
 * Prototypes: hcsshim internal/vmcompute/vmcompute.go (`//sys` lines): HRESULT returns, documents
 * through `PWSTR *` out-params freed with CoTaskMemFree (hcsshim interop.ConvertAndFreeCoTaskMemString),
 * ERROR_VMCOMPUTE_OPERATION_PENDING (0xC0370103) for calls that complete through the notification
 * callback `(notificationType, context, notificationStatus, notificationData)` (callback.go).
 * On Linux the emulator's libvmcompute.so exports the same ABI (src/emulator/native/vmcompute.c).
 *
 * Calls that wait for the service (everything but Create/Start/Pause/Resume/Shutdown, which only
 * submit) run on a libuv pool thread: vmcompute answers them before returning.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { onPoolCall, system32Path, type CallbackPointer } from './ffi.ts';

/** ERROR_VMCOMPUTE_OPERATION_PENDING: accepted, completes through a notification. */
export const VMCOMPUTE_PENDING = 0xc0370103 | 0;

/** hcsshim internal/hcs/callback.go notification numbers. */
export const Notification = {
  SystemExited: 0x1,
  SystemCreateCompleted: 0x2,
  SystemStartCompleted: 0x3,
  SystemPauseCompleted: 0x4,
  SystemResumeCompleted: 0x5,
  SystemShutdownFailed: 0xa,
  ProcessExited: 0x10000,
  ServiceDisconnect: 0x01000000,
} as const;

/** A vmcompute handle (system, process or callback registration). */
export type V1Handle = bigint & { readonly __v1: unique symbol };

const NOTIFICATION_CALLBACK = koffi.proto(
  'void __stdcall HCS_NOTIFICATION_CALLBACK(uint32_t notificationType, void *context, int32_t notificationStatus, const char16_t *notificationData)',
);

const PROTOTYPES = {
  HcsEnumerateComputeSystems: 'int32_t __stdcall HcsEnumerateComputeSystems(const char16_t *query, _Out_ void **computeSystems, _Out_ void **result)',
  HcsCreateComputeSystem: 'int32_t __stdcall HcsCreateComputeSystem(const char16_t *id, const char16_t *configuration, void *identity, _Out_ void **computeSystem, _Out_ void **result)',
  HcsOpenComputeSystem: 'int32_t __stdcall HcsOpenComputeSystem(const char16_t *id, _Out_ void **computeSystem, _Out_ void **result)',
  HcsCloseComputeSystem: 'int32_t __stdcall HcsCloseComputeSystem(void *computeSystem)',
  HcsStartComputeSystem: 'int32_t __stdcall HcsStartComputeSystem(void *computeSystem, const char16_t *options, _Out_ void **result)',
  HcsShutdownComputeSystem: 'int32_t __stdcall HcsShutdownComputeSystem(void *computeSystem, const char16_t *options, _Out_ void **result)',
  HcsTerminateComputeSystem: 'int32_t __stdcall HcsTerminateComputeSystem(void *computeSystem, const char16_t *options, _Out_ void **result)',
  HcsPauseComputeSystem: 'int32_t __stdcall HcsPauseComputeSystem(void *computeSystem, const char16_t *options, _Out_ void **result)',
  HcsResumeComputeSystem: 'int32_t __stdcall HcsResumeComputeSystem(void *computeSystem, const char16_t *options, _Out_ void **result)',
  HcsGetComputeSystemProperties: 'int32_t __stdcall HcsGetComputeSystemProperties(void *computeSystem, const char16_t *propertyQuery, _Out_ void **properties, _Out_ void **result)',
  HcsModifyComputeSystem: 'int32_t __stdcall HcsModifyComputeSystem(void *computeSystem, const char16_t *configuration, _Out_ void **result)',
  HcsRegisterComputeSystemCallback: 'int32_t __stdcall HcsRegisterComputeSystemCallback(void *computeSystem, HCS_NOTIFICATION_CALLBACK *callback, void *context, _Out_ void **callbackHandle)',
  HcsUnregisterComputeSystemCallback: 'int32_t __stdcall HcsUnregisterComputeSystemCallback(void *callbackHandle)',
  HcsCreateProcess: 'int32_t __stdcall HcsCreateProcess(void *computeSystem, const char16_t *processParameters, _Out_ HCS_PROCESS_INFORMATION *processInformation, _Out_ void **process, _Out_ void **result)',
  HcsOpenProcess: 'int32_t __stdcall HcsOpenProcess(void *computeSystem, uint32_t pid, _Out_ void **process, _Out_ void **result)',
  HcsCloseProcess: 'int32_t __stdcall HcsCloseProcess(void *process)',
  HcsTerminateProcess: 'int32_t __stdcall HcsTerminateProcess(void *process, _Out_ void **result)',
  HcsSignalProcess: 'int32_t __stdcall HcsSignalProcess(void *process, const char16_t *options, _Out_ void **result)',
  HcsGetProcessInfo: 'int32_t __stdcall HcsGetProcessInfo(void *process, _Out_ HCS_PROCESS_INFORMATION *processInformation, _Out_ void **result)',
  HcsGetProcessProperties: 'int32_t __stdcall HcsGetProcessProperties(void *process, _Out_ void **processProperties, _Out_ void **result)',
  HcsModifyProcess: 'int32_t __stdcall HcsModifyProcess(void *process, const char16_t *settings, _Out_ void **result)',
  HcsRegisterProcessCallback: 'int32_t __stdcall HcsRegisterProcessCallback(void *process, HCS_NOTIFICATION_CALLBACK *callback, void *context, _Out_ void **callbackHandle)',
  HcsUnregisterProcessCallback: 'int32_t __stdcall HcsUnregisterProcessCallback(void *callbackHandle)',
} as const;

type NativeFn = ReturnType<LibraryHandle['func']>;
type Out = [bigint | null];

/** A call's HRESULT plus the documents it handed back. */
export interface V1Result {
  hr: number;
  /** The success document (properties, computeSystems), if the call has one. */
  value: string | null;
  /** The error document (`result` out-param). */
  result: string | null;
}

/** vmcompute.dll (or the emulator's libvmcompute.so) with one wrapper per export. */
export class VmcomputeNative {
  readonly libraryPath: string;
  private readonly f: Record<keyof typeof PROTOTYPES, NativeFn>;
  private readonly coTaskMemFree: NativeFn;

  constructor(libraryPath?: string) {
    this.libraryPath = libraryPath ?? system32Path('vmcompute.dll');
    const lib = koffi.load(this.libraryPath);
    this.f = Object.fromEntries(Object.entries(PROTOTYPES).map(([k, p]) => [k, lib.func(p)])) as typeof this.f;
    const freeLib = process.platform === 'win32' ? koffi.load(system32Path('ole32.dll')) : lib;
    this.coTaskMemFree = freeLib.func('void __stdcall CoTaskMemFree(void *mem)');
  }

  /** Registers the JS notification callback (koffi relays foreign-thread calls to the JS thread). */
  registerCallback(fn: (type: number, context: bigint, status: number, data: string | null) => void): CallbackPointer {
    const cb = (type: number, ctx: bigint | null, status: number, data: string | null): void => fn(type, ctx ?? 0n, status, data);
    return koffi.register(cb, koffi.pointer(NOTIFICATION_CALLBACK)) as CallbackPointer;
  }

  unregisterCallback(cb: CallbackPointer): void {
    koffi.unregister(cb);
  }

  /** The one place vmcompute strings are decoded and freed (CoTaskMemFree, as hcsshim). */
  private take(ptr: bigint | null): string | null {
    if (ptr === null || ptr === 0n) return null;
    try {
      return koffi.decode(ptr, 'char16_t', -1) as string;
    } finally {
      this.coTaskMemFree(ptr);
    }
  }

  private r(hr: number, value: Out | null, result: Out): V1Result {
    return { hr, value: value ? this.take(value[0]) : null, result: this.take(result[0]) };
  }

  async enumerateAsync(query: string | null): Promise<V1Result> {
    const v: Out = [null]; const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsEnumerateComputeSystems, query, v, res), v, res);
  }
  create(id: string, configuration: string): V1Result & { system: V1Handle | null } {
    const sys: Out = [null]; const res: Out = [null];
    const hr = this.f.HcsCreateComputeSystem(id, configuration, null, sys, res) as number;
    return { ...this.r(hr, null, res), system: sys[0] as V1Handle | null };
  }
  async openAsync(id: string): Promise<V1Result & { system: V1Handle | null }> {
    const sys: Out = [null]; const res: Out = [null];
    const hr = await onPoolCall<number>(this.f.HcsOpenComputeSystem, id, sys, res);
    return { ...this.r(hr, null, res), system: sys[0] as V1Handle | null };
  }
  async closeSystemAsync(system: V1Handle): Promise<number> {
    return onPoolCall<number>(this.f.HcsCloseComputeSystem, system);
  }
  start(system: V1Handle, options: string | null): V1Result {
    const res: Out = [null];
    return this.r(this.f.HcsStartComputeSystem(system, options, res) as number, null, res);
  }
  shutdown(system: V1Handle, options: string | null): V1Result {
    const res: Out = [null];
    return this.r(this.f.HcsShutdownComputeSystem(system, options, res) as number, null, res);
  }
  async terminateAsync(system: V1Handle, options: string | null): Promise<V1Result> {
    const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsTerminateComputeSystem, system, options, res), null, res);
  }
  pause(system: V1Handle, options: string | null): V1Result {
    const res: Out = [null];
    return this.r(this.f.HcsPauseComputeSystem(system, options, res) as number, null, res);
  }
  resume(system: V1Handle, options: string | null): V1Result {
    const res: Out = [null];
    return this.r(this.f.HcsResumeComputeSystem(system, options, res) as number, null, res);
  }
  async propertiesAsync(system: V1Handle, query: string | null): Promise<V1Result> {
    const v: Out = [null]; const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsGetComputeSystemProperties, system, query, v, res), v, res);
  }
  async modifyAsync(system: V1Handle, configuration: string): Promise<V1Result> {
    const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsModifyComputeSystem, system, configuration, res), null, res);
  }
  registerSystemCallback(system: V1Handle, cb: CallbackPointer, context: bigint): { hr: number; handle: V1Handle | null } {
    const out: Out = [null];
    const hr = this.f.HcsRegisterComputeSystemCallback(system, cb, context, out) as number;
    return { hr, handle: out[0] as V1Handle | null };
  }
  async unregisterSystemCallbackAsync(handle: V1Handle): Promise<number> {
    return onPoolCall<number>(this.f.HcsUnregisterComputeSystemCallback, handle);
  }
  async createProcessAsync(system: V1Handle, parameters: string): Promise<V1Result & { process: V1Handle | null; processId: number }> {
    const info: { ProcessId?: number } = {}; const p: Out = [null]; const res: Out = [null];
    const hr = await onPoolCall<number>(this.f.HcsCreateProcess, system, parameters, info, p, res);
    return { ...this.r(hr, null, res), process: p[0] as V1Handle | null, processId: info.ProcessId ?? 0 };
  }
  async openProcessAsync(system: V1Handle, pid: number): Promise<V1Result & { process: V1Handle | null }> {
    const p: Out = [null]; const res: Out = [null];
    const hr = await onPoolCall<number>(this.f.HcsOpenProcess, system, pid, p, res);
    return { ...this.r(hr, null, res), process: p[0] as V1Handle | null };
  }
  async closeProcessAsync(process: V1Handle): Promise<number> {
    return onPoolCall<number>(this.f.HcsCloseProcess, process);
  }
  async terminateProcessAsync(process: V1Handle): Promise<V1Result> {
    const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsTerminateProcess, process, res), null, res);
  }
  async signalProcessAsync(process: V1Handle, options: string | null): Promise<V1Result> {
    const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsSignalProcess, process, options, res), null, res);
  }
  async processInfoAsync(process: V1Handle): Promise<V1Result & { processId: number }> {
    const info: { ProcessId?: number } = {}; const res: Out = [null];
    const hr = await onPoolCall<number>(this.f.HcsGetProcessInfo, process, info, res);
    return { ...this.r(hr, null, res), processId: info.ProcessId ?? 0 };
  }
  async processPropertiesAsync(process: V1Handle): Promise<V1Result> {
    const v: Out = [null]; const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsGetProcessProperties, process, v, res), v, res);
  }
  async modifyProcessAsync(process: V1Handle, settings: string): Promise<V1Result> {
    const res: Out = [null];
    return this.r(await onPoolCall<number>(this.f.HcsModifyProcess, process, settings, res), null, res);
  }
  registerProcessCallback(process: V1Handle, cb: CallbackPointer, context: bigint): { hr: number; handle: V1Handle | null } {
    const out: Out = [null];
    const hr = this.f.HcsRegisterProcessCallback(process, cb, context, out) as number;
    return { hr, handle: out[0] as V1Handle | null };
  }
  async unregisterProcessCallbackAsync(handle: V1Handle): Promise<number> {
    return onPoolCall<number>(this.f.HcsUnregisterProcessCallback, handle);
  }
}
