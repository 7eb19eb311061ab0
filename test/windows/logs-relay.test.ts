/**
 * Issue 16's steps on real HCS, through the real CLI and controller (as test/cli/logs-exec.test.ts
 * does on the emulator): a process container from Docker's nanoserver:ltsc2022 layer folders whose
 * entrypoint prints a line a second; its output keeps being captured while the controller is
 * killed with -9 (TerminateProcess) and restarted (the relay is its own process); `exec web --
 * cmd /c echo hi` prints hi and `exec web -- cmd /c exit 3` exits 3. Evidence: `logs-relay.json`.
 * Run elevated: $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows/logs-relay
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor, type ControllerChild } from '../chaos/lib.ts';
import { cli, dockerLayers, Evidence, gate, OWNER_PREFIX, put, startController, waitGone, waitRow } from './helpers.ts';

const OWNER = `${OWNER_PREFIX}-logs`;
const skip = gate([[dockerLayers.length > 0, 'needs HCS_TEST_LAYERS (the workflow fetches nanoserver:ltsc2022 with Docker)']]);

describe('container output and exec on real HCS (issue 16)', { skip }, () => {
  const ev = new Evidence('logs-relay');
  let dir: string;
  let folder: string;
  let controller: ControllerChild | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hcsr-functional-logs-'));
    folder = join(dir, 'manifests');
    mkdirSync(folder);
  });
  after(async () => {
    await controller?.kill9();
    ev.note('evidence written', ev.write());
    rmSync(dir, { recursive: true, force: true });
  });

  /** The captured lines so far (`logs web --tail all -o json`). */
  const lines = (): string[] => {
    const r = cli(OWNER, dir, ['logs', 'web', '--tail', 'all', '-o', 'json']);
    return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
  };

  it('output survives a controller kill -9; exec echo hi / exit 3; adopted after the restart', async () => {
    put(folder, { name: 'web', layers: dockerLayers, commandLine: 'ping -t localhost' });
    controller = await startController(OWNER, folder, dir);
    const row = await ev.observe('web: Running with its output captured', () =>
      waitRow(controller!, 'web', (r, s) => r.actual === 'Running' && s.converged, 'web Running'), (r) => r);
    await ev.observe('web: 5 lines captured', () => waitFor(() => lines().length >= 5, '5 lines', 60_000, 1000), () => lines().slice(0, 3));

    await controller.kill9();
    const atKill = lines().length;
    const grown = await ev.observe('web: lines keep coming with no controller running (the relay)', () =>
      waitFor(() => { const n = lines().length; return n >= atKill + 5 ? n : undefined; }, '5 more lines', 60_000, 1000), (n) => ({ atKill, now: n }));
    assert.ok(grown >= atKill + 5);

    // exec needs no controller: it opens the system by its HCS id.
    const hi = await ev.observe('exec web -- cmd /c echo hi', () => cli(OWNER, dir, ['exec', 'web', '--', 'cmd', '/c', 'echo', 'hi']), (r) => r);
    assert.equal(hi.status, 0, hi.stderr);
    assert.equal(hi.stdout, 'hi\r\n');
    const three = await ev.observe('exec web -- cmd /c exit 3', () => cli(OWNER, dir, ['exec', 'web', '--', 'cmd', '/c', 'exit', '3']), (r) => r);
    assert.equal(three.status, 3, three.stderr);

    controller = await startController(OWNER, folder, dir);
    const adopted = await ev.observe('web: adopted after the restart', () =>
      waitRow(controller!, 'web', (r, s) => r.actual === 'Running' && s.converged, 'web adopted'), (r) => r);
    assert.deepEqual(adopted.ids, row.ids, 'the same system');
    assert.equal(adopted.restarts, row.restarts, 'the entrypoint was not restarted');
    const before = lines().length;
    await ev.observe('web: still captured after the restart', () => waitFor(() => lines().length >= before + 3, '3 more lines', 60_000, 1000));

    unlinkSync(join(folder, 'web.yaml'));
    await ev.observe('web: removed', () => waitGone(controller!, 'web'), (ms) => ({ ms }));
  });
});
