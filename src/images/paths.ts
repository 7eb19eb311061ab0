/**
 * The data root and its layout. Everything is written to a temp name and renamed into place, so
 * a kill -9 leaves only `tmp/` debris (removed at the next open), never a half blob or layer
 * under its final name.
 *
 *   <root>/blobs/sha256/<hex>         verified blobs (manifests are not stored; configs and layers are)
 *   <root>/layers/<chain-id hex>/     imported layer folders (Docker's windowsfilter: one folder per layer)
 *   <root>/images/<sha256(ref)>.json  image records: reference -> digests, layers, config
 *   <root>/tmp/                       partial downloads (<hex>.partial, resumable) and layers being imported
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Default data root: `%ProgramData%\hcs-reconciler` on Windows; `$XDG_DATA_HOME/hcs-reconciler` or
 * `~/.local/share/hcs-reconciler` elsewhere.
 */
export function defaultDataRoot(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(env.ProgramData ?? 'C:\\ProgramData', 'hcs-reconciler');
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'hcs-reconciler');
  return join(homedir(), '.local', 'share', 'hcs-reconciler');
}

/** Paths inside one data root. */
export class StorePaths {
  constructor(readonly root: string) {}
  get blobs(): string {
    return join(this.root, 'blobs', 'sha256');
  }
  get layers(): string {
    return join(this.root, 'layers');
  }
  get images(): string {
    return join(this.root, 'images');
  }
  get tmp(): string {
    return join(this.root, 'tmp');
  }
  blob(digest: string): string {
    return join(this.blobs, hexOf(digest));
  }
  partial(digest: string): string {
    return join(this.tmp, `${hexOf(digest)}.partial`);
  }
  layer(chainId: string): string {
    return join(this.layers, hexOf(chainId));
  }
}

/** The hex part of `sha256:<hex>` (validated: nothing else may become a path). */
export function hexOf(digest: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new Error(`not a sha256 digest: ${digest}`);
  return m[1]!;
}
