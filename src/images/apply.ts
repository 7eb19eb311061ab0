/**
 * Applies one layer blob to a writer: gunzip (when compressed), sha256 of the uncompressed tar
 * (checked against the config's diff_id), tar-stream entries -> writer calls, streaming throughout
 * (one chunk in memory at a time). Tar semantics follow hcsshim's `ociwclayer.ImportLayerFromTar`
 * (provisioning.md 2.3): `.wh.` names are whiteouts, hard links are links, `<file>:<stream>` entries
 * are alternate data streams of the file just before them.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import tar from 'tar-stream';
import { RegistryError } from '../registry/index.ts';
import { basicInfoOf, FILE_ATTRIBUTE_REPARSE_POINT, paxOf, reparseBuffer, securityDescriptorOf } from './backup.ts';
import type { LayerWriter } from './writers.ts';

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Normalises a tar path: `./Files/x` / `/Files/x` / `Files\x` -> `Files/x`. */
export function entryName(raw: string): string {
  return raw.replace(/\\/g, '/').replace(/^\.?\/+/, '').replace(/\/+$/, '');
}

/** Progress of an apply: uncompressed bytes read so far. */
export type ApplyProgress = (bytes: number) => void;

/**
 * Reads the blob (a file, or the download stream itself), writes every entry through `writer`, checks the diff_id, then `writer.finish()`.
 * On any error the writer is aborted and the error is rethrown (the caller removes the folder).
 */
export async function applyLayer(blob: string | Readable, compression: 'gzip' | 'none', diffId: string, writer: LayerWriter, onProgress?: ApplyProgress): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  const seen = (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    onProgress?.(bytes);
  };
  const tee = new Transform({
    transform(chunk: Buffer, _e, cb) {
      seen(chunk);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const consume = consumeEntries(extract, writer);
  let gunzip: Transform | undefined;
  try {
    if (compression === 'gzip') {
      gunzip = createGunzip({ chunkSize: GUNZIP_OUT, highWaterMark: GUNZIP_AHEAD } as ZlibOptions); // stream options pass through to the Transform
      await Promise.all([feed(blob, gunzip), inflated(gunzip, seen, extract), consume]);
    } else {
      const source: Readable = typeof blob === 'string' ? createReadStream(blob, { highWaterMark: 1 << 20 }) : blob;
      await Promise.all([pipeline(source, tee, extract), consume]);
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== diffId) throw new RegistryError('digest', `layer ${diffId}: uncompressed content has digest ${got}`);
    await writer.finish();
  } catch (err) {
    await writer.abort();
    extract.destroy();
    gunzip?.destroy();
    if (typeof blob !== 'string') blob.destroy(); // as pipeline did: a tap's download goes on hashing alone
    throw err instanceof RegistryError ? err : new Error(`layer ${diffId}: ${(err as Error).message}`, { cause: err });
  }
}

async function consumeEntries(extract: tar.Extract, writer: LayerWriter): Promise<void> {
  let lastFile: string | undefined;
  for await (const entry of extract) {
    const h = entry.header;
    const name = entryName(h.name);
    const base = name.slice(name.lastIndexOf('/') + 1);
    const colon = name.indexOf(':');
    if (colon >= 0) {
      // An ADS entry must directly follow its file (go-winio WriteBackupStreamFromTarFile).
      const owner = name.slice(0, colon);
      if (owner !== lastFile || h.type !== 'file') throw new Error(`${name}: alternate data stream entry does not follow its file`);
      await writer.addStream(name.slice(colon + 1), h.size ?? 0);
      await pipe(entry, writer);
      continue;
    }
    lastFile = undefined;
    if (base === OPAQUE) throw new Error(`${name}: opaque whiteouts are not supported in Windows layers`);
    if (base.startsWith(WHITEOUT)) {
      await writer.remove(`${name.slice(0, name.length - base.length)}${base.slice(WHITEOUT.length)}`);
      entry.resume();
      continue;
    }
    if (h.type === 'link') {
      await writer.addLink(name, entryName(h.linkname ?? ''));
      entry.resume();
      continue;
    }
    const info = basicInfoOf(h);
    const sd = securityDescriptorOf(h);
    if (h.type === 'symlink') {
      const pax = paxOf(h);
      const mount = pax['MSWINDOWS.mountpoint'] !== undefined;
      const isDir = (info.fileAttributes & 0x10) !== 0;
      await writer.add({ name, isDir, info: { ...info, fileAttributes: info.fileAttributes | FILE_ATTRIBUTE_REPARSE_POINT }, ...(sd ? { securityDescriptor: sd } : {}), reparse: reparseBuffer(h.linkname ?? '', mount) });
      entry.resume();
      continue;
    }
    if (h.type !== 'file' && h.type !== 'directory' && h.type !== 'contiguous-file') throw new Error(`${name}: tar entry type ${h.type} is not supported in Windows layers`);
    const isDir = h.type === 'directory';
    await writer.add({ name, isDir, info, ...(sd ? { securityDescriptor: sd } : {}), ...(isDir ? {} : { size: h.size ?? 0 }) });
    if (!isDir) lastFile = name;
    await pipe(entry, writer);
  }
}

async function pipe(entry: AsyncIterable<unknown>, writer: LayerWriter): Promise<void> {
  for await (const chunk of entry) {
    const pending = writer.write(chunk as Buffer);
    if (pending) await pending;
  }
}

/** Decompressed bytes zlib may run ahead of the hash and the tar parser. */
const GUNZIP_AHEAD = 2 << 20;

/**
 * Hands zlib's output to the diff_id hash and the tar parser through an async iterator. That
 * boundary is the point: piped, the hash, the tar parse and the writer ran inside zlib's callback,
 * before zlib queued its next inflate, so the pool thread and the main thread took turns; now zlib
 * inflates the next piece while this one is hashed and parsed (the image bench).
 */
async function inflated(gunzip: Readable, seen: (chunk: Buffer) => void, extract: tar.Extract): Promise<void> {
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      seen(chunk);
      if (!extract.write(chunk)) await once(extract, 'drain');
    }
    extract.end(undefined);
  } catch (err) {
    extract.destroy(err as Error);
    throw err;
  }
}

