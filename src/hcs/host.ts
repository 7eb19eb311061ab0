/**
 * Host facts the rendered documents depend on: the Windows build (RtlGetVersion, which reports the
 * true build unlike GetVersionEx under compatibility shims; [MSDOCS] wdm.h RtlGetVersion) and the
 * number of logical processors.
 *
 * On Windows RtlGetVersion comes from `%SystemRoot%\System32\ntdll.dll`. Elsewhere the emulator
 * library exports the same function with the same ABI (src/emulator/native/host.c), reporting
 * HCSEMU_HOST_BUILD (default 20348) and HCSEMU_HOST_PROCESSORS (default 16). One wrapper, one export.
 */
import { availableParallelism } from 'node:os';
import koffi from 'koffi';
import { system32Path } from './ffi.ts';

/** What the renderer needs to know about this host. */
export interface HostFacts {
  /** Windows build number (e.g. 20348 for Windows Server 2022). */
  build: number;
  /** Logical processors available to this process. */
  logicalProcessors: number;
  /** Where the build came from (for messages and `render` output). */
  source: string;
}

const OSVERSIONINFOW = koffi.struct('OSVERSIONINFOW', {
  dwOSVersionInfoSize: 'uint32_t',
  dwMajorVersion: 'uint32_t',
  dwMinorVersion: 'uint32_t',
  dwBuildNumber: 'uint32_t',
  dwPlatformId: 'uint32_t',
  szCSDVersion: koffi.array('char16_t', 128, 'Array'),
});
/** Logical processors the emulated host reports unless HCSEMU_HOST_PROCESSORS says otherwise. */
export const EMULATOR_DEFAULT_PROCESSORS = 16;

const RTL_GET_VERSION = 'int32_t __stdcall RtlGetVersion(_Inout_ OSVERSIONINFOW *info)';

/** Calls RtlGetVersion from `libraryPath` and returns dwBuildNumber; throws on a failed NTSTATUS. */
export function rtlGetVersionBuild(libraryPath: string): number {
  const fn = koffi.load(libraryPath).func(RTL_GET_VERSION);
  const info: Record<string, unknown> = { dwOSVersionInfoSize: koffi.sizeof(OSVERSIONINFOW) };
  const status = fn(info) as number;
  if (status !== 0) throw new Error(`RtlGetVersion (${libraryPath}) failed: NTSTATUS 0x${(status >>> 0).toString(16)}`);
  return info.dwBuildNumber as number;
}

/**
 * Reads the host facts. `emulatorLibrary` is the emulator's libcomputecore.so (required off
 * Windows); `processors` overrides the processor count (the emulator: HCSEMU_HOST_PROCESSORS).
 */
export function readHostFacts(opts: { emulatorLibrary?: string } = {}): HostFacts {
  if (process.platform === 'win32') {
    const dll = system32Path('ntdll.dll');
    return { build: rtlGetVersionBuild(dll), logicalProcessors: availableParallelism(), source: `RtlGetVersion (${dll})` };
  }
  const lib = opts.emulatorLibrary;
  if (!lib) throw new Error('host facts: off Windows the emulator library is needed (its RtlGetVersion reports HCSEMU_HOST_BUILD)');
  // The emulated host's processors are a configured fact, not this machine's (default 16).
  const env = Number(process.env.HCSEMU_HOST_PROCESSORS);
  const logicalProcessors = Number.isInteger(env) && env > 0 ? env : EMULATOR_DEFAULT_PROCESSORS;
  return { build: rtlGetVersionBuild(lib), logicalProcessors, source: 'HCS emulator (HCSEMU_HOST_BUILD)' };
}
