/**
 * The image store: pulls (resolve -> blobs -> layer folders -> record), lists, removes and prunes,
 * under one data root (paths.ts). Every commit is a rename: a blob is renamed from its verified
 * partial file, a layer folder from its staging name after ProcessBaseImage/ImportLayer returned,
 * an image record from its temp file; so after a kill -9 nothing half-written has a final name, and
 * `open()` removes the staging debris (partial downloads are kept to be resumed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { formatReference, parseReference, RegistryError, type ImageReference, type RegistryClient, type ResolvedImage } from '../registry/index.ts';
import { applyLayer } from './apply.ts';
import { BlobFetcher, TapBroken, TapUnused } from './blobs.ts';
import { hexOf, StorePaths } from './paths.ts';
import { LayerWriter, type LayerOps } from './writers.ts';
import { compareText } from '../../reconciler/order.ts';

/** One stored layer (manifest order: base first). */
export interface LayerRecord {
  digest: string;
  diffId: string;
  /** OCI chain id: the folder name; a layer's folder depends on its parents. */
  chainId: string;
  size: number;
  mediaType: string;
}

/** What an image's config says about the process (image-spec config.md `config`). */
export interface ImageProcessDefaults {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

/** A pulled image. */
export interface ImageRecord {
  reference: string;
  /** What the reference resolved to (an index digest for multi-platform images). */
  digest: string;
  manifestDigest: string;
  configDigest: string;
  osVersion: string | undefined;
  architecture: string;
  layers: LayerRecord[];
  process: ImageProcessDefaults;
  pulledAt: string;
}

/** Progress of one layer during a pull. */
export interface LayerProgress {
  digest: string;
  phase: 'exists' | 'download' | 'import' | 'done';
  done: number;
  total: number;
}

/** What a pull needs. */
export interface PullOptions {
  client: RegistryClient;
  onProgress?: (p: LayerProgress) => void;
  signal?: AbortSignal;
}

/** The result of a prune. */
export interface PruneResult {
  images: string[];
  layers: string[];
  reclaimedBytes: number;
}

/** A layer for an HCS document (top-most first): id from NameToGuid of the folder name. */
export interface HcsLayer {
  id: string;
  path: string;
}

const STAGING = '.tmp-';

/** sha256 chain ids (image-spec config.md "Layer ChainID"). */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out.at(-1);
    out.push(prev === undefined ? d : `sha256:${createHash('sha256').update(`${prev} ${d}`).digest('hex')}`);
  }
  return out;
}

/** A tap stream destroyed by its download's failure surfaces as the cause of the apply error. */
function isTapError(err: unknown): boolean {
  const cause = (err as { cause?: unknown })?.cause;
  return cause instanceof TapUnused || cause instanceof TapBroken || (cause instanceof RegistryError && cause.kind === 'network');
}

const recordName = (reference: string) => `${createHash('sha256').update(reference).digest('hex')}.json`;

