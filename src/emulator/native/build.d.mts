/** Absolute path of an emulator library, default `libcomputecore.so` (it may not be built yet). */
export function emulatorLibraryPath(name?: 'libcomputecore.so' | 'libvmcompute.so' | 'libcomputenetwork.so'): string;
/**
 * Builds the emulator library when a source is newer than it (or `force`), and returns its path.
 * Throws with an install hint when no C compiler exists, or with the compiler output on failure.
 */
export function ensureEmulatorLibrary(options?: { force?: boolean }): string;
