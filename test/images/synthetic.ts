/**
 * Synthetic Windows images for tests and the benchmark: layer tars the way go-winio's backuptar
 * writes them (PAX MSWINDOWS.fileattr / MSWINDOWS.rawsd / LIBARCHIVE.creationtime, an ADS entry
 * `<file>:<stream>` right after its file, Files/ and Hives/ trees), gzip-compressed, plus an OCI
 * config, manifest and index for a Windows platform.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A minimal self-relative security descriptor (revision 1, SE_SELF_RELATIVE, no owner/DACL). */
export const RAW_SD = Buffer.from([1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** One tar entry of a synthetic layer. */
export interface EntrySpec {
  name: string;
  /** `symlink`: a reparse point to `linkname` (a junction with the PAX record MSWINDOWS.mountpoint). */
  type?: 'file' | 'directory' | 'link' | 'symlink';
  data?: Buffer | string;
  linkname?: string;
  /** Windows file attributes (MSWINDOWS.fileattr); default 32 (ARCHIVE) or 16 (DIRECTORY). */
  attributes?: number;
  pax?: Record<string, string>;
}

const HIVES = ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM'];

/** The entries of a small base layer: Files/ with the config hives, a file with an ADS, Hives/. */
export function baseLayerEntries(extra: EntrySpec[] = []): EntrySpec[] {
  return [
    { name: 'Files', type: 'directory' },
    { name: 'Files/Windows', type: 'directory' },
    { name: 'Files/Windows/System32', type: 'directory' },
    { name: 'Files/Windows/System32/config', type: 'directory' },
    ...HIVES.map((h): EntrySpec => ({ name: `Files/Windows/System32/config/${h}`, data: `regf-${h}` })),
    { name: 'Files/Windows/hello.txt', data: 'hello from a base layer\r\n' },
    { name: 'Files/Windows/hello.txt:stream1', data: 'alternate data' },
    { name: 'Hives', type: 'directory' },
    { name: 'Hives/DefaultUser_Delta', data: 'regf-delta' },
    ...extra,
  ];
}

/** Builds an uncompressed layer tar (PAX records on every entry, like go-winio). */
export async function layerTar(entries: EntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const created = String(Date.UTC(2024, 0, 1) / 1000);
  for (const e of entries) {
    const type = e.type ?? 'file';
    const attributes = e.attributes ?? (type === 'directory' ? 16 : 32);
    const pax: Record<string, string> = {
      'MSWINDOWS.fileattr': String(attributes),
      'MSWINDOWS.rawsd': RAW_SD.toString('base64'),
      'LIBARCHIVE.creationtime': created,
      ...e.pax,
    };
    if (e.name.includes(':')) delete pax['MSWINDOWS.rawsd']; // ADS entries carry only their data
    const data = type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    pack.entry({ name: e.name, type, size: data.length, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date(Date.UTC(2024, 0, 2)), ...(e.linkname ? { linkname: e.linkname } : {}), pax }, data);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A blob to push. */
export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  bytes: Buffer;
}

const blobOf = (mediaType: string, bytes: Buffer): Blob => ({ mediaType, digest: sha(bytes), size: bytes.length, bytes });

/** A complete image: blobs, the platform manifest and an index that points at it. */
export interface SyntheticImage {
  layers: Blob[];
  diffIds: string[];
  config: Blob;
  manifest: Blob;
  index: Blob;
  osVersion: string;
}

/** Builds a Windows image from layer tars (gzip'd here), for `osVersion` (default ltsc2022). */
export function windowsImage(tars: Buffer[], opts: { osVersion?: string; config?: Record<string, unknown>; gzip?: boolean } = {}): SyntheticImage {
  const osVersion = opts.osVersion ?? '10.0.20348.1';
  const gzip = opts.gzip ?? true;
  const layers = tars.map((t) => blobOf(gzip ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar', gzip ? gzipSync(t, { level: 1 }) : t));
  const diffIds = tars.map((t) => sha(t));
  const config = blobOf(
    'application/vnd.oci.image.config.v1+json',
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'windows', 'os.version': osVersion, config: { Cmd: ['c:\\windows\\system32\\cmd.exe'], Env: ['PATH=C:\\Windows\\system32;C:\\Windows'], WorkingDir: 'C:\\', User: 'ContainerUser', ...opts.config }, rootfs: { type: 'layers', diff_ids: diffIds } })),
  );
  const desc = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = blobOf('application/vnd.oci.image.manifest.v1+json', Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: desc(config), layers: layers.map(desc) })));
  const index = indexOf([{ manifest, osVersion }]);
  return { layers, diffIds, config, manifest, index, osVersion };
}

/** An OCI index over several platform manifests. */
export function indexOf(entries: { manifest: Blob; osVersion: string; os?: string; architecture?: string }[]): Blob {
  return blobOf(
    'application/vnd.oci.image.index.v1+json',
    Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: entries.map((e) => ({ mediaType: e.manifest.mediaType, digest: e.manifest.digest, size: e.manifest.size, platform: { os: e.os ?? 'windows', architecture: e.architecture ?? 'amd64', 'os.version': e.osVersion } })),
    })),
  );
}

/** Pushes blobs and manifests through the distribution API (monolithic POST + PUT uploads). */
export async function pushImage(base: string, repo: string, tag: string, img: SyntheticImage, opts: { pushIndex?: boolean } = {}): Promise<void> {
  for (const b of [...img.layers, img.config]) await pushBlob(base, repo, b);
  await putManifest(base, repo, img.manifest.digest, img.manifest);
  await putManifest(base, repo, tag, opts.pushIndex === false ? img.manifest : img.index);
}

/** Uploads one blob (POST /blobs/uploads/, PUT ?digest=). */
export async function pushBlob(base: string, repo: string, b: Blob): Promise<void> {
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`POST upload ${repo}: ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, base);
  loc.searchParams.set('digest', b.digest);
  const put = await fetch(loc, { method: 'PUT', body: Readable.toWeb(Readable.from([b.bytes])) as ReadableStream, headers: { 'content-type': 'application/octet-stream', 'content-length': String(b.size) }, duplex: 'half' } as RequestInit);
  if (put.status !== 201) throw new Error(`PUT blob ${b.digest}: ${put.status} ${await put.text()}`);
}

/** PUTs a manifest or index under a tag or digest. */
export async function putManifest(base: string, repo: string, selector: string, m: Blob): Promise<void> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${selector}`, { method: 'PUT', body: new Uint8Array(m.bytes), headers: { 'content-type': m.mediaType } });
  if (res.status !== 201) throw new Error(`PUT manifest ${repo}:${selector}: ${res.status} ${await res.text()}`);
}
