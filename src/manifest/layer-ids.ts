/**
 * Audit D14: a manifest-given layer's id is the one HCS derives from the layer folder's base name.
 * hcsshim never takes the id from its caller: `LayerID(path) = NameToGuid(filepath.Base(path))`
 * ([SHIM] internal/wclayer/layerid.go, used for every layer at internal/layers/wcow_mount.go), and
 * Docker's windowsfilter driver and containerd do the same (provisioning.md 0.3). NameToGuid's
 * algorithm is not published, so the id is never computed here: the loader gets a resolver (the
 * CLI binds vmcompute!NameToGuid through src/hcs/layers.ts, on Linux the emulator's), exactly as
 * image layers get their ids from the image store. Render sees resolved ids and never calls FFI.
 *
 * `id` in a manifest is optional. When given it must be the derived id (compared as a GUID,
 * case-insensitively); a different one is refused with the id to use, never silently replaced.
 */
import { win32 } from 'node:path';
import type { Problem } from './messages.ts';
import type { Manifest } from './types.ts';

/** NameToGuid of a layer folder's base name (e.g. `servercore-ltsc2022` → its GUID). */
export type LayerIdResolver = (folderName: string) => string;

/** The folder base name hcsshim passes to NameToGuid (filepath.Base: trailing separators ignored). */
export function layerFolderName(path: string): string {
  return win32.basename(path);
}

/**
 * The manifest with every `spec.container.layers[].id` resolved, or the problems. Manifests
 * without `layers` come back unchanged. Without a resolver, given ids are kept as written and a
 * missing one is a problem (only pure callers lack one; every CLI command binds NameToGuid).
 */
export function withLayerIds(m: Manifest, resolve: LayerIdResolver | undefined): { manifest: Manifest } | { problems: Problem[] } {
  const c = m.spec.container;
  if (!c?.layers) return { manifest: m };
  const problems: Problem[] = [];
  const layers = c.layers.map((layer, i) => {
    const at = ['spec', 'container', 'layers', i];
    const name = layerFolderName(layer.path);
    let derived: string | undefined;
    if (resolve) {
      try {
        derived = resolve(name).toLowerCase();
      } catch (err) {
        problems.push({ path: [...at, 'path'], key: false, message: `cannot compute the layer id of folder "${name}" with NameToGuid (${err instanceof Error ? err.message : String(err)})` });
        return layer;
      }
    }
    if (layer.id !== undefined && derived !== undefined && layer.id.toLowerCase() !== derived) {
      problems.push({
        path: [...at, 'id'],
        key: false,
        message: `layer id ${layer.id} is not the id HCS uses for folder "${name}" (NameToGuid gives ${derived}, as hcsshim computes it); remove id, or set it to ${derived}`,
      });
      return layer;
    }
    const id = derived ?? layer.id;
    if (id === undefined) {
      problems.push({ path: at, key: false, message: `layer "${layer.path}" has no id and none can be computed here (NameToGuid is not bound); give the id` });
      return layer;
    }
    return { ...layer, id };
  });
  if (problems.length > 0) return { problems };
  return { manifest: { ...m, spec: { ...m.spec, container: { ...c, layers } } } };
}
