/**
 * `hcs-reconciler/hcs`: a TypeScript binding of the Windows Host Compute Service
 * (computecore.dll), usable without the controller.
 *
 * ```ts
 * import { openHcs, isAlreadyExists } from 'hcs-reconciler/hcs';
 * const hcs = openHcs();                          // Windows: computecore.dll
 * // Linux: openHcs({ libraryPath: emulatorLibraryPath() }) with the emulator running
 * const sys = await hcs.create('web', doc, { timeoutMs: 60_000 });
 * sys.onEvent((e) => console.log(e));             // SystemExited / ServiceDisconnect
 * await sys.start();
 * const p = await sys.createProcess({ CommandLine: 'cmd /c echo hi' });
 * p.onExit((e) => console.log('exit', e.exitCode));
 * await hcs.close();                              // closes every handle, then the library callbacks
 * ```
 *
 * Every call is asynchronous and never blocks the JS thread; failures are {@link HcsError}s with
 * `op`, `systemId`, `hresult`, `code`, `kind` and `permanent`. Classify them with the `is*`
 * predicates, which accept both HRESULT forms (0x8037xxxx and 0xC037xxxx). See README.md.
 */
import { NativeHcsClient } from './client.ts';
import { loadHcsLibrary, type LibraryOptions } from './ffi.ts';

export { NativeHcsClient, type CloseOptions } from './client.ts';
export { NativeHcsSystem } from './system.ts';
export { NativeHcsProcess } from './process.ts';
export { ProcessStdio, PipeError, isNoHandle, kernel32LibraryPath } from './stdio.ts';
export {
  HcsError, HRESULTS, classifyHresult, failed, formatHresult, hresultName, toHcsError,
  isAccessDenied, isAlreadyExists, isAlreadyStopped, isDisconnected, isInvalidConfig, isInvalidState,
  isNotFound, isNotSupported, isTimeout,
  isProcessGone,
  type HcsErrorInit, type HresultName,
} from './errors.ts';
export { HcsEventType } from './events.ts';
export { HcsNative, loadHcsLibrary, GENERIC_ALL, type LibraryOptions } from './ffi.ts';
export { readHostFacts, type HostFacts } from './host.ts';
export { VmcomputeSystem, isSchema1Document } from './vmcompute.ts';
export type {
  CallOptions, EnumerateQuery, ExitType, HcsClient, HcsFailure, HcsFailureKind, HcsProcess, HcsState, HcsSystem,
  ObservedProcess, ObservedSystem, ProcessEvent, SystemEvent, SystemProperties,
} from '../../reconciler/ports.ts';

/**
 * Loads the HCS library and returns a client. Windows default: computecore.dll. Elsewhere pass
 * `libraryPath` (the emulator's libcomputecore.so) or set HCS_LIBRARY.
 */
export function openHcs(opts: LibraryOptions = {}): NativeHcsClient {
  return new NativeHcsClient(loadHcsLibrary(opts));
}
