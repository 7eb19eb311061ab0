/**
 * The HTTP endpoint (issue 12, finding 7): a Host that is not loopback or the listen address
 * gets 421 (DNS rebinding), methods other than GET and HEAD get 405, and /status stays bounded
 * in size whatever the messages and the number of manifest errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { Controller, ControllerStatus } from '../../reconciler/index.ts';
import { startHttp } from '../../src/cli/http.ts';

function status(): ControllerStatus {
  const huge = 'x'.repeat(5 * 1024 * 1024);
  return {
    owner: 'o', ready: true, converged: false, passes: 1, suspended: false, unrecognised: [], warnings: [], ignored: [],
    systems: [{ name: 'web', desired: 'Running', actual: 'Absent', ids: [], restarts: 0, phase: 'idle', pending: Array.from({ length: 500 }, (_, i) => `cause ${i}`), lastError: huge, lastKnownGood: false, suspended: false }],
    manifestErrors: Array.from({ length: 100_000 }, (_, i) => ({ file: `f${i}.yaml`, line: 1, col: 1, path: '', message: `unknown field "k${i}"` })),
  };
}

const stub = { status, history: { list: () => [], subscribe: () => ({ dispose() {} }) } } as unknown as Controller;

function call(port: number, opts: { method?: string; host?: string; path?: string }): Promise<{ code: number; body: string; allow?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/status', headers: opts.host === undefined ? {} : { host: opts.host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ code: res.statusCode ?? 0, body, allow: res.headers.allow }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('Host check (421), GET/HEAD only (405), bounded /status', async () => {
  const server = await startHttp(stub, { host: '127.0.0.1', port: 0 });
  try {
    const { port } = server.address() as { port: number };
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'localhost', `LOCALHOST:${port}`]) {
      assert.equal((await call(port, { host, path: '/healthz' })).code, 200, host);
    }
    for (const host of ['attacker.example', `attacker.example:${port}`, `127.0.0.1:${port + 1}`, `127.0.0.1.attacker.example:${port}`]) {
      const r = await call(port, { host, path: '/status' });
      assert.equal(r.code, 421, `Host ${host}`);
      assert.doesNotMatch(r.body, /web|unknown field/, 'nothing of the status');
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await call(port, { method, host: `127.0.0.1:${port}` });
      assert.equal(r.code, 405, method);
      assert.equal(r.allow, 'GET, HEAD');
    }
    const head = await call(port, { method: 'HEAD', host: `127.0.0.1:${port}`, path: '/healthz' });
    assert.equal(head.code, 200);
    assert.equal(head.body, '');
    const r = await call(port, { host: `127.0.0.1:${port}` });
    assert.equal(r.code, 200);
    assert.ok(r.body.length < 1024 * 1024, `/status is ${r.body.length} bytes`);
    const s = JSON.parse(r.body) as ControllerStatus & { manifestErrorsOmitted: number };
    assert.equal(s.systems.length, 1);
    assert.ok(s.systems[0]!.lastError!.length <= 1024);
    assert.equal(s.systems[0]!.pending.at(-1), 'and 480 more');
    assert.equal(s.manifestErrors.length + s.manifestErrorsOmitted, 100_000);
  } finally {
    await server.dispose();
  }
});
