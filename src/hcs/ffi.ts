/**
 * Raw computecore.dll declarations: the ONLY module that imports koffi.
 *
 * One wrapper per native export, mechanical, no policy. The C prototype strings are identical for
 * Windows (the real computecore.dll) and Linux (the emulator's libcomputecore.so, which exports the
 * same ABI): strings are `char16_t` (UTF-16) because wchar_t is 32-bit on Linux, HRESULT is int32,
 * DWORD uint32, handles are opaque pointers (JS BigInt). `__stdcall` is ignored on x64 (koffi docs).
 *
 * Threading (see README.md): wrappers that can block on the service (Open*, Close* of systems and
 * processes, Wait*) are exposed only as `...Async` and run on a libuv pool thread; everything else
 * returns at once. Result strings are decoded and freed in exactly one place, `takeHcsString`.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { PoolGate } from './pool.ts';

declare const brand: unique symbol;
type Branded<T, B extends string> = T & { readonly [brand]: B };

/** An HCS_OPERATION handle value. */
export type OperationHandle = Branded<bigint, 'HCS_OPERATION'>;
/** An HCS_SYSTEM handle value. */
export type SystemHandle = Branded<bigint, 'HCS_SYSTEM'>;
/** An HCS_PROCESS handle value. */
export type ProcessHandle = Branded<bigint, 'HCS_PROCESS'>;
/** A function pointer made by koffi.register; valid until unregisterCallback. */
export type CallbackPointer = Branded<bigint, 'callback'>;
/** A native PWSTR the library allocated; freed by takeHcsString. */
type NativeString = Branded<bigint, 'PWSTR'>;

/** A decoded HCS_EVENT (valid only inside the event callback on the native side). */
export interface NativeEvent {
  type: number;
  eventData: string | null;
  operation: OperationHandle | null;
}

/**
 * The three stdio HANDLE values of HCS_PROCESS_INFORMATION (D16), as raw pointers; 0/null or
 * INVALID_HANDLE_VALUE mean "not requested" (hcsshim internal/hcs/v2/utils.go makeOpenFiles).
 * The caller owns them: src/hcs/stdio.ts reads, writes and closes them.
 */
export interface StdHandleValues {
  stdInput: bigint | null;
  stdOutput: bigint | null;
  stdError: bigint | null;
}

interface ProcessInformation {
  ProcessId?: number;
  StdInput?: bigint | null;
  StdOutput?: bigint | null;
  StdError?: bigint | null;
}

function stdHandlesOf(info: ProcessInformation): StdHandleValues {
  return { stdInput: info.StdInput ?? null, stdOutput: info.StdOutput ?? null, stdError: info.StdError ?? null };
}

/** GENERIC_ALL: the documented (and only) requestedAccess for HcsOpen*. */
export const GENERIC_ALL = 0x10000000;
/** HcsWaitForOperationResult timeout meaning "forever" (never use it on a pool thread). */
export const INFINITE = 0xffffffff;

/**
 * Who frees HCS result strings. The docs say LocalFree; hcsshim and WSL use CoTaskMemFree
 * (hcs-api.md §0.2, UNVERIFIED which is right). Flip this one line to switch.
 */
const FREE_FUNCTION: 'LocalFree' | 'CoTaskMemFree' = 'LocalFree';

// Named types: declaring them registers the names the prototype strings below use.
koffi.pointer('HCS_OPERATION', koffi.opaque());
koffi.pointer('HCS_SYSTEM', koffi.opaque());
koffi.pointer('HCS_PROCESS', koffi.opaque());
const HCS_EVENT = koffi.struct('HCS_EVENT', {
  Type: 'int32_t',
  EventData: 'const char16_t *',
  Operation: 'HCS_OPERATION',
});
koffi.struct('HCS_PROCESS_INFORMATION', {
  ProcessId: 'uint32_t',
  Reserved: 'uint32_t',
  StdInput: 'void *',
  StdOutput: 'void *',
  StdError: 'void *',
});
const HCS_OPERATION_COMPLETION = koffi.proto(
  'void __stdcall HCS_OPERATION_COMPLETION(HCS_OPERATION operation, void *context)',
);
const HCS_EVENT_CALLBACK = koffi.proto('void __stdcall HCS_EVENT_CALLBACK(HCS_EVENT *event, void *context)');