/** Compressed bytes per zlib write (one thread-pool round trip each). */
const GUNZIP_IN = 1 << 20;
/**
 * zlib's output buffer: a fresh one per chunk (zlib's own), so not larger than needed; 256 KiB
 * measured as fast as 1 MiB (the writer coalesces BackupWrite calls to 1 MiB anyway).
 */
const GUNZIP_OUT = 256 << 10;

/**
 * A few input buffers for the decompressor, reused: zlib's write callback comes once the chunk is
 * consumed (its window is its own copy), so the buffer can be filled again. Fresh large buffers
 * are what cost here (every one is new memory to fault in, and external memory that drives V8's
 * full collections; the image bench), and zlib does one thread-pool round trip per input chunk,
 * so the 64 KiB socket chunks are gathered into {@link GUNZIP_IN}-byte ones.
 */
class InputRing {
  readonly #free: Buffer[] = [];
  readonly #waiting: ((b: Buffer) => void)[] = [];
  constructor(count: number, size: number) {
    for (let i = 0; i < count; i++) this.#free.push(Buffer.allocUnsafe(size));
  }
  #closed = false;
  /** A free buffer; after {@link close}, an empty one (the sink is gone: stop feeding). */
  take(): Buffer | Promise<Buffer> {
    if (this.#closed) return Buffer.alloc(0);
    return this.#free.pop() ?? new Promise((resolve) => this.#waiting.push(resolve));
  }
  /** The sink closed: a write callback that never comes must not leave the feeder waiting. */
  close(): void {
    this.#closed = true;
    for (const w of this.#waiting.splice(0)) w(Buffer.alloc(0));
  }
  give(b: Buffer): void {
    const w = this.#waiting.shift();
    if (w) w(b);
    else this.#free.push(b);
  }
}

/** Writes `b` (a ring buffer, or part of one) to `sink`; the buffer returns to the ring once zlib consumed it. */
function send(sink: Writable, ring: InputRing, whole: Buffer, b: Buffer): void {
  sink.write(b, () => ring.give(whole));
}

/** Feeds a blob file or download stream into the decompressor in reused {@link GUNZIP_IN}-byte buffers, then ends it. */
async function feed(blob: string | Readable, sink: Writable): Promise<void> {
  const ring = new InputRing(3, GUNZIP_IN);
  sink.once('close', () => ring.close());
  try {
    if (typeof blob === 'string') {
      const fh = await open(blob, 'r');
      try {
        for (;;) {
          const buf = await ring.take();
          if (sink.destroyed) break;
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0 || sink.destroyed) break;
          send(sink, ring, buf, buf.subarray(0, bytesRead));
        }
      } finally {
        await fh.close();
      }
      if (!sink.destroyed) sink.end();
    } else {
      await gather(blob, sink, ring);
    }
  } catch (err) {
    sink.destroy(err as Error);
    throw err;
  }
}

/**
 * Copies a download stream's chunks into ring buffers and writes each full one to `sink`, then
 * ends it. 'data' events, not an async iterator: one promise per 64 KiB chunk was measurable.
 * The source is paused while every buffer is with zlib (backpressure).
 */
function gather(src: Readable, sink: Writable, ring: InputRing): Promise<void> {
  return new Promise((resolve, reject) => {
    const queue: Buffer[] = [];
    let cur: Buffer | undefined;
    let used = 0;
    let ended = false;
    let waiting = false;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve();
    };
    const pump = (): void => {
      while (!settled && (queue.length > 0 || ended)) {
        if (sink.destroyed) return finish(); // the sink's own error is the pipeline's
        if (!cur) {
          const b = ring.take();
          if (b instanceof Promise) {
            if (!waiting) {
              waiting = true;
              src.pause();
              void b.then((free) => {
                waiting = false;
                cur = free;
                used = 0;
                src.resume();
                pump();
              });
            }
            return;
          }
          cur = b;
          used = 0;
        }
        if (cur.length === 0) return finish(); // the ring closed: the sink is gone
        const chunk = queue[0];
        if (!chunk) {
          if (used > 0) send(sink, ring, cur, cur.subarray(0, used));
          else ring.give(cur);
          cur = undefined;
          sink.end();
          return finish();
        }
        const n = Math.min(chunk.length, cur.length - used);
        chunk.copy(cur, used, 0, n);
        used += n;
        if (n === chunk.length) queue.shift();
        else queue[0] = chunk.subarray(n);
        if (used === cur.length) {
          send(sink, ring, cur, cur);
          cur = undefined;
        }
      }
    };
    src.on('data', (c: Buffer) => {
      queue.push(c);
      pump();
    });
    src.once('end', () => {
      ended = true;
      pump();
    });
    src.once('error', (err) => finish(err));
    src.once('close', () => {
      if (!ended) finish(new Error('the layer stream closed before its end'));
    });
  });
}
