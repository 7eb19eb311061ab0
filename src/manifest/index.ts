/**
 * The manifest model: parse, validate, render and load `hcs-reconciler/v1alpha1` ComputeSystem
 * manifests into the reconciler's DesiredSystem snapshots. The only code that imports yaml and ajv.
 * Field reference: src/manifest/README.md.
 */
import type { ManifestError } from '../../reconciler/ports.ts';

export { parseDuration } from './duration.ts';
export { DEFAULT_MAX_FILE_BYTES } from './decode.ts';
export { DEFAULT_OWNER, parseManifestFile, type DeclaredName, type FileResult, type ManifestOptions } from './file.ts';
export { isManifestFileName } from './files.ts';
export { canonicalJson, sha256Canonical } from './hash.ts';
export { loadManifests, type LoadOptions } from './load.ts';
export { placementMismatch, type HostInfo } from './placement.ts';
export { checkPolicy, policySchema } from './policy.ts';
export { loadPolicyFile, parsePolicy } from './policyFile.ts';
export { renderManifest, SCHEMA_VERSION, type Rendering } from './render.ts';
export { withStoredImage, quoteWindowsArg, pullPolicyOf, type ImageLookup, type StoredImage } from './image.ts';
export { manifestSchema } from './schema.ts';
export { combineSnapshot, formatLocation } from './snapshot.ts';
export { manifestParser, type BoundManifestParser } from './parser.ts';
export type { Manifest, ManifestPolicy } from './types.ts';

/** `file:line:col path: message` (path omitted when the error concerns the whole document). */
export function formatError(e: ManifestError): string {
  return `${e.file}:${e.line}:${e.col} ${e.path ? `${e.path}: ` : ''}${e.message}`;
}

/** YAML text of a plain value (for `-o yaml` outputs; this module owns the yaml dependency). */
export { stringify as toYaml } from 'yaml';
