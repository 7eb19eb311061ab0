/**
 * The controller's local HTTP endpoint: /healthz, /readyz (first full reconcile done), /status
 * (JSON), /events (JSON; `?follow=1` streams JSON lines) and /metrics (Prometheus text). Bound to loopback unless the operator
 * explicitly allows otherwise: the endpoint reveals what runs on the host.
 */
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import type { Controller } from '../../reconciler/index.ts';
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

/** Start the endpoint; resolves once listening. */
export async function startHttp(controller: Controller, listen: { host: string; port: number }, metrics?: Registry): Promise<Server & { dispose(): Promise<void> }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (url.pathname === '/') return serveStatusPage(controller, url, res);
    if (url.pathname === '/healthz') return send(200, { ok: true });
    if (url.pathname === '/readyz') {
      const ready = controller.status().ready;
      return send(ready ? 200 : 503, { ready });
    }
    if (url.pathname === '/status') return send(200, controller.status());
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