async function dirSize(path: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(path, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

/** The store of one data root. Create with {@link ImageStore.open}. */
export class ImageStore {
  readonly paths: StorePaths;
  private readonly blobs: BlobFetcher;
  private readonly importing = new Map<string, Promise<void>>();
  /** Layer digests of pulls in progress in this process: their finished blobs wait for import. */
  private readonly pulling = new Map<string, number>();

  private constructor(root: string, private readonly ops: LayerOps) {
    this.paths = new StorePaths(root);
    this.blobs = new BlobFetcher(this.paths);
  }

  /** Opens (creating) the store and removes what an interrupted run left, except resumable partial downloads. */
  static async open(root: string, ops: LayerOps): Promise<ImageStore> {
    const s = new ImageStore(root, ops);
    for (const d of [s.paths.blobs, s.paths.layers, s.paths.images, s.paths.tmp]) await mkdir(d, { recursive: true });
    for (const name of await readdir(s.paths.layers)) if (name.startsWith(STAGING)) s.ops.destroyLayer(join(s.paths.layers, name));
    for (const name of await readdir(s.paths.tmp)) if (!name.endsWith('.partial')) await rm(join(s.paths.tmp, name), { recursive: true, force: true });
    for (const name of await readdir(s.paths.images)) if (name.endsWith('.tmp')) await rm(join(s.paths.images, name), { force: true });
    return s;
  }

  /** Pulls `reference` (resolving it again, even when present) and returns its record. */
  async pull(reference: string | ImageReference, opts: PullOptions): Promise<ImageRecord> {
    const ref = typeof reference === 'string' ? parseReference(reference) : reference;
    const resolved = await opts.client.resolve(ref, opts.signal);
    const digests = resolved.layers.map((l) => l.digest);
    for (const d of digests) this.pulling.set(d, (this.pulling.get(d) ?? 0) + 1);
    try {
      return await this.pullResolved(ref, resolved, opts);
    } finally {
      for (const d of digests) {
        const n = (this.pulling.get(d) ?? 1) - 1;
        if (n === 0) this.pulling.delete(d);
        else this.pulling.set(d, n);
      }
    }
  }

  private async pullResolved(ref: ImageReference, resolved: ResolvedImage, opts: PullOptions): Promise<ImageRecord> {
    const ids = chainIds(resolved.layers.map((l) => l.diffId));
    const present = await Promise.all(ids.map((c) => this.hasLayer(c)));
    // Downloads run concurrently; imports run in order (each needs its parents). The first layer to
    // import is imported from its download stream as it arrives (a tap), the others from their files.
    const first = present.indexOf(false);
    const tap = first >= 0 && !this.importing.has(ids[first]!) ? new PassThrough({ highWaterMark: 1 << 20 }) : undefined;
    const downloads = resolved.layers.map((l, i) =>
      present[i] ? undefined : this.blobs.ensure(opts.client, ref, l, (done, total) => opts.onProgress?.({ digest: l.digest, phase: 'download', done, total }), opts.signal, i === first ? tap : undefined),
    );
    for (const d of downloads) d?.catch(() => undefined); // a failure is reported by the await below, once
    for (const [i, l] of resolved.layers.entries()) {
      if (present[i]) {
        opts.onProgress?.({ digest: l.digest, phase: 'exists', done: l.size, total: l.size });
        continue;
      }
      const download = downloads[i]!;
      const parents = ids.slice(0, i);
      await this.importOnce(ids[i]!, async () => {
        if (i === first && tap) {
          try {
            return await this.importLayer(tap, l, parents, ids[i]!, download);
          } catch (err) {
            // The stream was not fed, or broke off: the download resumes into its file; import from that.
            if (!(err instanceof TapUnused) && !(err instanceof TapBroken) && !(err instanceof RegistryError && err.kind === 'network') && !isTapError(err)) {
              // Bad bytes make the importer fail first; the download goes on hashing them, and its digest error is the one to report.
              const downloaded = await download.then(() => undefined, (e: unknown) => e);
              throw downloaded instanceof RegistryError && downloaded.kind === 'digest' ? downloaded : err;
            }
          }
        }
        const blob = await download;
        opts.onProgress?.({ digest: l.digest, phase: 'import', done: 0, total: l.size });
        await this.importLayer(blob, l, parents, ids[i]!, download);
      });
      await rm(await download, { force: true }); // the layer folder is the durable form
      opts.onProgress?.({ digest: l.digest, phase: 'done', done: l.size, total: l.size });
    }
    const record = toRecord(ref, resolved, ids);
    await this.writeRecord(record);
    return record;
  }

  /** The record of a reference (exact text after normalisation), or undefined. */
  async get(reference: string): Promise<ImageRecord | undefined> {
    const text = formatReference(parseReference(reference));
    try {
      return JSON.parse(await readFile(join(this.paths.images, recordName(text)), 'utf8')) as ImageRecord;
    } catch {
      return undefined;
    }
  }

  /** Every record, oldest pull first. */
  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const name of await readdir(this.paths.images)) {
      if (!name.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.paths.images, name), 'utf8')) as ImageRecord);
      } catch {
        // a record that cannot be read is skipped (never half-written: records are renamed into place)
      }
    }
    return out.sort((a, b) => compareText(a.pulledAt, b.pulledAt));
  }

  /** Layer folders for an HCS document, top-most first, ids from NameToGuid. */
  hcsLayers(record: ImageRecord): HcsLayer[] {
    return record.layers
      .map((l) => this.paths.layer(l.chainId))
      .reverse()
      .map((path) => ({ id: this.ops.nameToGuid(basename(path)), path }));
  }

  /** Bytes the image's layer folders take on disk. */
  async sizeOf(record: ImageRecord): Promise<number> {
    let n = 0;
    for (const l of record.layers) n += await dirSize(this.paths.layer(l.chainId)).catch(() => 0);
    return n;
  }

  /** Removes a record and the layers no other record references. */
  async remove(reference: string): Promise<PruneResult> {
    const text = formatReference(parseReference(reference));
    const file = join(this.paths.images, recordName(text));
    await rm(file, { force: true });
    const gc = await this.collectLayers();
    return { ...gc, images: [text] };
  }

  /**
   * Removes the records `keep` rejects whose pull is older than `olderThanMs` (oldest first), then
   * every layer folder and blob no remaining record references.
   */
  async prune(keep: (r: ImageRecord) => boolean, olderThanMs = 0, now = Date.now()): Promise<PruneResult> {
    const images: string[] = [];
    for (const r of await this.list()) {
      if (keep(r) || now - Date.parse(r.pulledAt) < olderThanMs) continue;
      await rm(join(this.paths.images, recordName(r.reference)), { force: true });
      images.push(r.reference);
    }
    const gc = await this.collectLayers();
    return { ...gc, images };
  }

  private async collectLayers(): Promise<Omit<PruneResult, 'images'>> {
    const referenced = new Set((await this.list()).flatMap((r) => r.layers.map((l) => hexOf(l.chainId))));
    const layers: string[] = [];
    let reclaimedBytes = 0;
    for (const name of await readdir(this.paths.layers)) {
      if (name.startsWith(STAGING) || referenced.has(name) || this.importing.has(`sha256:${name}`)) continue;
      const path = join(this.paths.layers, name);
      reclaimedBytes += await dirSize(path).catch(() => 0);
      this.ops.destroyLayer(path);
      layers.push(`sha256:${name}`);
    }
    for (const name of await readdir(this.paths.blobs)) {
      if (this.pulling.has(`sha256:${name}`)) continue;
      const p = join(this.paths.blobs, name);
      reclaimedBytes += (await stat(p).catch(() => ({ size: 0 }))).size;
      await rm(p, { force: true });
    }
    return { layers, reclaimedBytes };
  }

  private async hasLayer(chainId: string): Promise<boolean> {
    return stat(this.paths.layer(chainId)).then(() => true, () => false);
  }

  private importOnce(chainId: string, run: () => Promise<void>): Promise<void> {
    let p = this.importing.get(chainId);
    if (!p) {
      p = run().finally(() => this.importing.delete(chainId));
      this.importing.set(chainId, p);
    }
    return p;
  }

  /** Imports into a staging folder, waits for the blob's digest check, then renames the folder into place. */
  private async importLayer(blob: string | Readable, layer: ResolvedImage['layers'][number], parentChainIds: string[], chainId: string, verified: Promise<string>): Promise<void> {
    const final = this.paths.layer(chainId);
    if (await this.hasLayer(chainId)) return;
    const staging = join(this.paths.layers, `${STAGING}${hexOf(chainId).slice(0, 16)}-${randomBytes(4).toString('hex')}`);
    const parents = parentChainIds.reverse().map((c) => this.paths.layer(c)).map((path) => ({ id: this.ops.nameToGuid(basename(path)), path }));
    let transport: string | undefined;
    try {
      if (parents.length === 0) {
        await mkdir(staging);
        await applyLayer(blob, layer.compression, layer.diffId, LayerWriter.base(this.ops, staging));
      } else {
        transport = join(this.paths.tmp, `import-${randomBytes(6).toString('hex')}`);
        await mkdir(transport);
        await applyLayer(blob, layer.compression, layer.diffId, LayerWriter.transport(this.ops, transport, staging, parents));
      }
      await verified; // the compressed digest: a layer from a stream is committed only after it
      // UNVERIFIED on Windows: renaming a processed layer folder keeps it valid (blank.vhdx's parent locator).
      await rename(staging, final).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST' && err.code !== 'EPERM') throw err;
        this.ops.destroyLayer(staging); // another process imported it first
      });
    } catch (err) {
      this.ops.destroyLayer(staging);
      throw err;
    } finally {
      if (transport) await rm(transport, { recursive: true, force: true });
    }
  }

  private async writeRecord(r: ImageRecord): Promise<void> {
    const file = join(this.paths.images, recordName(r.reference));
    const tmp = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    await writeFile(tmp, `${JSON.stringify(r, null, 2)}\n`);
    await rename(tmp, file);
  }
}

function toRecord(ref: ImageReference, r: ResolvedImage, ids: string[]): ImageRecord {
  const c = r.config.config ?? {};
  const process: ImageProcessDefaults = {
    ...(c.Entrypoint ? { entrypoint: c.Entrypoint } : {}),
    ...(c.Cmd ? { cmd: c.Cmd } : {}),
    ...(c.Env ? { env: c.Env } : {}),
    ...(c.WorkingDir ? { workingDir: c.WorkingDir } : {}),
    ...(c.User ? { user: c.User } : {}),
  };
  return {
    reference: formatReference(ref),
    digest: r.digest,
    manifestDigest: r.manifestDigest,
    configDigest: r.configDigest,
    osVersion: r.config['os.version'],
    architecture: r.config.architecture,
    layers: r.layers.map((l, i) => ({ digest: l.digest, diffId: l.diffId, chainId: ids[i]!, size: l.size, mediaType: l.mediaType })),
    process,
    pulledAt: new Date().toISOString(),
  };
}
