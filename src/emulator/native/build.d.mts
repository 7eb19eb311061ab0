/** Absolute path of an emulator library, default `libcomputecore.so` (it may not be built yet). */
export function emulatorLibraryPath(name?: 'libcomputecore.so' | 'libvmcompute.so' | 'libcomputenetwork.so' | 'libkernel32-emu.so'): string;
/** Absolute path of the emulator's vmcompute.dll stand-in `libvmcompute.so` (built with the other). */
export function vmcomputeLibraryPath(): string;
/** Absolute path of the emulator's kernel32.dll stand-in `libkernel32-emu.so` (stdio pipe handles). */
export function kernel32EmulatorLibraryPath(): string;
/**
 * Builds the emulator libraries when a source is newer than them (or `force`), and returns the
 * path of libcomputecore.so. Throws with an install hint when no C compiler exists, or with the
 * compiler output on failure.
 */
export function ensureEmulatorLibrary(options?: { force?: boolean }): string;