/** Every export, by name, as a C prototype (the same text on both platforms). */
const PROTOTYPES = {
  HcsCreateOperation: 'HCS_OPERATION __stdcall HcsCreateOperation(void *context, HCS_OPERATION_COMPLETION *callback)',
  HcsCloseOperation: 'void __stdcall HcsCloseOperation(HCS_OPERATION operation)',
  HcsGetOperationContext: 'void * __stdcall HcsGetOperationContext(HCS_OPERATION operation)',
  HcsSetOperationContext: 'int32_t __stdcall HcsSetOperationContext(HCS_OPERATION operation, void *context)',
  HcsGetOperationType: 'int32_t __stdcall HcsGetOperationType(HCS_OPERATION operation)',
  HcsGetComputeSystemFromOperation: 'HCS_SYSTEM __stdcall HcsGetComputeSystemFromOperation(HCS_OPERATION operation)',
  HcsSetOperationCallback:
    'int32_t __stdcall HcsSetOperationCallback(HCS_OPERATION operation, void *context, HCS_OPERATION_COMPLETION *callback)',
  HcsGetOperationResult: 'int32_t __stdcall HcsGetOperationResult(HCS_OPERATION operation, _Out_ void **resultDocument)',
  HcsGetOperationResultAndProcessInfo:
    'int32_t __stdcall HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation, _Out_ HCS_PROCESS_INFORMATION *processInformation, _Out_ void **resultDocument)',
  HcsWaitForOperationResult:
    'int32_t __stdcall HcsWaitForOperationResult(HCS_OPERATION operation, uint32_t timeoutMs, _Out_ void **resultDocument)',
  HcsWaitForOperationResultAndProcessInfo:
    'int32_t __stdcall HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, uint32_t timeoutMs, _Out_ HCS_PROCESS_INFORMATION *processInformation, _Out_ void **resultDocument)',
  HcsCancelOperation: 'int32_t __stdcall HcsCancelOperation(HCS_OPERATION operation)',
  HcsEnumerateComputeSystems: 'int32_t __stdcall HcsEnumerateComputeSystems(const char16_t *query, HCS_OPERATION operation)',
  HcsCreateComputeSystem:
    'int32_t __stdcall HcsCreateComputeSystem(const char16_t *id, const char16_t *configuration, HCS_OPERATION operation, void *securityDescriptor, _Out_ HCS_SYSTEM *computeSystem)',
  HcsOpenComputeSystem:
    'int32_t __stdcall HcsOpenComputeSystem(const char16_t *id, uint32_t requestedAccess, _Out_ HCS_SYSTEM *computeSystem)',
  HcsCloseComputeSystem: 'void __stdcall HcsCloseComputeSystem(HCS_SYSTEM computeSystem)',
  HcsStartComputeSystem:
    'int32_t __stdcall HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)',
  HcsShutDownComputeSystem:
    'int32_t __stdcall HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)',
  HcsTerminateComputeSystem:
    'int32_t __stdcall HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)',
  HcsPauseComputeSystem:
    'int32_t __stdcall HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)',
  HcsResumeComputeSystem:
    'int32_t __stdcall HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)',
  HcsGetComputeSystemProperties:
    'int32_t __stdcall HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *propertyQuery)',
  HcsModifyComputeSystem:
    'int32_t __stdcall HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *configuration, void *identity)',
  HcsSetComputeSystemCallback:
    'int32_t __stdcall HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, uint32_t callbackOptions, void *context, HCS_EVENT_CALLBACK *callback)',
  HcsCreateProcess:
    'int32_t __stdcall HcsCreateProcess(HCS_SYSTEM computeSystem, const char16_t *processParameters, HCS_OPERATION operation, void *securityDescriptor, _Out_ HCS_PROCESS *process)',
  HcsOpenProcess:
    'int32_t __stdcall HcsOpenProcess(HCS_SYSTEM computeSystem, uint32_t processId, uint32_t requestedAccess, _Out_ HCS_PROCESS *process)',
  HcsCloseProcess: 'void __stdcall HcsCloseProcess(HCS_PROCESS process)',
  HcsTerminateProcess:
    'int32_t __stdcall HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *options)',
  HcsSignalProcess: 'int32_t __stdcall HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *options)',
  HcsGetProcessInfo: 'int32_t __stdcall HcsGetProcessInfo(HCS_PROCESS process, HCS_OPERATION operation)',
  HcsGetProcessProperties:
    'int32_t __stdcall HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *propertyQuery)',
  HcsModifyProcess: 'int32_t __stdcall HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *settings)',
  HcsSetProcessCallback:
    'int32_t __stdcall HcsSetProcessCallback(HCS_PROCESS process, uint32_t callbackOptions, void *context, HCS_EVENT_CALLBACK *callback)',
  HcsGrantVmAccess: 'int32_t __stdcall HcsGrantVmAccess(const char16_t *vmId, const char16_t *filePath)',
  HcsRevokeVmAccess: 'int32_t __stdcall HcsRevokeVmAccess(const char16_t *vmId, const char16_t *filePath)',
} as const;

