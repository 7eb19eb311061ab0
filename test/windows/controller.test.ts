/**
 * Issue 13's gated suite, end to end through the real CLI and controller on real HCS: a
 * process-isolated container from Docker's nanoserver:ltsc2022 layer folders (create, start,
 * entrypoint, exit and restart, controller kill -9 and adoption, stop, terminate by removal), a
 * foreign Docker container left alone, a Hyper-V isolated container and a VM (each skipped with
 * the HRESULT's reason where Hyper-V is absent). What it sees (status rows, events, ProcessList
 * fields, HRESULTs, timings) goes into the evidence report `controller.json`.
 *
 * Inputs (set by .github/workflows/windows.yml): HCS_TEST_LAYERS (layer folders, topmost first),
 * HCS_TEST_SANDBOX (a sandbox layer folder with sandbox.vhdx, for the Hyper-V container), and the
 * running Docker container `hcs-foreign`. Run elevated:
 *   $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows/controller
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { layerIdOf } from '../../src/cli/layer-ids.ts';
import { openHcs, type NativeHcsClient } from '../../src/hcs/index.ts';
import { readHostFacts } from '../../src/hcs/host.ts';
import type { ControllerChild } from '../chaos/lib.ts';
import { cli, dockerLayers, Evidence, foreignSystems, gate, OWNER_PREFIX, put, startController, waitGone, waitRow } from './helpers.ts';

const OWNER = `${OWNER_PREFIX}-controller`;
const sandbox = process.env.HCS_TEST_SANDBOX;
const skip = gate([[dockerLayers.length > 0, 'needs HCS_TEST_LAYERS (the workflow fetches nanoserver:ltsc2022 with Docker)']]);
/** What HCS says when Hyper-V (or nested virtualization) is not there: the test skips with it. */
const NO_HYPERV = /HYPERV_NOT_INSTALLED|0x80370102|notSupported|virtuali[sz]ation|not supported|0xC0370102/i;

