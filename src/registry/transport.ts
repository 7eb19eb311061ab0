/**
 * HTTP(S) requests for the registry client on node:http/node:https: responses are streams (a blob is
 * never buffered), redirects are followed by the caller (so credentials are dropped across hosts),
 * and plain HTTP is refused unless the host is loopback or listed with --insecure-registry
 * (Docker's rule: `registry/config.go` isSecureIndex; loopback is always insecure-allowed).
 */
import http, { type IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { RegistryError } from './errors.ts';

/** Which plain-HTTP hosts are allowed besides loopback. */
export interface TransportOptions {
  /** `HOST:PORT` entries (or bare `HOST`) that may be reached over plain HTTP. */
  insecureRegistries?: readonly string[];
  /** Per-request idle timeout (no bytes for this long), default 60 s. */
  idleTimeoutMs?: number;
  /** Extra headers on every request (User-Agent). */
  userAgent?: string;
}

/** One response: status, headers and the body stream (consume or destroy it). */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
  url: URL;
}

const agentOptions = { keepAlive: true, maxSockets: 16 };
const httpAgent = new http.Agent(agentOptions);
const httpsAgent = new https.Agent(agentOptions);

/** True for localhost, 127.0.0.0/8 and ::1. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** The scheme to use for a registry host: https unless loopback or listed insecure (then http). */
export function registryScheme(host: string, opts: TransportOptions): 'http' | 'https' {
  const hostname = host.replace(/:\d+$/, '');
  if (isLoopbackHost(hostname)) return 'http';
  return (opts.insecureRegistries ?? []).some((i) => i === host || i === hostname) ? 'http' : 'https';
}

function assertAllowed(url: URL, opts: TransportOptions): void {
  if (url.protocol === 'https:') return;
  if (url.protocol !== 'http:') throw new RegistryError('protocol', `refusing ${url.protocol} URL ${url.origin}: only http and https`);
  if (isLoopbackHost(url.hostname)) return;
  const list = opts.insecureRegistries ?? [];
  if (list.includes(url.host) || list.includes(url.hostname)) return;
  throw new RegistryError(
    'insecure',
    `refusing plain HTTP to ${url.host}: only loopback registries and hosts given with --insecure-registry ${url.host} may use http`,
  );
}

/** Sends one request (no redirect following) and resolves when the response headers arrive. */
export function send(
  url: URL,
  opts: TransportOptions,
  init: { method?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
  retried = false,
): Promise<HttpResponse> {
  try {
    assertAllowed(url, opts);
  } catch (err) {
    return Promise.reject(err);
  }
  const lib = url.protocol === 'https:' ? https : http;
  const headers = { 'user-agent': opts.userAgent ?? 'hcs-reconciler', ...init.headers };
  return new Promise((resolve, reject) => {
    let responded = false;
    const req = lib.request(
      url,
      { method: init.method ?? 'GET', headers, agent: url.protocol === 'https:' ? httpsAgent : httpAgent, ...(init.signal ? { signal: init.signal } : {}) },
      (res) => {
        responded = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url });
      },
    );
    req.setTimeout(opts.idleTimeoutMs ?? 60_000, () =>
      req.destroy(new RegistryError('network', `${init.method ?? 'GET'} ${url.origin}${url.pathname}: no data for ${opts.idleTimeoutMs ?? 60_000} ms`)),
    );
    req.on('error', (err) => {
      // A kept-alive socket the server closed just as this request went out (Node's docs for
      // `request.reusedSocket`): no response was received, so an idempotent request is sent once
      // more on a fresh connection. Seen as "socket hang up" under load (the server's keep-alive timeout).
      const code = (err as NodeJS.ErrnoException).code;
      if (req.reusedSocket && !responded && !retried && (code === 'ECONNRESET' || code === 'EPIPE') && (init.method ?? 'GET') !== 'POST' && !init.signal?.aborted) {
        resolve(send(url, opts, init, true));
        return;
      }
      reject(err instanceof RegistryError ? err : new RegistryError('network', `${init.method ?? 'GET'} ${url.origin}${url.pathname}: ${err.message}`, { cause: err }));
    });
    req.end();
  });
}

/** Reads a whole (small) body, refusing more than `limit` bytes. */
export async function readBody(res: HttpResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      res.body.destroy();
      throw new RegistryError('protocol', `${res.url.pathname}: response larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Discards a body so the socket can be reused. */
export function drain(res: HttpResponse): void {
  res.body.resume();
}

/** The redirect target of a 3xx response, or undefined when it is not a redirect. */
export function redirectTarget(res: HttpResponse): URL | undefined {
  if (![301, 302, 303, 307, 308].includes(res.status)) return undefined;
  const loc = res.headers.location;
  if (!loc) throw new RegistryError('protocol', `${res.url.pathname}: redirect ${res.status} without Location`, { status: res.status });
  return new URL(loc, res.url);
}
