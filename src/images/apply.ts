/**
 * Applies one layer blob to a writer: gunzip (when compressed), sha256 of the uncompressed tar
 * (checked against the config's diff_id), tar-stream entries -> writer calls, streaming throughout
 * (one chunk in memory at a time). Tar semantics follow hcsshim's `ociwclayer.ImportLayerFromTar`
 * (provisioning.md 2.3): `.wh.` names are whiteouts, hard links are links, `<file>:<stream>` entries
 * are alternate data streams of the file just before them.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
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
  const tee = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onProgress?.(bytes);
      cb(null, chunk);
    },
  });
  const extract = tar.extract();
  const consume = consumeEntries(extract, writer);
  const source: Readable = typeof blob === 'string' ? createReadStream(blob, { highWaterMark: 1 << 20 }) : blob;
  try {
    await Promise.all([
      compression === 'gzip' ? pipeline(source, createGunzip({ chunkSize: 1 << 20 }), tee, extract) : pipeline(source, tee, extract),
      consume,
    ]);
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== diffId) throw new RegistryError('digest', `layer ${diffId}: uncompressed content has digest ${got}`);
    await writer.finish();
  } catch (err) {
    await writer.abort();
    extract.destroy();
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
