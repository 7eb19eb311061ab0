/**
 * The distribution API client (provisioning.md 3.1): resolves a reference to a verified manifest
 * and config for this host's platform, and opens blob streams (with Range for resuming, foreign
 * `urls` first). Every manifest and config is checked against its digest here; blobs are
 * checked by whoever consumes the stream (the store hashes while it writes).
 */
import { createHash } from 'node:crypto';
import { RegistryError, registryErrorText } from './errors.ts';
import { Authenticator, type CredentialStore } from './auth.ts';
import { apiHost, formatReference, manifestSelector, type ImageReference } from './reference.ts';
import { describePlatforms, isCompatibleOsVersion, selectPlatform, type HostPlatform, type Platform } from './platform.ts';
import { drain, readBody, redirectTarget, registryScheme, send, type HttpResponse, type TransportOptions } from './transport.ts';
import { DOCKER_CONFIG, MANIFEST_ACCEPT, OCI_CONFIG, isIndexType, isManifestType, layerCompression } from './media.ts';

/** A content descriptor (image-spec descriptor.md). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  platform?: Platform;
}

/** The parts of the image config the controller uses (image-spec config.md). */
export interface ImageConfig {
  os: string;
  architecture: string;
  'os.version'?: string;
  config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string };
  rootfs: { type: string; diff_ids: string[] };
}

/** A layer to fetch: its descriptor plus the uncompressed digest from the config. */
export interface LayerRef extends Descriptor {
  diffId: string;
  compression: 'gzip' | 'none';
}

/** A reference resolved for this host and verified. */
export interface ResolvedImage {
  reference: ImageReference;
  /** Digest the reference points at (an index's digest for multi-platform images): what a tag resolves to. */
  digest: string;
  /** Digest of the platform manifest that was chosen. */
  manifestDigest: string;
  configDigest: string;
  config: ImageConfig;
  layers: LayerRef[];
}

/** An open blob body. */
export interface BlobStream {
  body: HttpResponse['body'];
  /** Offset the body starts at (0 unless a Range request was honoured with 206). */
  offset: number;
  /** Full blob size as the server states it, if it did. */
  totalSize: number | undefined;
}

/** Options of a client. */
export interface RegistryClientOptions extends TransportOptions {
  credentials?: CredentialStore;
  platform: HostPlatform;
}

const MANIFEST_LIMIT = 4 << 20; // Docker's manifest size cap
const CONFIG_LIMIT = 16 << 20;
const MAX_REDIRECTS = 5;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** sha256 of bytes as `sha256:<hex>`. */
export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The registry client. One per command/controller; safe for concurrent pulls. */
export class RegistryClient {
  private readonly auth: Authenticator;
  constructor(private readonly opts: RegistryClientOptions) {
    this.auth = new Authenticator(opts, opts.credentials);
  }

  /** Resolves `ref` to the manifest for this host's platform, verifying every digest on the way. */
  async resolve(ref: ImageReference, signal?: AbortSignal): Promise<ResolvedImage> {
    const top = await this.fetchManifest(ref, manifestSelector(ref), signal);
    let manifestDigest = top.digest;
    let manifest = top.json;
    if (isIndexType(top.mediaType)) {
      const entries = (top.json.manifests ?? []) as Descriptor[];
      const chosen = selectPlatform(entries, this.opts.platform);
      if (!chosen) {
        throw new RegistryError(
          'platform',
          `${formatReference(ref)}: no image for this host (windows/${this.opts.platform.architecture} ${this.opts.platform.osVersion}); the index offers ${describePlatforms(entries)}`,
        );
      }
      const child = await this.fetchManifest(ref, chosen.digest, signal);
      if (!isManifestType(child.mediaType)) throw new RegistryError('protocol', `${formatReference(ref)}: index entry ${chosen.digest} is ${child.mediaType}, not an image manifest`);
      manifestDigest = child.digest;
      manifest = child.json;
    } else if (!isManifestType(top.mediaType)) {
      throw new RegistryError('protocol', `${formatReference(ref)}: unsupported manifest type ${top.mediaType} (schema 1 manifests are not supported)`);
    }
    const configDesc = checkDescriptor(manifest.config as Descriptor | undefined, 'config');
    if (configDesc.mediaType !== OCI_CONFIG && configDesc.mediaType !== DOCKER_CONFIG) {
      throw new RegistryError('protocol', `${formatReference(ref)}: config media type ${configDesc.mediaType} is not an image config`);
    }
    const configBytes = await this.fetchSmallBlob(ref, configDesc, CONFIG_LIMIT, signal);
    const config = parseConfig(configBytes, ref);
    this.checkPlatform(ref, config);
    const layerDescs = ((manifest.layers ?? []) as Descriptor[]).map((d, i) => checkDescriptor(d, `layers[${i}]`));
    if (layerDescs.length === 0 || layerDescs.length !== config.rootfs.diff_ids.length) {
      throw new RegistryError('protocol', `${formatReference(ref)}: ${layerDescs.length} layers but ${config.rootfs.diff_ids.length} diff_ids in the config`);
    }
    const layers = layerDescs.map((d, i): LayerRef => {
      const compression = layerCompression(d.mediaType);
      if (compression === undefined || compression === 'zstd') {
        throw new RegistryError('protocol', `${formatReference(ref)}: layer ${d.digest} has media type ${d.mediaType}, which is not supported (gzip or uncompressed tar only)`);
      }
      const diffId = config.rootfs.diff_ids[i]!;
      if (!DIGEST.test(diffId)) throw new RegistryError('protocol', `${formatReference(ref)}: diff_ids[${i}] "${diffId}" is not a sha256 digest`);
      return { ...d, diffId, compression };
    });
    return { reference: ref, digest: top.digest, manifestDigest, configDigest: configDesc.digest, config, layers };
  }