describe('controller on real HCS (issue 13)', { skip }, () => {
  const ev = new Evidence('controller');
  let dir: string;
  let folder: string;
  let hcs: NativeHcsClient;
  let controller: ControllerChild | undefined;
  let foreignBefore: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hcsr-functional-ctl-'));
    folder = join(dir, 'manifests');
    mkdirSync(folder);
    ev.report.host = { ...ev.report.host, ...readHostFacts() };
    hcs = openHcs();
    foreignBefore = await foreignSystems(hcs);
    ev.note('foreign systems before (the Docker container hcs-foreign is one)', foreignBefore);
  });

  after(async () => {
    await controller?.kill9();
    if (hcs) {
      // Whatever a failed step left behind is ours (Owner prefix): terminate it, never anything else.
      for (const s of await hcs.enumerate({ owners: [OWNER] }).catch(() => [])) {
        const sys = await hcs.open(s.id).catch(() => undefined);
        await sys?.terminate().catch(() => {});
        await sys?.close();
      }
      await hcs.close();
    }
    ev.note('evidence written', ev.write());
    rmSync(dir, { recursive: true, force: true });
  });

  it('process container from real layers: create, start, entrypoint, exit and restart, kill -9 and adoption, stop, removal', async () => {
    put(folder, { name: 'web', layers: dockerLayers, commandLine: 'cmd /c ping -t localhost' });
    const t0 = Date.now();
    controller = await startController(OWNER, folder, dir);
    const running = await ev.observe('web: created and started by the controller (status row)', () =>
      waitRow(controller!, 'web', (r, s) => r.actual === 'Running' && s.converged, 'web Running'), (r) => ({ ...r, msFromStart: Date.now() - t0 }));
    const id = running.ids[0]!;
    const rendered = cli(OWNER, dir, ['render', join(folder, 'web.yaml'), '-o', 'json']);
    ev.note('web: rendered document, layer ids from the real NameToGuid (D14)', JSON.parse(rendered.stdout), rendered.status === 0);

    const sys = await hcs.open(id);
    try {
      const list = await ev.observe('web: ProcessList as HCS returns it (D5)', () => sys.properties({ propertyTypes: ['ProcessList'] }), (p) => p.raw.ProcessList);
      const entry = (list.processList ?? []).filter((p) => p.imageName?.toLowerCase() === 'cmd.exe').sort((a, b) => String(a.createTimestamp).localeCompare(String(b.createTimestamp)))[0];
      assert.ok(entry, `the cmd.exe entrypoint is in ProcessList: ${JSON.stringify(list.raw.ProcessList)}`);

      // Exit and restart: the entrypoint ends, restartPolicy Always brings the container back.
      const proc = await ev.observe('web: HcsOpenProcess of the entrypoint', () => sys.openProcess(entry.processId));
      const exited = new Promise((resolve) => proc.onExit(resolve));
      await ev.observe('web: terminate the entrypoint (D9)', () => proc.terminate());
      await ev.observe('web: ProcessExited payload', () => exited, (e) => e);
      await proc.close();
    } finally {
      await sys.close();
    }
    const restarted = await ev.observe('web: restarted after its entrypoint exited', () =>
      waitRow(controller!, 'web', (r) => r.restarts >= 1 && r.actual === 'Running', 'web restarted'), (r) => r);
    const events = cli(OWNER, dir, ['events', 'web', '-o', 'json', '--listen', `127.0.0.1:${controller.port}`]);
    ev.note('web: events after the restart', events.status === 0 ? (JSON.parse(events.stdout) as unknown) : events.stderr, events.status === 0);

    // kill -9 (TerminateProcess on Windows) and a new controller: adopted, not re-created.
    await controller.kill9();
    const afterKill = await hcs.enumerate({ owners: [OWNER] });
    ev.note('web: systems right after kill -9 (still running)', afterKill);
    assert.ok(afterKill.some((s) => s.id === restarted.ids[0] && s.state === 'Running'), 'the container outlived the controller');
    controller = await startController(OWNER, folder, dir);
    const adopted = await ev.observe('web: adopted by the restarted controller', () =>
      waitRow(controller!, 'web', (r, s) => r.actual === 'Running' && s.converged, 'web adopted'), (r) => r);
    assert.deepEqual(adopted.ids, restarted.ids, 'same system, not re-created');
    assert.equal(adopted.restarts, restarted.restarts, 'the entrypoint was found again, not restarted');

    // Stop: graceful shutdown, terminate after stopTimeout (20 s) if it does not end.
    put(folder, { name: 'web', layers: dockerLayers, commandLine: 'cmd /c ping -t localhost', state: 'Stopped' });
    const s0 = Date.now();
    await ev.observe('web: state Stopped', () => waitRow(controller!, 'web', (r) => r.actual !== 'Running' && r.phase === 'idle', 'web stopped'), (r) => ({ ...r, ms: Date.now() - s0 }));
    // Removal: the manifest is gone, the system is terminated and removed (--allow-empty).
    put(folder, { name: 'web', layers: dockerLayers, commandLine: 'cmd /c ping -t localhost' });
    await waitRow(controller, 'web', (r) => r.actual === 'Running', 'web running again');
    unlinkSync(join(folder, 'web.yaml'));
    await ev.observe('web: manifest removed → system terminated and removed', () => waitGone(controller!, 'web'), (ms) => ({ ms }));
    const gone = await hcs.enumerate({ owners: [OWNER] });
    ev.note('web: our systems after removal', gone);
    assert.deepEqual(gone.filter((s) => s.state === 'Running'), []);
  });

  it('a Hyper-V isolated container (schema 1.0 the Docker way), skipped where Hyper-V is absent', { skip: sandbox ? false : 'needs HCS_TEST_SANDBOX (a Docker sandbox folder with sandbox.vhdx)' }, async (t) => {
    controller ??= await startController(OWNER, folder, dir);
    put(folder, { name: 'hv', isolation: 'hyperv', layers: dockerLayers, scratch: sandbox!, commandLine: 'cmd /c ping -t localhost' });
    const row = await ev.observe('hv: Running, or the error HCS gives without Hyper-V', () =>
      waitRow(controller!, 'hv', (r) => r.actual === 'Running' || (r.lastError !== undefined && (NO_HYPERV.test(r.lastError) || r.phase === 'failed')), 'hv Running or failed'), (r) => r);
    unlinkSync(join(folder, 'hv.yaml'));
    if (row.actual !== 'Running') {
      if (NO_HYPERV.test(row.lastError ?? '')) return skipWith(t, `Hyper-V isolation unavailable here: ${row.lastError}`);
      assert.fail(`hv failed: ${row.lastError}`);
    }
  });

  it('a VM from a blank VHDX (UEFI, no OS): created, started, stopped by terminate after stopTimeout; skipped without Hyper-V', async (t) => {
    const blank = dockerLayers.map((l) => join(l, 'blank.vhdx')).find((p) => existsSync(p));
    if (!blank) return skipWith(t, 'no blank.vhdx in the Docker base layer');
    const disk = join(dir, 'vm-os.vhdx');
    copyFileSync(blank, disk);
    controller ??= await startController(OWNER, folder, dir);
    writeFileSync(join(folder, 'vm.yaml'), `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: vm }
spec:
  stopTimeout: 10s
  restartPolicy: Never
  virtualMachine:
    memoryMB: 512
    cpuCount: 1
    bootDisk: { path: ${JSON.stringify(disk)} }
`);
    const row = await ev.observe('vm: Running, or the error HCS gives without Hyper-V', () =>
      waitRow(controller!, 'vm', (r) => r.actual === 'Running' || (r.lastError !== undefined && (NO_HYPERV.test(r.lastError) || r.phase === 'failed')), 'vm Running or failed'), (r) => r);
    if (row.actual !== 'Running') {
      unlinkSync(join(folder, 'vm.yaml'));
      if (NO_HYPERV.test(row.lastError ?? '')) return skipWith(t, `Hyper-V unavailable here: ${row.lastError}`);
      assert.fail(`vm failed: ${row.lastError}`);
    }
    unlinkSync(join(folder, 'vm.yaml'));
    await ev.observe('vm: removed (IntegrationService shutdown without a guest, then terminate after 10 s)', () => waitGone(controller!, 'vm'), (ms) => ({ ms }));
  });

  it('NameToGuid gives the GUID hcsshim#1072 observed for a layer folder named "4" (the emulator cannot: the algorithm is unpublished)', async () => {
    const id = await ev.observe('NameToGuid("4")', () => layerIdOf('4'), (g) => g);
    assert.equal(id, 'bd9c3ef9-f239-59b5-a27e-15c523b1d149');
  });

  it('the foreign Docker container is left alone', async () => {
    const now = await foreignSystems(hcs);
    ev.note('foreign systems after (must equal before)', now, JSON.stringify(now) === JSON.stringify(foreignBefore));
    assert.deepEqual(now, foreignBefore);
    assert.ok(foreignBefore.some((s) => / docker Running$/.test(s)), 'Docker\'s container (Owner docker) was there all along');
  });
});

function skipWith(t: TestContext, reason: string): void {
  t.skip(reason);
}
