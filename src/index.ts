/**
 * `hcs-reconciler`: the controller as a library. The pieces the CLI composes, for embedding:
 * load and validate manifests, watch a folder, run the reconciler against an HCS client.
 * The HCS binding alone is `hcs-reconciler/hcs`; the core (ports, plan, machines) alone is
 * `hcs-reconciler/reconciler`.
 *
 * ```ts
 * import { createController, loadManifests, openHcs, realClock } from 'hcs-reconciler';
 * const hcs = openHcs();                                   // Windows: computecore.dll
 * const controller = createController({ hcs, owner: 'hcs-reconciler', clock: realClock, logger: console, resyncMs: 30_000 });
 * controller.applySnapshot(await loadManifests('C:\\manifests', { owner: 'hcs-reconciler' }));
 * ```
 */
export { main } from './cli/main.ts';
export { realClock } from './cli/clock.ts';
export {
  DEFAULT_OWNER, combineSnapshot, formatError, loadManifests, manifestSchema, parseManifestFile, renderManifest,
  type FileResult, type Manifest, type ManifestOptions, type ManifestPolicy,
} from './manifest/index.ts';
export { watchManifests, type ManifestSource, type ManifestSourceOptions } from './watch/index.ts';
export { openHcs, HcsError } from './hcs/index.ts';
export { createController, type Controller, type ControllerOptions } from '../reconciler/index.ts';