const FREE_PROTOTYPES = {
  LocalFree: 'void * __stdcall LocalFree(void *mem)',
  CoTaskMemFree: 'void __stdcall CoTaskMemFree(void *mem)',
} as const;

/** Emulator-only exports (libcomputecore.so); absent from the real DLL. */
const EMULATOR_PROTOTYPES = {
  HcsEmuOpenHandleCount: 'uint32_t HcsEmuOpenHandleCount(void)',
  HcsEmuCallbacksInFlight: 'uint32_t HcsEmuCallbacksInFlight(void)',
  HcsEmuIsConnected: 'int32_t HcsEmuIsConnected(void)',
} as const;

type NativeFn = ReturnType<LibraryHandle['func']>;
type Fns<T> = { [K in keyof T]: NativeFn };

function declare<T extends Record<string, string>>(lib: LibraryHandle, protos: T): Fns<T> {
  return Object.fromEntries(Object.entries(protos).map(([name, proto]) => [name, lib.func(proto)])) as Fns<T>;
}

const poolGate = new PoolGate(() => Math.max(1, Math.floor((koffi.config().max_async_calls ?? 256) / 2)));

/** Runs a native function on a libuv pool thread (at most half of koffi's async slots at once). */
function onPool<R>(fn: NativeFn, ...args: unknown[]): Promise<R> {
  return poolGate.run(
    () =>
      new Promise<R>((resolve, reject) => {
        fn.async(...args, (err: unknown, res: R) => (err ? reject(err) : resolve(res)));
      }),
  );
}

/** {@link onPool} for the other bindings in src/hcs (vmcompute-ffi.ts): the same gate and slots. */
export function onPoolCall<R>(fn: NativeFn, ...args: unknown[]): Promise<R> {
  return onPool<R>(fn, ...args);
}

/** Where the libraries come from. */
export interface LibraryOptions {
  /** computecore.dll (Windows default) or the emulator library path; else env HCS_LIBRARY. */
  libraryPath?: string;
}

/**
 * `%SystemRoot%\System32\<dll>`: Windows DLLs are loaded by full path, never through the normal
 * search order (application directory first), as hcsshim's `windows.NewLazySystemDLL` does
 * (internal/computecore/zsyscall_windows.go; audit D22).
 */
export function system32Path(dll: string, env: NodeJS.ProcessEnv = process.env): string {
  const root = env.SystemRoot ?? env.windir ?? 'C:\\Windows';
  return `${root.replace(/[\\/]+$/, '')}\\System32\\${dll}`;
}

function resolveLibraryPath(opts: LibraryOptions): string {
  const path = opts.libraryPath ?? process.env.HCS_LIBRARY;
  if (path) return path;
  if (process.platform === 'win32') return system32Path('computecore.dll');
  throw new Error(
    'no HCS library: pass libraryPath or set HCS_LIBRARY (on Linux, the emulator library from ' +
      "src/emulator/native/build.mjs emulatorLibraryPath())",
  );
}

