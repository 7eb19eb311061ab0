/**
 * The layer-id resolver every command gives the manifest loader (audit D14): vmcompute!NameToGuid
 * of a layer folder's base name, through the layer binding (on Linux the emulator's
 * libvmcompute.so). Loaded on the first manifest with `spec.container.layers`, so commands that
 * never see one never load koffi.
 */
import type { LayerNative } from '../hcs/layers.ts';
import { openLayers } from './images.ts';

let native: LayerNative | undefined;

/** NameToGuid(folderName), as a GUID string. */
export function layerIdOf(folderName: string): string {
  native ??= openLayers();
  return native.nameToGuid(folderName);
}
