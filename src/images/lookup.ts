/** The image store as the manifest loader sees it: a synchronous lookup of pulled images by reference. */
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import type { ImageLookup, StoredImage } from '../manifest/index.ts';
import { formatReference, parseReference } from '../registry/reference.ts';
import { StorePaths } from './paths.ts';
import type { ImageRecord } from './store.ts';
import type { LayerOps } from './writers.ts';

/**
 * Reads the record for a reference straight from disk (records are renamed into place, never
 * partial). Read-only: creates nothing; the layer binding (for NameToGuid) is loaded on the first hit.
 */
export function storeLookup(root: string, ops: () => Pick<LayerOps, 'nameToGuid'>): ImageLookup {
  const paths = new StorePaths(root);
  return {
    find(reference: string): StoredImage | undefined {
      let text: string;
      try {
        text = formatReference(parseReference(reference));
      } catch {
        return undefined;
      }
      let record: ImageRecord;
      try {
        const file = join(paths.images, `${createHash('sha256').update(text).digest('hex')}.json`);
        record = JSON.parse(readFileSync(file, 'utf8')) as ImageRecord;
      } catch {
        return undefined;
      }
      return {
        reference: record.reference,
        digest: record.digest,
        layers: record.layers
          .map((l) => paths.layer(l.chainId))
          .reverse()
          .map((path) => ({ id: ops().nameToGuid(basename(path)), path })),
        ...record.process,
      };
    },
  };
}