/** The loaded library with one wrapper per export. Created by {@link loadHcsLibrary}. */
export class HcsNative {
  readonly libraryPath: string;
  /** True when the emulator inspection exports exist (Linux emulator library). */
  readonly isEmulator: boolean;
  private readonly f: Fns<typeof PROTOTYPES>;
  private readonly free: Fns<typeof FREE_PROTOTYPES>;
  private readonly emu?: Fns<typeof EMULATOR_PROTOTYPES>;

  constructor(opts: LibraryOptions = {}) {
    this.libraryPath = resolveLibraryPath(opts);
    const lib = koffi.load(this.libraryPath);
    this.f = declare(lib, PROTOTYPES);
    if (process.platform === 'win32') {
      const kernel32 = koffi.load(system32Path('kernel32.dll'));
      const ole32 = koffi.load(system32Path('ole32.dll'));
      this.free = {
        LocalFree: kernel32.func(FREE_PROTOTYPES.LocalFree),
        CoTaskMemFree: ole32.func(FREE_PROTOTYPES.CoTaskMemFree),
      };
    } else {
      this.free = declare(lib, FREE_PROTOTYPES);
    }
    this.emu = tryDeclare(lib, EMULATOR_PROTOTYPES);
    this.isEmulator = this.emu !== undefined;
  }

  // ---- callbacks -------------------------------------------------------------------------

  /** Registers the (single) JS completion callback; koffi relays foreign-thread calls to the main thread. */
  registerCompletionCallback(fn: (operation: OperationHandle, context: bigint) => void): CallbackPointer {
    const cb = (op: bigint, ctx: bigint | null): void => fn(op as OperationHandle, ctx ?? 0n);
    return koffi.register(cb, koffi.pointer(HCS_OPERATION_COMPLETION)) as CallbackPointer;
  }

  /** Registers a JS event callback (for systems or processes); the event is decoded before `fn` runs. */
  registerEventCallback(fn: (event: NativeEvent, context: bigint) => void): CallbackPointer {
    const cb = (evPtr: bigint, ctx: bigint | null): void => {
      const ev = koffi.decode(evPtr, HCS_EVENT) as { Type: number; EventData: string | null; Operation: bigint | null };
      fn({ type: ev.Type, eventData: ev.EventData, operation: ev.Operation as OperationHandle | null }, ctx ?? 0n);
    };
    return koffi.register(cb, koffi.pointer(HCS_EVENT_CALLBACK)) as CallbackPointer;
  }

  /** Frees a registration. Only once native code can no longer call it (after the Close* that owned it). */
  unregisterCallback(cb: CallbackPointer): void {
    koffi.unregister(cb);
  }

  // ---- result strings: the one chokepoint that frees native memory -------------------------

  /** Frees a string HCS returned, with the configured Windows allocator's free (one-line switch above). */
  freeHcsString(ptr: NativeString): void {
    this.free[FREE_FUNCTION](ptr);
  }

  /** Decodes a returned UTF-16 string and frees it; null stays null. */
  private takeHcsString(ptr: bigint | null): string | null {
    if (ptr === null || ptr === 0n) return null;
    try {
      return koffi.decode(ptr, 'char16_t', -1) as string;
    } finally {
      this.freeHcsString(ptr as NativeString);
    }
  }

  // ---- operations --------------------------------------------------------------------------

