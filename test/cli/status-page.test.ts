/**
 * The status page at `/`: served with a strict CSP and escaped content (plain HTTP), then driven
 * in headless Chromium (skipped with a reason when Chromium is absent): it loads, its inline
 * script runs under the CSP and follows the event stream, and a system's row changes when the
 * emulator crashes that system. Real emulator, real binding, real clock (the page shows ages).
 * The screenshot goes to the temp folder; HCS_UPDATE_SCREENSHOT=1 writes docs/status-page.png.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { createController, type Controller } from '../../reconciler/index.ts';
import { realClock } from '../../src/cli/clock.ts';
import { startHttp } from '../../src/cli/http.ts';
import { NativeHcsClient } from '../../src/hcs/index.ts';
import { containerYaml, OWNER, quiet, startRig, until } from '../integration/helpers.ts';
import { findChromium, launchChromium, type Browser } from './cdp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const chromium = findChromium();

function fetchText(url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    }).on('error', reject);
  });
}

async function withStack(fn: (ctx: { controller: Controller; origin: string; crash(name: string): Promise<void>; dir: string }) => Promise<void>): Promise<void> {
  const rig = await startRig();
  const hcs = new NativeHcsClient(rig.native);
  const controller = createController({ hcs, owner: OWNER, clock: realClock, logger: quiet, resyncMs: 0 });
  const server = await startHttp(controller, { host: '127.0.0.1', port: 0 });
  try {
    rig.write('web', containerYaml('web'));
    rig.write('api', containerYaml('api', { dependsOn: ['web'] }));
    rig.write('db', containerYaml('db', { restartPolicy: 'Never' }));
    rig.write('broken', containerYaml('<img src=x>').replace('memoryMB: 512', 'memoryMB: 12'));
    controller.applySnapshot(await rig.load());
    const running = (n: string) => controller.status().systems.find((s) => s.name === n)?.actual === 'Running';
    await until(() => ['web', 'api', 'db'].every(running), 'web, api and db running', controller);
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const crash = async (name: string) => rig.emu.control.crash(controller.status().systems.find((s) => s.name === name)!.ids[0]!);
    await fn({ controller, origin, crash, dir: rig.dir });
  } finally {
    await server.dispose();
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
}

test('status page: strict CSP, no external assets, escaped content, every section', async () => {
  await withStack(async ({ origin }) => {
    const page = await fetchText(`${origin}/`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html; charset=utf-8/);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.doesNotMatch(page.body, /<[^>]*\s(src|href)=/, 'no external (or any) assets');
    for (const heading of ['Systems', 'Held prunes', 'Manifest errors', 'Image pulls', 'Latest events']) assert.ok(page.body.includes(`<h2>${heading}</h2>`), heading);
    assert.match(page.body, /<tr data-system="web" data-actual="Running"/);
    assert.match(page.body, /broken\.yaml:4:\d+<\/span> <span class="mono">metadata\.name<\/span>: must be a lowercase DNS label/);
    assert.ok(!page.body.includes('<img'), 'manifest content is escaped');
    assert.ok(page.body.includes('&lt;img src=x&gt;'));
    assert.match(page.body, /No image pulls in progress/);
    const fragment = await fetchText(`${origin}/?fragment=1`);
    assert.ok(fragment.body.startsWith('<p>') && !fragment.body.includes('<script'), 'the live-update fragment is the body alone');
  });
});

test('status page in headless Chromium: loads, follows the event stream, a crashed system\'s row changes', { skip: chromium ? false : 'Chromium not installed (/usr/bin/chromium; Debian package chromium; .ci/run installs it)', timeout: 90_000 }, async () => {
  await withStack(async ({ controller, origin, crash, dir }) => {
    const browser: Browser = launchChromium(chromium!);
    try {
      const problems: string[] = [];
      const requests: string[] = [];
      browser.on('Log.entryAdded', (p) => problems.push(String((p.entry as { text?: string }).text)));
      browser.on('Runtime.exceptionThrown', (p) => problems.push(JSON.stringify(p.exceptionDetails)));
      browser.on('Network.requestWillBeSent', (p) => requests.push(String((p.request as { url: string }).url)));
      const { targetId } = await browser.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = await browser.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
      const send = <T = Record<string, unknown>>(m: string, p: Record<string, unknown> = {}) => browser.send<T>(m, p, sessionId);
      await Promise.all([send('Log.enable'), send('Runtime.enable'), send('Network.enable'), send('Page.enable')]);
      await send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 860, deviceScaleFactor: 1, mobile: false });
      await send('Page.navigate', { url: `${origin}/` });
      const evaluate = async (expression: string): Promise<unknown> =>
        (await send<{ result: { value?: unknown } }>('Runtime.evaluate', { expression, returnByValue: true })).result.value;
      const row = (name: string) => evaluate(`(() => { const r = document.querySelector('tr[data-system="${name}"]'); return r ? { actual: r.dataset.actual, restarts: r.dataset.restarts } : null; })()`) as Promise<{ actual: string; restarts: string } | null>;

      await until(async () => (await evaluate("document.getElementById('live')?.dataset.state")) === 'live', 'the page script to follow /events (it runs only if the CSP allows it)', undefined, 30_000);
      assert.deepEqual(await row('db'), { actual: 'Running', restarts: '0' });

      await crash('db');
      await until(async () => (await row('db'))?.actual !== 'Running', 'the db row to change after the crash, without a reload', controller, 30_000);
      const actual = controller.status().systems.find((s) => s.name === 'db')!.actual;
      await until(async () => (await row('db'))?.actual === actual, `the db row to show ${actual}`, controller, 30_000);

      await crash('web');
      await until(async () => (await row('web'))?.restarts === '1' && (await row('web'))?.actual === 'Running', 'web restarted once (Always) on the page', controller, 30_000);

      const shot = await send<{ data: string }>('Page.captureScreenshot', { format: 'png', captureBeyondViewport: false });
      const png = Buffer.from(shot.data, 'base64');
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      writeFileSync(process.env.HCS_UPDATE_SCREENSHOT === '1' ? join(root, 'docs/status-page.png') : join(dir, 'status-page.png'), png);

      assert.deepEqual(problems.filter((p) => /Content Security Policy|Refused/i.test(p)), [], 'no CSP violations');
      assert.deepEqual(requests.filter((u) => !u.startsWith(origin) && u !== 'about:blank'), [], 'every request goes to the endpoint itself');
    } finally {
      await browser.close();
    }
  });
});