  private checkPlatform(ref: ImageReference, config: ImageConfig): void {
    const host = this.opts.platform;
    const v = config['os.version'];
    if (config.os !== 'windows' || config.architecture !== host.architecture || (v !== undefined && !isCompatibleOsVersion(host.osVersion, v))) {
      throw new RegistryError(
        'platform',
        `${formatReference(ref)}: image is ${config.os}/${config.architecture} ${v ?? '(no os.version)'}, which does not run process-isolated on this host (windows/${host.architecture} ${host.osVersion})`,
      );
    }
  }

  /**
   * Opens a blob body from `offset` (Range). Foreign layers try their `urls` first without any
   * credentials (containerd's fetcher order), then the registry.
   */
  async openBlob(ref: ImageReference, desc: Descriptor, offset = 0, signal?: AbortSignal): Promise<BlobStream> {
    const range: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    const errors: string[] = [];
    for (const u of desc.urls ?? []) {
      let url: URL;
      try {
        url = new URL(u);
      } catch {
        continue;
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
      try {
        const res = await this.follow(url, range, undefined, signal);
        if (res.status === 200 || res.status === 206) return blobStream(res, offset);
        errors.push(`${url.host}: ${res.status}`);
        drain(res);
      } catch (err) {
        errors.push(`${url.host}: ${(err as Error).message}`);
      }
    }
    const res = await this.registryGet(ref, `blobs/${desc.digest}`, range, signal);
    if (res.status === 200 || res.status === 206) return blobStream(res, offset);
    const text = registryErrorText((await readBody(res, 1 << 16)).toString('utf8'));
    const kind = res.status === 404 ? 'not-found' : res.status === 401 || res.status === 403 ? 'auth' : 'protocol';
    throw new RegistryError(kind, `${formatReference(ref)}: blob ${desc.digest}: ${res.status} ${text}${errors.length ? ` (urls: ${errors.join('; ')})` : ''}`, { status: res.status });
  }

  private async fetchSmallBlob(ref: ImageReference, desc: Descriptor, limit: number, signal?: AbortSignal): Promise<Buffer> {
    if (desc.size > limit) throw new RegistryError('protocol', `${formatReference(ref)}: blob ${desc.digest} is ${desc.size} bytes (limit ${limit})`);
    const { body } = await this.openBlob(ref, desc, 0, signal);
    const bytes = await readBody({ body } as HttpResponse, limit);
    const got = sha256(bytes);
    if (got !== desc.digest) throw new RegistryError('digest', `${formatReference(ref)}: blob ${desc.digest} has digest ${got}`);
    return bytes;
  }

  private async fetchManifest(ref: ImageReference, selector: string, signal?: AbortSignal): Promise<{ digest: string; mediaType: string; json: Record<string, unknown> }> {
    const res = await this.registryGet(ref, `manifests/${selector}`, { accept: MANIFEST_ACCEPT }, signal);
    const body = await readBody(res, MANIFEST_LIMIT);
    if (res.status !== 200) {
      const kind = res.status === 404 ? 'not-found' : res.status === 401 || res.status === 403 ? 'auth' : 'protocol';
      throw new RegistryError(kind, `${formatReference(ref)}: manifest ${selector}: ${res.status} ${registryErrorText(body.toString('utf8'))}`, { status: res.status });
    }
    const digest = sha256(body);
    if (selector.startsWith('sha256:') && digest !== selector) {
      throw new RegistryError('digest', `${formatReference(ref)}: manifest ${selector} has digest ${digest}`);
    }
    const header = res.headers['docker-content-digest'];
    if (typeof header === 'string' && header !== '' && header !== digest) {
      throw new RegistryError('digest', `${formatReference(ref)}: manifest ${selector} has digest ${digest}, the registry says ${header}`);
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      throw new RegistryError('protocol', `${formatReference(ref)}: manifest ${selector} is not JSON`);
    }
    const contentType = (res.headers['content-type'] ?? '').split(';')[0]!.trim();
    const declared = typeof json.mediaType === 'string' ? json.mediaType : undefined;
    // DIST "Pulling manifests": reject when mediaType and Content-Type disagree.
    if (declared !== undefined && contentType !== '' && declared !== contentType) {
      throw new RegistryError('protocol', `${formatReference(ref)}: manifest mediaType ${declared} does not match Content-Type ${contentType}`);
    }
    return { digest, mediaType: declared ?? contentType, json };
  }

  /** GET /v2/<repo>/<path> with auth (one challenge round) and redirects. */
  private async registryGet(ref: ImageReference, path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<HttpResponse> {
    const host = apiHost(ref.domain);
    const url = new URL(`${registryScheme(host, this.opts)}://${host}/v2/${ref.repository}/${path}`);
    const scope = `repository:${ref.repository}:pull`;
    const authFor = () => this.auth.header(ref.domain, scope);
    let res = await this.follow(url, headers, authFor(), signal);
    if (res.status === 401) {
      const challenge = res.headers['www-authenticate'];
      drain(res);
      await this.auth.answer(ref.domain, scope, Array.isArray(challenge) ? challenge[0] : challenge, signal);
      res = await this.follow(url, headers, authFor(), signal);
    }
    return res;
  }

  /** Sends and follows redirects; `authorization` goes only to the original host (DIST "API": never across hosts). */
  private async follow(start: URL, headers: Record<string, string>, authorization: string | undefined, signal?: AbortSignal): Promise<HttpResponse> {
    let url = start;
    for (let hop = 0; ; hop++) {
      const h = { ...headers, ...(authorization !== undefined && url.host === start.host ? { authorization } : {}) };
      const res = await send(url, this.opts, { headers: h, ...(signal ? { signal } : {}) });
      const next = redirectTarget(res);
      if (!next) return res;
      drain(res);
      if (hop >= MAX_REDIRECTS) throw new RegistryError('protocol', `${start.pathname}: more than ${MAX_REDIRECTS} redirects`);
      url = next;
    }
  }
}

function blobStream(res: HttpResponse, requested: number): BlobStream {
  if (res.status === 206) {
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
    const start = m ? Number(m[1]) : NaN;
    if (start !== requested) {
      res.body.destroy();
      throw new RegistryError('protocol', `${res.url.pathname}: 206 for offset ${requested} has Content-Range ${res.headers['content-range'] ?? '(none)'}`);
    }
    return { body: res.body, offset: start, totalSize: m && m[2] !== '*' ? Number(m[2]) : undefined };
  }
  const len = Number(res.headers['content-length']);
  return { body: res.body, offset: 0, totalSize: Number.isFinite(len) ? len : undefined };
}

function checkDescriptor(d: Descriptor | undefined, what: string): Descriptor {
  if (!d || typeof d.digest !== 'string' || !DIGEST.test(d.digest) || typeof d.size !== 'number' || d.size < 0 || typeof d.mediaType !== 'string') {
    throw new RegistryError('protocol', `manifest ${what}: not a descriptor with mediaType, a sha256 digest and a size`);
  }
  return d;
}

function parseConfig(bytes: Buffer, ref: ImageReference): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(bytes.toString('utf8')) as ImageConfig;
  } catch {
    throw new RegistryError('protocol', `${formatReference(ref)}: image config is not JSON`);
  }
  if (typeof c.os !== 'string' || !c.rootfs || !Array.isArray(c.rootfs.diff_ids)) {
    throw new RegistryError('protocol', `${formatReference(ref)}: image config lacks os or rootfs.diff_ids`);
  }
  return c;
}