  createOperation(context: bigint, callback: CallbackPointer | null): OperationHandle | null {
    return this.f.HcsCreateOperation(context, callback) as OperationHandle | null;
  }
  closeOperation(op: OperationHandle): void {
    this.f.HcsCloseOperation(op);
  }
  getOperationContext(op: OperationHandle): bigint | null {
    return this.f.HcsGetOperationContext(op) as bigint | null;
  }
  setOperationContext(op: OperationHandle, context: bigint): number {
    return this.f.HcsSetOperationContext(op, context) as number;
  }
  getOperationType(op: OperationHandle): number {
    return this.f.HcsGetOperationType(op) as number;
  }
  getComputeSystemFromOperation(op: OperationHandle): SystemHandle | null {
    return this.f.HcsGetComputeSystemFromOperation(op) as SystemHandle | null;
  }
  setOperationCallback(op: OperationHandle, context: bigint, callback: CallbackPointer | null): number {
    return this.f.HcsSetOperationCallback(op, context, callback) as number;
  }
  getOperationResult(op: OperationHandle): { hr: number; document: string | null } {
    const out: [bigint | null] = [null];
    const hr = this.f.HcsGetOperationResult(op, out) as number;
    return { hr, document: this.takeHcsString(out[0]) };
  }
  getOperationResultAndProcessInfo(op: OperationHandle): { hr: number; document: string | null; processId: number; stdio: StdHandleValues } {
    const info: ProcessInformation = {};
    const out: [bigint | null] = [null];
    const hr = this.f.HcsGetOperationResultAndProcessInfo(op, info, out) as number;
    return { hr, document: this.takeHcsString(out[0]), processId: info.ProcessId ?? 0, stdio: stdHandlesOf(info) };
  }
  /** Blocks a pool thread up to timeoutMs: pass a finite timeout. */
  async waitForOperationResultAsync(op: OperationHandle, timeoutMs: number): Promise<{ hr: number; document: string | null }> {
    const out: [bigint | null] = [null];
    const hr = await onPool<number>(this.f.HcsWaitForOperationResult, op, timeoutMs, out);
    return { hr, document: this.takeHcsString(out[0]) };
  }
  /** Blocks a pool thread up to timeoutMs: pass a finite timeout. */
  async waitForOperationResultAndProcessInfoAsync(
    op: OperationHandle,
    timeoutMs: number,
  ): Promise<{ hr: number; document: string | null; processId: number; stdio: StdHandleValues }> {
    const info: ProcessInformation = {};
    const out: [bigint | null] = [null];
    const hr = await onPool<number>(this.f.HcsWaitForOperationResultAndProcessInfo, op, timeoutMs, info, out);
    return { hr, document: this.takeHcsString(out[0]), processId: info.ProcessId ?? 0, stdio: stdHandlesOf(info) };
  }
  cancelOperation(op: OperationHandle): number {
    return this.f.HcsCancelOperation(op) as number;
  }

  // ---- compute systems ---------------------------------------------------------------------

  enumerateComputeSystems(query: string | null, op: OperationHandle): number {
    return this.f.HcsEnumerateComputeSystems(query, op) as number;
  }
  createComputeSystem(id: string, configuration: string, op: OperationHandle): { hr: number; system: SystemHandle | null } {
    const out: [bigint | null] = [null];
    const hr = this.f.HcsCreateComputeSystem(id, configuration, op, null, out) as number;
    return { hr, system: out[0] as SystemHandle | null };
  }
  /** Synchronous in HCS (an RPC): run on a pool thread. */
  async openComputeSystemAsync(id: string, requestedAccess: number): Promise<{ hr: number; system: SystemHandle | null }> {
    const out: [bigint | null] = [null];
    const hr = await onPool<number>(this.f.HcsOpenComputeSystem, id, requestedAccess, out);
    return { hr, system: out[0] as SystemHandle | null };
  }
  /** Waits for an in-flight event callback of this handle, which needs the JS thread: never call it synchronously. */
  async closeComputeSystemAsync(system: SystemHandle): Promise<void> {
    await onPool<void>(this.f.HcsCloseComputeSystem, system);
  }
  startComputeSystem(system: SystemHandle, op: OperationHandle, options: string | null): number {
    return this.f.HcsStartComputeSystem(system, op, options) as number;
  }
  shutDownComputeSystem(system: SystemHandle, op: OperationHandle, options: string | null): number {
    return this.f.HcsShutDownComputeSystem(system, op, options) as number;
  }
  terminateComputeSystem(system: SystemHandle, op: OperationHandle, options: string | null): number {
    return this.f.HcsTerminateComputeSystem(system, op, options) as number;
  }
  pauseComputeSystem(system: SystemHandle, op: OperationHandle, options: string | null): number {
    return this.f.HcsPauseComputeSystem(system, op, options) as number;
  }
  resumeComputeSystem(system: SystemHandle, op: OperationHandle, options: string | null): number {
    return this.f.HcsResumeComputeSystem(system, op, options) as number;
  }
  getComputeSystemProperties(system: SystemHandle, op: OperationHandle, query: string | null): number {
    return this.f.HcsGetComputeSystemProperties(system, op, query) as number;
  }
  modifyComputeSystem(system: SystemHandle, op: OperationHandle, configuration: string): number {
    return this.f.HcsModifyComputeSystem(system, op, configuration, null) as number;
  }
  setComputeSystemCallback(system: SystemHandle, options: number, context: bigint, cb: CallbackPointer | null): number {
    return this.f.HcsSetComputeSystemCallback(system, options, context, cb) as number;
  }

