/**
 * Content-addressed blob downloads: streamed to `tmp/<hex>.partial` while hashing, verified
 * (size and sha256), then renamed into `blobs/sha256/<hex>`. An interrupted download resumes from
 * the partial file with a Range request (the bytes already there are re-hashed first); a server
 * that ignores Range restarts it from zero. Concurrent requests for one digest share one download.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RegistryError, type Descriptor, type ImageReference, type RegistryClient } from '../registry/index.ts';
import type { StorePaths } from './paths.ts';

/** Progress of one blob: bytes present (including resumed ones) of the total. */
export type BlobProgress = (done: number, total: number) => void;

/** The error a tap ends with when it was not fed (blob present, resumed, or already being downloaded). */
export class TapUnused extends Error {
  constructor(digest: string) {
    super(`blob ${digest} was not streamed to the importer; import from the file`);
  }
}

/** The error a tap ends with when its download broke off (the download goes on, or restarts, into a file). */
export class TapBroken extends Error {
  constructor(cause: Error) {
    super(`the download stream broke off (${cause.message}); import from the file`, { cause });
  }
}

/**
 * Writes every chunk to the file (if any) and to the tap, waiting for both (backpressure from
 * either). A tap that fails is dropped and the download goes on into the file alone, or, without a
 * file, is only hashed to its end (so a tampered blob still fails with its digest error, not with
 * whatever the importer made of the bad bytes).
 */
class Fanout extends Writable {
  private tapOk = true;
  constructor(private readonly file: Writable | undefined, private readonly tap: Writable) {
    super({ highWaterMark: 1 << 20 });
    file?.on('error', (err) => this.destroy(err));
    tap.on('error', () => (this.tapOk = false));
    tap.on('close', () => (this.tapOk = false));
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const useTap = this.tapOk && !this.tap.destroyed;
    let pending = useTap ? 2 : 1;
    const one = () => void (--pending === 0 && cb());
    if (!this.file || this.file.write(chunk)) one();
    else this.file.once('drain', one);
    if (!useTap) return;
    if (this.tap.write(chunk)) return one();
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      this.tap.off('drain', settle);
      this.tap.off('close', settle);
      one();
    };
    this.tap.once('drain', settle);
    this.tap.once('close', settle); // a tap destroyed while we wait never drains
  }
  override _final(cb: (err?: Error | null) => void): void {
    if (this.tapOk && !this.tap.destroyed) this.tap.end();
    if (this.file) this.file.end(cb);
    else cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // autoDestroy runs this after a clean finish too: the tap then still holds data for the importer.
    if (err && !this.tap.destroyed) this.tap.destroy(new TapBroken(err));
    if (err) this.file?.destroy();
    cb(err);
  }
}

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

  /**
   * The blob's path, downloading it first if needed. Concurrent calls for one digest download once.
   * With a `tap`, a download from byte 0 goes to the tap only (the importer), not to a file: the
   * layer folder is the durable form, and writing the blob as well doubled the disk writes of a
   * pull (the image bench). The promise then resolves with a path that does not exist; a download
   * interrupted there restarts from zero into a file (attempt 2 on), and a caller that joined it
   * downloads the blob to a file afterwards.
   */
  ensure(client: RegistryClient, ref: ImageReference, desc: Descriptor, onProgress?: BlobProgress, signal?: AbortSignal, tap?: Writable): Promise<string> {
    const existing = this.inFlight.get(desc.digest);
    if (existing) {
      tap?.destroy(new TapUnused(desc.digest));
      return existing.then(async (path) => ((await this.has(desc.digest)) ? path : this.ensure(client, ref, desc, onProgress, signal)));
    }
    const p = this.download(client, ref, desc, onProgress, signal, tap).finally(() => this.inFlight.delete(desc.digest));
    this.inFlight.set(desc.digest, p);
    return p;
  }

  private async download(client: RegistryClient, ref: ImageReference, desc: Descriptor, onProgress?: BlobProgress, signal?: AbortSignal, tap?: Writable): Promise<string> {
    const final = this.paths.blob(desc.digest);
    if ((await sizeOf(final)) === desc.size) {
      tap?.destroy(new TapUnused(desc.digest));
      onProgress?.(desc.size, desc.size);
      return final;
    }
    await mkdir(this.paths.tmp, { recursive: true });
    await mkdir(this.paths.blobs, { recursive: true });
    const partial = this.paths.partial(desc.digest);
    for (let attempt = 1; ; attempt++) {
      const t = attempt === 1 ? tap : undefined; // only a download from byte 0 can feed the importer
      try {
        const streamed = await this.attempt(client, ref, desc, partial, onProgress, signal, t);
        if (!streamed) await rename(partial, final);
        return final;
      } catch (err) {
        t?.destroy(err as Error);
        const retry = err instanceof RegistryError && err.kind === 'network' && attempt < ATTEMPTS && !signal?.aborted;
        if (!retry) {
          // A digest or size failure means the bytes are wrong: never resume from them.
          if (!(err instanceof RegistryError && err.kind === 'network')) await rm(partial, { force: true });
          throw err;
        }
      }
    }
  }

  /** One download attempt; true when it went to the tap only (no file). */
  private async attempt(client: RegistryClient, ref: ImageReference, desc: Descriptor, partial: string, onProgress?: BlobProgress, signal?: AbortSignal, tap?: Writable): Promise<boolean> {
    let have = (await sizeOf(partial)) ?? 0;
    if (have > desc.size) {
      await rm(partial, { force: true });
      have = 0;
    }
    const hash = createHash('sha256');
    const blob = have === desc.size ? undefined : await client.openBlob(ref, desc, have, signal);
    if (blob && blob.offset === 0 && have > 0) have = 0; // Range ignored: start over
    if (have > 0) await hashFile(partial, hash);
    if (tap && (have > 0 || !blob)) {
      tap.destroy(new TapUnused(desc.digest));
      tap = undefined;
    }
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
        const file = tap ? undefined : createWriteStream(partial, { flags: have > 0 ? 'a' : 'w', highWaterMark: 1 << 20 });
        await pipeline(blob.body, meter, tap ? new Fanout(file, tap) : file!, ...(signal ? [{ signal }] : []));
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        throw new RegistryError('network', `blob ${desc.digest}: download interrupted at ${done} of ${desc.size} bytes: ${(err as Error).message}`, { cause: err });
      }
    }
    if (done < desc.size) throw new RegistryError('network', `blob ${desc.digest}: stream ended at ${done} of ${desc.size} bytes`);
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== desc.digest) throw new RegistryError('digest', `blob ${desc.digest}: downloaded content has digest ${got}`);
    return tap !== undefined;
  }
}
