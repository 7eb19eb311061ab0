/**
 * Issue 12, finding 11: a hung HCS call must not freeze the controller. SIGTERM completes
 * within a few seconds although a Create never returns (it took 31 s), and a hung Enumerate
 * times out (its own, shorter timeout, not queued behind hung creates) with a status that says
 * HCS is not answering.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SimulatedClock } from 'xstate';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { NativeHcsClient } from '../../src/hcs/index.ts';
import { createController } from '../../reconciler/index.ts';
import { DEFAULT_TIMEOUTS } from '../../reconciler/timeouts.ts';
import { containerYaml, quiet, startRig, until } from '../integration/helpers.ts';
import { spawnController } from '../cli/controller-child.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');

test('SIGTERM with a hung Create: run exits within a few seconds, the workload untouched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-hung-'));
  const socket = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath: socket });
  const folder = join(dir, 'm');
  mkdirSync(folder);
  writeFileSync(join(folder, 'web.yaml'), containerYaml('web'));
  const { child, log } = spawnController(t, { bin, root, args: ['--owner', 'hung-test', 'run', '--manifests', folder, '--listen', 'off'], env: { ...process.env, HCS_EMULATOR_SOCKET: socket }, emu, dir });
  const waitFor = async (check: () => Promise<boolean> | boolean, what: string) => {
    const deadline = Date.now() + 20_000;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`${what}: ${log.text}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await waitFor(() => /controller running/.test(log.text), 'controller running');
  await waitFor(async () => (await emu.control.list()).some((s) => s.owner === 'hung-test' && s.state === 'Running'), 'web running');
  await emu.control.hang({ op: 'Create', count: 100 });
  writeFileSync(join(folder, 'api.yaml'), containerYaml('api'));
  await waitFor(async () => (await emu.control.status()).faults.hung > 0, 'a hung Create');
  const t0 = Date.now();
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('exit', r));
  const took = Date.now() - t0;
  assert.equal(code, 0, log.text);
  assert.ok(took < 8000, `shutdown took ${took} ms (bounded at a few seconds)`);
  assert.ok((await emu.control.list()).some((s) => s.owner === 'hung-test' && s.id.startsWith('web-') && s.state === 'Running'), 'web keeps running');
});

test('a hung Enumerate times out on its own timeout and status says HCS is not answering', async () => {
  assert.ok(DEFAULT_TIMEOUTS.enumerate <= 10_000, 'enumerate has a shorter timeout than the other operations');
  const rig = await startRig();
  const clock = new SimulatedClock();
  const hcs = new NativeHcsClient(rig.native);
  const controller = createController({
    hcs, owner: 'hcs-reconciler', logger: quiet, resyncMs: 0, timeouts: { enumerate: 300 },
    clock: { now: () => clock.now(), setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (id) => clock.clearTimeout(id as number) },
  });
  try {
    rig.write('web', containerYaml('web'));
    controller.applySnapshot(await rig.load());
    await until(async () => (await rig.systems()).some((s) => s.endsWith(':Running')), 'web running', controller);
    // Every create slot busy with a hung Create would have queued the list behind them.
    await rig.emu.control.hang({ op: 'Enumerate', count: 1 });
    controller.reconcile();
    await until(() => /^HCS is not answering: enumerate timed out after 300ms/.test(controller.status().listError ?? ''), 'status says HCS is not answering', controller);
  } finally {
    await rig.emu.control.clearFaults();
    await controller.dispose();
    await hcs.close();
    await rig.stop();
  }
});