  // ---- processes ---------------------------------------------------------------------------

  createProcess(system: SystemHandle, parameters: string, op: OperationHandle): { hr: number; process: ProcessHandle | null } {
    const out: [bigint | null] = [null];
    const hr = this.f.HcsCreateProcess(system, parameters, op, null, out) as number;
    return { hr, process: out[0] as ProcessHandle | null };
  }
  /** Synchronous in HCS (an RPC): run on a pool thread. */
  async openProcessAsync(
    system: SystemHandle,
    processId: number,
    requestedAccess: number,
  ): Promise<{ hr: number; process: ProcessHandle | null }> {
    const out: [bigint | null] = [null];
    const hr = await onPool<number>(this.f.HcsOpenProcess, system, processId, requestedAccess, out);
    return { hr, process: out[0] as ProcessHandle | null };
  }
  /** Waits for an in-flight event callback of this handle: never call it synchronously. */
  async closeProcessAsync(process: ProcessHandle): Promise<void> {
    await onPool<void>(this.f.HcsCloseProcess, process);
  }
  terminateProcess(process: ProcessHandle, op: OperationHandle, options: string | null): number {
    return this.f.HcsTerminateProcess(process, op, options) as number;
  }
  signalProcess(process: ProcessHandle, op: OperationHandle, options: string | null): number {
    return this.f.HcsSignalProcess(process, op, options) as number;
  }
  getProcessInfo(process: ProcessHandle, op: OperationHandle): number {
    return this.f.HcsGetProcessInfo(process, op) as number;
  }
  getProcessProperties(process: ProcessHandle, op: OperationHandle, query: string | null): number {
    return this.f.HcsGetProcessProperties(process, op, query) as number;
  }
  modifyProcess(process: ProcessHandle, op: OperationHandle, settings: string): number {
    return this.f.HcsModifyProcess(process, op, settings) as number;
  }
  setProcessCallback(process: ProcessHandle, options: number, context: bigint, cb: CallbackPointer | null): number {
    return this.f.HcsSetProcessCallback(process, options, context, cb) as number;
  }

  // ---- VM resource access (audit D3) ---------------------------------------------------------

  /** Grants the VM account of `vmId` access to a file (ACL work, synchronous): run on a pool thread. */
  async grantVmAccessAsync(vmId: string, filePath: string): Promise<number> {
    return onPool<number>(this.f.HcsGrantVmAccess, vmId, filePath);
  }
  /** Revokes what {@link grantVmAccessAsync} granted. */
  async revokeVmAccessAsync(vmId: string, filePath: string): Promise<number> {
    return onPool<number>(this.f.HcsRevokeVmAccess, vmId, filePath);
  }

  // ---- emulator inspection (undefined on the real DLL) ---------------------------------------

  /** Operations + systems + processes open in this process (emulator only). */
  emuOpenHandleCount(): number | undefined {
    return this.emu?.HcsEmuOpenHandleCount() as number | undefined;
  }
  /** Callbacks queued or running (emulator only). */
  emuCallbacksInFlight(): number | undefined {
    return this.emu?.HcsEmuCallbacksInFlight() as number | undefined;
  }
  /** Whether the library is connected to the emulated service (emulator only). */
  emuIsConnected(): boolean | undefined {
    const v = this.emu?.HcsEmuIsConnected() as number | undefined;
    return v === undefined ? undefined : v !== 0;
  }
}

function tryDeclare<T extends Record<string, string>>(lib: LibraryHandle, protos: T): Fns<T> | undefined {
  try {
    return declare(lib, protos);
  } catch {
    return undefined; // the real computecore.dll has no HcsEmu* exports
  }
}

/** Loads computecore.dll (Windows) or the library at `libraryPath` / env HCS_LIBRARY. */
export function loadHcsLibrary(opts: LibraryOptions = {}): HcsNative {
  return new HcsNative(opts);
}
