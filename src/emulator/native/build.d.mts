/** Absolute path of the emulator library `libcomputecore.so` (it may not be built yet). */
export function emulatorLibraryPath(): string;
/**
 * Builds the emulator library when a source is newer than it (or `force`), and returns its path.
 * Throws with an install hint when no C compiler exists, or with the compiler output on failure.
 */
export function ensureEmulatorLibrary(options?: { force?: boolean }): string;
export function kernel32EmulatorLibraryPath(): string;
