/**
 * The manifest parser the folder watcher needs (src/watch `ManifestParser`), bound to the
 * manifest options: one typed factory for every composition (`run`, the invariant harness, the
 * bench rig). The watcher hands `combineSnapshot` back exactly what `parseManifestFile` returned,
 * and the types say so, so no cast is needed.
 */
import { parseManifestFile, type FileResult, type ManifestOptions } from './file.ts';
import { isManifestFileName } from './files.ts';
import { combineSnapshot } from './snapshot.ts';
import type { ManifestSnapshot } from '../../reconciler/ports.ts';

/** The three pure functions of src/manifest, bound to `opts`. */
export interface BoundManifestParser {
  parseManifestFile(file: string, content: Uint8Array): FileResult;
  combineSnapshot(results: FileResult[]): ManifestSnapshot;
  isManifestFileName(fileName: string): boolean;
}

/** Bind the parser to the manifest options (owner, host placement, policy, size limit). */
export function manifestParser(opts: ManifestOptions = {}): BoundManifestParser {
  return {
    parseManifestFile: (file, content) => parseManifestFile(file, content, opts),
    combineSnapshot: (results) => combineSnapshot(results, opts),
    isManifestFileName,
  };
}
