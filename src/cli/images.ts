/** Wiring of the image store for every command: the layer binding and the manifest loader's image lookup. */
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../emulator/native/build.mjs';
import { LayerNative } from '../hcs/layers.ts';
import { storeLookup } from '../images/lookup.ts';
import { defaultDataRoot } from '../images/paths.ts';
import type { ImageLookup } from '../manifest/index.ts';

/** The layer binding: vmcompute.dll on Windows, the emulator's libvmcompute.so elsewhere (or HCS_VMCOMPUTE_LIBRARY). */
export function openLayers(): LayerNative {
  if (process.platform === 'win32' || process.env.HCS_VMCOMPUTE_LIBRARY) return new LayerNative();
  ensureEmulatorLibrary();
  return new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
}

let shared: LayerNative | undefined;

/** The image lookup of the data root (read-only; loads the layer binding on the first stored image). */
export function imageLookup(dataRoot: string | undefined): ImageLookup {
  return storeLookup(dataRoot ?? defaultDataRoot(), () => (shared ??= openLayers()));
}
