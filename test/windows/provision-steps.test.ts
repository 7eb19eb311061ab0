/**
 * Issue 15's steps against the real APIs, through the real CLI and controller: image (our own
 * puller against mcr.microsoft.com, as the product does; no Docker) → scratch (CreateSandboxLayer,
 * mounted as \\?\Volume{GUID}\) → our NAT network → an endpoint with a published port → the
 * system; a TCP connection to the port reaches the container; deleting the manifest removes the
 * system, the endpoint, the namespace and the scratch. The container serves HTTP with the
 * runner's own node.exe, mapped read-only (nanoserver has no server of its own; UNVERIFIED that
 * node.exe runs on nanoserver, which community images do). Evidence: `provisioning-steps.json`.
 * Run elevated: $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows/provision-steps
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HcnNative } from '../../src/hcs/hcn.ts';
import { openHcs } from '../../src/hcs/index.ts';
import { NetworkProvisioner } from '../../src/network/provisioner.ts';
import { freePort, type ControllerChild } from '../chaos/lib.ts';
import { cli, Evidence, gate, OWNER_PREFIX, put, startController, waitGone, waitRow } from './helpers.ts';

const OWNER = `${OWNER_PREFIX}-provisioning`;
const IMAGE = 'mcr.microsoft.com/windows/nanoserver:ltsc2022';
const skip = gate();

/** An HTTP GET over a plain socket: the first line of the answer, or the error. */
function httpGet(host: string, port: number, ms = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let data = '';
    const timer = setTimeout(() => s.destroy(new Error(`no answer from ${host}:${port} within ${ms} ms`)), ms);
    s.on('connect', () => s.write(`GET / HTTP/1.0\r\nHost: ${host}\r\n\r\n`));
    s.on('data', (c) => (data += c.toString()));
    s.on('end', () => { clearTimeout(timer); resolve(data); });
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

describe('provisioning steps on real HCS and HNS (issue 15)', { skip }, () => {
  const ev = new Evidence('provisioning-steps');
  let dir: string;
  let folder: string;
  let controller: ControllerChild | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hcsr-functional-prov-'));
    folder = join(dir, 'manifests');
    mkdirSync(folder);
  });
  after(async () => {
    await controller?.kill9();
    ev.note('evidence written', ev.write());
    rmSync(dir, { recursive: true, force: true });
  });

  it('image → scratch → NAT network → endpoint with a published port → system; connect; delete removes everything', async () => {
    const pull = await ev.observe(`image pull ${IMAGE} (our puller, mcr.microsoft.com)`, () => cli(OWNER, dir, ['image', 'pull', IMAGE]), (r) => r);
    assert.equal(pull.status, 0, pull.stderr);
    const port = await freePort();
    const js = "require('http').createServer((q,s)=>s.end('hcsr-ok')).listen(80)";
    put(folder, {
      name: 'web', image: IMAGE, ports: [`${port}:80`],
      mapped: [{ hostPath: dirname(process.execPath), containerPath: 'C:\\node' }],
      commandLine: `C:\\node\\node.exe -e "${js}"`,
    });
    controller = await startController(OWNER, folder, dir);
    const row = await ev.observe('web: Running (scratch, endpoint, namespace, system)', () =>
      waitRow(controller!, 'web', (r, s) => r.actual === 'Running' && s.converged, 'web Running'), (r) => r);
    const id = row.ids[0]!;
    const hcn = new HcnNative();
    const net = new NetworkProvisioner(hcn, dir);
    const provisioned = await ev.observe('web: its network as HNS reports it', () => net.find(id), (n) => n);
    assert.ok(provisioned, 'the endpoint and namespace exist');
    const endpoint = await ev.observe('web: endpoint properties (ports, IP, MAC)', async () => {
      const h = await hcn.openEndpoint(provisioned.endpointId);
      try {
        return JSON.parse(await hcn.queryEndpointProperties(h, '', id)) as { IpConfigurations?: Array<{ IpAddress?: string }> };
      } finally {
        await hcn.closeEndpoint(h);
      }
    }, (e) => e);

    // The published port from the host; where WinNAT has no loopback path, the container's own address.
    let answer: string | undefined;
    for (let i = 0; i < 30 && answer === undefined; i++) {
      answer = await ev.observe(`connect 127.0.0.1:${port} (try ${i + 1})`, () => httpGet('127.0.0.1', port), (a) => a.split('\r\n')[0]).catch(() => undefined);
      if (answer === undefined) await new Promise((r) => setTimeout(r, 2000));
    }
    const ip = endpoint.IpConfigurations?.[0]?.IpAddress;
    if (answer === undefined && ip) answer = await ev.observe(`connect ${ip}:80 (the container address)`, () => httpGet(ip, 80), (a) => a.split('\r\n')[0]).catch(() => undefined);
    assert.match(answer ?? '', /hcsr-ok/, 'the container answered through its endpoint');

    const scratchDirs = () => readdirSync(join(dir, 'scratch'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    ev.note('scratch folders while running', (() => { try { return scratchDirs(); } catch (e) { return String(e); } })());
    unlinkSync(join(folder, 'web.yaml'));
    await ev.observe('web: manifest deleted → removed', () => waitGone(controller!, 'web'), (ms) => ({ ms }));
    const hcs = openHcs();
    try {
      assert.deepEqual(await hcs.enumerate({ owners: [OWNER] }), [], 'no system of ours');
    } finally {
      await hcs.close();
    }
    assert.equal(await net.find(id), undefined, 'endpoint and namespace removed');
    ev.note('network objects of ours after deletion', await net.owned());
    assert.deepEqual(await net.owned(), []);
    const left = (() => { try { return scratchDirs(); } catch { return []; } })();
    ev.note('scratch folders after deletion', left);
    assert.deepEqual(left, [], 'the scratch was unmounted and destroyed');
  });
});
