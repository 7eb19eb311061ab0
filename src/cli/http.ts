/**
 * The controller's local HTTP endpoint: /healthz, /readyz (first full reconcile done), /status
 * (JSON), /events (JSON; `?follow=1` streams JSON lines) and /metrics (Prometheus text). Bound to loopback unless the operator
 * explicitly allows otherwise: the endpoint reveals what runs on the host.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { Controller, ControllerStatus } from '../../reconciler/index.ts';
import type { Registry } from 'prom-client';
import { UsageError } from './output.ts';
import { serveStatusPage } from './status-page.ts';

/** Parse `host:port`; refuse a non-loopback host unless `allowAny`. */
export function parseListen(spec: string, allowAny: boolean): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(spec);
  if (!m) throw new UsageError(`--listen: expected host:port like 127.0.0.1:9180 (got "${spec}")`, 64);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (port > 65535) throw new UsageError(`--listen: port must be <= 65535 (got ${port})`, 64);
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  if (!loopback && !allowAny) {
    throw new UsageError(`--listen ${spec}: refusing a non-loopback address; the endpoint shows what runs on this host (pass --listen-any to allow it)`, 64);
  }
  return { host, port };
}

/** Longest string in a /status document; longer ones are cut (a 62 MB /status was seen). */
export const MAX_STATUS_STRING = 1024;
/** Most manifest errors (and ignored manifests) a /status document lists; the rest are counted. */
export const MAX_STATUS_ERRORS = 1000;
/** Most pending causes listed per system. */
const MAX_PENDING = 20;

function cut(text: string): string {
  return text.length > MAX_STATUS_STRING ? `${text.slice(0, MAX_STATUS_STRING - 1)}…` : text;
}

/** Every string of a JSON value cut to MAX_STATUS_STRING. */
function cutStrings(value: unknown): unknown {
  if (typeof value === 'string') return cut(value);
  if (Array.isArray(value)) return value.map(cutStrings);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cutStrings(v)]));
  return value;
}

/**
 * The status document with its size bounded: long messages cut, at most MAX_STATUS_ERRORS
 * manifest errors and ignored manifests (with how many were left out), at most MAX_PENDING
 * pending causes per system. One row per system stays: that is the point of /status.
 */
export function boundStatus(status: ControllerStatus): ControllerStatus & { manifestErrorsOmitted?: number; ignoredOmitted?: number } {
  const errorsOmitted = Math.max(0, status.manifestErrors.length - MAX_STATUS_ERRORS);
  const ignoredOmitted = Math.max(0, status.ignored.length - MAX_STATUS_ERRORS);
  const bounded = {
    ...status,
    systems: status.systems.map((s) => ({ ...s, pending: s.pending.length > MAX_PENDING ? [...s.pending.slice(0, MAX_PENDING), `and ${s.pending.length - MAX_PENDING} more`] : s.pending })),
    manifestErrors: status.manifestErrors.slice(0, MAX_STATUS_ERRORS),
    ignored: status.ignored.slice(0, MAX_STATUS_ERRORS),
    ...(errorsOmitted > 0 ? { manifestErrorsOmitted: errorsOmitted } : {}),
    ...(ignoredOmitted > 0 ? { ignoredOmitted } : {}),
  };
  return cutStrings(bounded) as ReturnType<typeof boundStatus>;
}

/**
 * Host values this endpoint answers: loopback names and the configured listen address. Anything
 * else is a browser sent here by DNS rebinding (attacker.example resolving to 127.0.0.1), which
 * must not read /status: 421 Misdirected Request.
 */
export function hostAllowed(hostHeader: string | undefined, listen: { host: string; port: number }): boolean {
  if (!hostHeader) return false;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hostHeader.trim());
  if (!m) return false;
  const host = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
  if (m[2] !== undefined && Number(m[2]) !== listen.port) return false;
  const loopback = host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
  return loopback || host === listen.host.toLowerCase();
}

/** Start the endpoint; resolves once listening. */
export async function startHttp(controller: Controller, listen: { host: string; port: number }, metrics?: Registry): Promise<Server & { dispose(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const send = (code: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(body)}\n`);
    };
    const port = (server.address() as { port?: number } | null)?.port ?? listen.port;
    if (!hostAllowed(req.headers.host, { host: listen.host, port })) {
      return send(421, { error: `Host ${JSON.stringify((req.headers.host ?? '').slice(0, 64))} is not this endpoint; use http://127.0.0.1:${port}` });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { error: `method ${req.method} not allowed (GET or HEAD only)` }, { allow: 'GET, HEAD' });
    if (url.pathname === '/') return serveStatusPage(controller, url, res);
    if (url.pathname === '/healthz') return send(200, { ok: true });
    if (url.pathname === '/readyz') {
      const ready = controller.status().ready;
      return send(ready ? 200 : 503, { ready });
    }
    if (url.pathname === '/status') return send(200, boundStatus(controller.status()));
    if (url.pathname === '/metrics' && metrics) {
      void metrics.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(text);
      });
      return;
    }
    if (url.pathname === '/events') {
      const name = url.searchParams.get('system') ?? undefined;
      const events = controller.history.list(name);
      if (url.searchParams.get('follow') !== '1') return send(200, events);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const e of events) res.write(`${JSON.stringify(e)}\n`);
      const sub = controller.history.subscribe((e) => {
        if (!name || e.system === name) res.write(`${JSON.stringify(e)}\n`);
      });
      req.on('close', () => sub.dispose());
      return;
    }
    send(404, { error: `no such endpoint ${url.pathname} (try /healthz, /readyz, /status, /events, /metrics)` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const hint = err.code === 'EADDRINUSE' ? 'the address is in use (another controller?); choose one with --listen host:port, or --listen off' : err.message;
      reject(new UsageError(`--listen ${listen.host}:${listen.port}: ${hint}`));
    });
    server.listen(listen.port, listen.host, () => resolve());
  });
  return Object.assign(server, {
    dispose: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}
