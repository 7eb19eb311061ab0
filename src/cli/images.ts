/** Wiring of the image store for every command: the layer binding and the manifest loader's image lookup. */
import { existsSync } from 'node:fs';
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../emulator/native/build.mjs';
import { LayerNative } from '../hcs/layers.ts';
import { storeLookup } from '../images/lookup.ts';
import { defaultDataRoot } from '../images/paths.ts';
import type { ImageLookup } from '../manifest/index.ts';
import type { Disposable, ImagePort, Logger, ManifestSnapshot, ObservedImage } from '../../reconciler/ports.ts';
import type { RegistryClient } from '../registry/index.ts';
import type { GlobalOptions } from './context.ts';
import { UsageError } from './output.ts';

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

/**
 * The images as `plan` observes them: read-only, from the records of the data root (which may
 * not exist: then nothing is stored and every image gets a pull node).
 */
export function observeStoredImages(dataRoot: string | undefined, references: readonly string[]): ObservedImage[] {
  const lookup = imageLookup(dataRoot);
  return references.map((reference) => {
    const stored = lookup.find(reference);
    return stored ? { reference, present: true, digest: stored.digest } : { reference, present: false };
  });
}

/**
 * A registry client from the global registry options. The registry client, puller, store and GC
 * are loaded here, on first use: `validate` and `plan` only look images up (start-up).
 */
export async function registryClient(g: GlobalOptions): Promise<RegistryClient> {
  if (g.registryConfig && !existsSync(g.registryConfig)) throw new UsageError(`--registry-config ${g.registryConfig}: no such file`);
  const { hostPlatform, loadDockerConfig, RegistryClient } = await import('../registry/index.ts');
  return new RegistryClient({
    platform: hostPlatform(),
    insecureRegistries: g.insecureRegistry ?? [],
    ...(g.registryConfig ? { credentials: loadDockerConfig(g.registryConfig) } : {}),
  });
}

const timer = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { dispose: () => clearTimeout(t) };
};

/** What `run` and `apply` need of the images: the loader's lookup, the core's image port, automatic GC. */
export interface ControllerImages extends Disposable {
  images: ImageLookup;
  port: ImagePort;
  /** Connects the port to the manifest source (rendered again after a pull) and starts GC. */
  bind(source: { reparse?(): Promise<unknown>; current(): ManifestSnapshot }): void;
}

/**
 * The controller's image side: the core's image nodes pull through `port` into the store of
 * --data-root (retries and their timing are the core's); with `gcGraceMs` > 0, images no
 * manifest has used for that long are removed (checked every minute or every grace period,
 * whichever is shorter; skipped while any manifest has an error, since an erroneous manifest's
 * image is unknown and must not be collected).
 */
export async function controllerImages(g: GlobalOptions, logger: Logger, gcGraceMs: number): Promise<ControllerImages> {
  const layers = (shared ??= openLayers());
  try {
    layers.enableBackupPrivileges();
  } catch (err) {
    logger.warn('cannot enable SeBackup/SeRestore: image pulls will fail until the controller runs elevated', { error: String(err) });
  }
  const [{ ImageStore }, { ImagePuller }, { StoreImagePort }, { ImageGc }, { hostPlatform }] = await Promise.all([
    import('../images/store.ts'), import('../images/puller.ts'), import('../images/port.ts'), import('../images/gc.ts'), import('../registry/index.ts'),
  ]);
  const store = await ImageStore.open(g.dataRoot ?? defaultDataRoot(), layers);
  const puller = new ImagePuller(store, await registryClient(g), { hostOsVersion: hostPlatform().osVersion });
  let rerender: () => Promise<void> = async () => {};
  const port = new StoreImagePort(puller, { rerender: () => rerender() });
  const disposables: { dispose(): void }[] = [];
  return {
    images: storeLookup(store.paths.root, () => layers),
    port,
    bind(source) {
      rerender = async () => {
        await source.reparse?.();
      };
      if (gcGraceMs <= 0) return;
      const gc = new ImageGc(store, { graceMs: gcGraceMs });
      const every = Math.min(gcGraceMs, 60_000);
      const sweep = () => {
        const snap = source.current();
        const next = () => disposables.push(timer(sweep, every));
        if (!snap.folderOk || snap.errors.length > 0) return next();
        const inUse = snap.manifests.flatMap((m) => (m.image ? [m.image.reference] : []));
        gc.sweep(inUse)
          .then((r) => r.images.length > 0 && logger.info('image GC removed unused images', { images: r.images.join(' '), layers: r.layers.length, reclaimedBytes: r.reclaimedBytes }))
          .catch((err: unknown) => logger.warn('image GC failed', { error: String(err) }))
          .finally(next);
      };
      disposables.push(timer(sweep, every));
    },
    dispose() {
      for (const d of disposables) d.dispose();
    },
  };
}
