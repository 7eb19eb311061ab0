/**
 * Manifest folder source: watches a folder of YAML manifests (or a git-sync style symlink to
 * one) and emits full {@link ManifestSnapshot}s. See source.ts for the design and scan.ts for
 * which files are read.
 */
export type { ManifestSnapshot } from '../../reconciler/ports.ts';
export { watchManifests } from './source.ts';
export type { FileResult, ManifestParser, ManifestSource, ManifestSourceOptions, SourceStats, Timers } from './types.ts';
