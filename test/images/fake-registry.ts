/**
 * A small in-test registry for what the real one cannot do: Bearer token challenges (with an
 * optional Basic login at the token endpoint), blob redirects to a second "CDN" host (which records
 * the headers it got), corrupted, truncated and slow blobs, Range support on/off, request counts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Blob, SyntheticImage } from './synthetic.ts';

export interface FakeOptions {
  /** Require `Authorization: Bearer <token>`; the token endpoint is /token on the same server. */
  token?: { value: string; basic?: { username: string; password: string } };
  /** Serve blobs by a 307 to the CDN server. */
  redirectBlobs?: boolean;
  /** Blob digest -> fault. */
  faults?: Map<string, 'corrupt' | 'truncate-once' | 'truncate-always' | 'slow'>;
  /** Honour Range requests (default true). */
  range?: boolean;
}

export interface FakeRegistry {
  host: string;
  base: string;
  cdnHeaders: Record<string, string | string[] | undefined>[];
  blobGets: Map<string, number>;
  tokenRequests: { authorization?: string; scope?: string | null }[];
  add(repo: string, tag: string, img: SyntheticImage): void;
  addManifest(repo: string, selector: string, m: Blob): void;
  /** Bytes that a slow blob sends before pausing; release() sends the rest. */
  release(): void;
  close(): Promise<void>;
}

const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

/** Starts the fake registry and its CDN on loopback ports. */
export async function startFakeRegistry(opts: FakeOptions = {}): Promise<FakeRegistry> {
  const manifests = new Map<string, Blob>();
  const blobs = new Map<string, Buffer>();
  const blobGets = new Map<string, number>();
  const truncatedOnce = new Set<string>();
  const cdnHeaders: FakeRegistry['cdnHeaders'] = [];
  const tokenRequests: FakeRegistry['tokenRequests'] = [];
  let releaseSlow: () => void = () => {};
  const slowGate = new Promise<void>((r) => (releaseSlow = r));

  const sendBlob = (req: IncomingMessage, res: ServerResponse, digest: string): void => {
    let bytes = blobs.get(digest);
    if (!bytes) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] }));
    blobGets.set(digest, (blobGets.get(digest) ?? 0) + 1);
    const fault = opts.faults?.get(digest);
    if (fault === 'corrupt') {
      bytes = Buffer.from(bytes);
      bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    }
    const m = opts.range !== false ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null;
    const start = m ? Number(m[1]) : 0;
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length - start) };
    if (m) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
    res.writeHead(m ? 206 : 200, headers);
    const body = bytes.subarray(start);
    const truncate = fault === 'truncate-always' || (fault === 'truncate-once' && !truncatedOnce.has(digest));
    if (truncate) {
      truncatedOnce.add(digest);
      // The connection drops mid-body, after the headers and half the body reached the client (a
      // drop before the headers is a request that got no response, which the client sends again).
      res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
      return;
    }
    if (fault === 'slow') {
      res.write(body.subarray(0, body.length >> 1));
      void slowGate.then(() => res.end(body.subarray(body.length >> 1)));
      return;
    }
    res.end(body);
  };

  const cdn = createServer((req, res) => {
    cdnHeaders.push({ ...req.headers });
    const digest = new URL(req.url!, 'http://x').pathname.slice(1);
    sendBlob(req, res, digest);
  });
  const cdnPort = await listen(cdn);

  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/token') {
      tokenRequests.push({ ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}), scope: url.searchParams.get('scope') });
      const basic = opts.token?.basic;
      if (basic && req.headers.authorization !== `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`) {
        return void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'wrong user name or password' }] }));
      }
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: opts.token?.value, expires_in: 300 }));
    }
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token.value}`) {
      const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(url.pathname)?.[1] ?? '';
      return void res
        .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Bearer realm="http://${req.headers.host}/token",service="fake",scope="repository:${repo}:pull"` })
        .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    }
    if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
    const mm = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (mm) {
      const m = manifests.get(`${mm[1]}@${mm[2]}`);
      if (!m) return void res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
      return void res.writeHead(200, { 'content-type': m.mediaType, 'docker-content-digest': m.digest, 'content-length': String(m.size) }).end(m.bytes);
    }
    const bm = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (bm) {
      if (opts.redirectBlobs) return void res.writeHead(307, { location: `http://127.0.0.1:${cdnPort}/${bm[2]}` }).end();
      return sendBlob(req, res, bm[2]!);
    }
    res.writeHead(404).end();
  });
  const port = await listen(server);
  const host = `127.0.0.1:${port}`;
  return {
    host,
    base: `http://${host}`,
    cdnHeaders,
    blobGets,
    tokenRequests,
    add(repo, tag, img) {
      for (const b of [...img.layers, img.config]) blobs.set(b.digest, b.bytes);
      manifests.set(`${repo}@${img.manifest.digest}`, img.manifest);
      manifests.set(`${repo}@${img.index.digest}`, img.index);
      manifests.set(`${repo}@${tag}`, img.index);
    },
    addManifest(repo, selector, m) {
      manifests.set(`${repo}@${selector}`, m);
    },
    release: () => releaseSlow(),
    async close() {
      releaseSlow();
      server.closeAllConnections();
      cdn.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => cdn.close(r))]);
    },
  };
}
