/** Absolute path of the emulator library `libcomputecore.so` (it may not be built yet). */
export function emulatorLibraryPath(): string;
/**
 * Builds the emulator library when a source is newer than it (or `force`), and returns its path.
 * Throws with an install hint when no C compiler exists, or with the compiler output on failure.
 */
export function ensureEmulatorLibrary(options?: { force?: boolean }): string;
/** Absolute path of the emulator's vmcompute.dll stand-in `libvmcompute.so` (built with the other). */
export function vmcomputeLibraryPath(): string;
/** Absolute path of the emulator's kernel32.dll stand-in `libkernel32-emu.so` (stdio pipe handles). */
export function kernel32EmulatorLibraryPath(): string;
