/**
 * Content-addressed blob downloads: streamed to `tmp/<hex>.partial` while hashing, verified
 * (size and sha256), then renamed into `blobs/sha256/<hex>`. An interrupted download resumes from
 * the partial file with a Range request (the bytes already there are re-hashed first); a server
 * that ignores Range restarts it from zero. Concurrent requests for one digest share one download.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError, type Descriptor, type ImageReference, type RegistryClient } from '../registry/index.ts';
import type { StorePaths } from './paths.ts';

/** Progress of one blob: bytes present (including resumed ones) of the total. */
export type BlobProgress = (done: number, total: number) => void;

/** Attempts per blob (the first try plus resumes after a network error). */
const ATTEMPTS = 4;

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
}

/** Downloads verified blobs into a store; one per store. */
export class BlobFetcher {
  private readonly inFlight = new Map<string, Promise<string>>();
  constructor(private readonly paths: StorePaths) {}

  /** Whether the blob is already complete in the store. */
  async has(digest: string): Promise<boolean> {
    return (await sizeOf(this.paths.blob(digest))) !== undefined;
  }

  /** The blob's path, downloading it first if needed. Concurrent calls for one digest download once. */
  ensure(client: RegistryClient, ref: ImageReference, desc: Descriptor, onProgress?: BlobProgress, signal?: AbortSignal): Promise<string> {
    const existing = this.inFlight.get(desc.digest);
    if (existing) return existing;
    const p = this.download(client, ref, desc, onProgress, signal).finally(() => this.inFlight.delete(desc.digest));
    this.inFlight.set(desc.digest, p);
    return p;
  }

  private async download(client: RegistryClient, ref: ImageReference, desc: Descriptor, onProgress?: BlobProgress, signal?: AbortSignal): Promise<string> {
    const final = this.paths.blob(desc.digest);
    if ((await sizeOf(final)) === desc.size) {
      onProgress?.(desc.size, desc.size);
      return final;
    }
    await mkdir(this.paths.tmp, { recursive: true });
    await mkdir(this.paths.blobs, { recursive: true });
    const partial = this.paths.partial(desc.digest);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.attempt(client, ref, desc, partial, onProgress, signal);
        await rename(partial, final);
        return final;
      } catch (err) {
        const retry = err instanceof RegistryError && err.kind === 'network' && attempt < ATTEMPTS && !signal?.aborted;
        if (!retry) {
          // A digest or size failure means the bytes are wrong: never resume from them.
          if (!(err instanceof RegistryError && err.kind === 'network')) await rm(partial, { force: true });
          throw err;
        }
      }
    }
  }

  private async attempt(client: RegistryClient, ref: ImageReference, desc: Descriptor, partial: string, onProgress?: BlobProgress, signal?: AbortSignal): Promise<void> {
    let have = (await sizeOf(partial)) ?? 0;
    if (have > desc.size) {
      await rm(partial, { force: true });
      have = 0;
    }
    const hash = createHash('sha256');
    const blob = have === desc.size ? undefined : await client.openBlob(ref, desc, have, signal);
    if (blob && blob.offset === 0 && have > 0) have = 0; // Range ignored: start over
    if (have > 0) await hashFile(partial, hash);
    let done = have;
    onProgress?.(done, desc.size);
    if (blob) {
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          done += chunk.length;
          if (done > desc.size) return cb(new RegistryError('digest', `blob ${desc.digest}: more than the ${desc.size} bytes its descriptor states`));
          hash.update(chunk);
          onProgress?.(done, desc.size);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(blob.body, meter, createWriteStream(partial, { flags: have > 0 ? 'a' : 'w' }), ...(signal ? [{ signal }] : []));
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        throw new RegistryError('network', `blob ${desc.digest}: download interrupted at ${done} of ${desc.size} bytes: ${(err as Error).message}`, { cause: err });
      }
    }
    if (done < desc.size) throw new RegistryError('network', `blob ${desc.digest}: stream ended at ${done} of ${desc.size} bytes`);
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== desc.digest) throw new RegistryError('digest', `blob ${desc.digest}: downloaded content has digest ${got}`);
  }
}
