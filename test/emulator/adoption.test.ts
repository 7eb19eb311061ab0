/**
 * Audit D5 end to end: with ProcessList exactly as HCS reports it (no CommandLine), a controller
 * killed with -9 and restarted adopts running containers whose entrypoints are `cmd /c ...` and
 * `powershell ...` (no `.exe` on the command line) without restarting them.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { ensureEmulatorLibrary } from '../../src/emulator/native/build.mjs';
import { openHcs } from '../../src/hcs/index.ts';
import { ControllerChild, waitFor } from '../chaos/lib.ts';

function manifest(name: string, commandLine: string): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  stopTimeout: 2s
  container:
    layers:
      - id: aa54c278-e19b-5a7c-bbf7-91e0123aa69a
        path: 'C:\\layers\\base'
    scratch: '\\\\?\\Volume{6a1c3f0e-5b2d-4e8a-9c71-0f3b2d4e5a6c}\\'
    process:
      commandLine: '${commandLine}'
`;
}

test('kill -9 and restart: cmd /c and powershell entrypoints are adopted, not restarted (D5)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-d5-'));
  const socketPath = join(dir, 'emu.sock');
  const emu = await startEmulator({ socketPath });
  const c = emu.control;
  const manifests = join(dir, 'm');
  mkdirSync(manifests);
  writeFileSync(join(manifests, 'web.yaml'), manifest('web', 'cmd /c ping -t localhost'));
  writeFileSync(join(manifests, 'ps.yaml'), manifest('ps', 'powershell -NoLogo -Command Start-Sleep 86400'));
  let child: ControllerChild | undefined;
  try {
    const lockDir = join(dir, 'lock');
    child = await ControllerChild.start({ owner: 'd5', manifests, socketPath, extraArgs: ['--lock-dir', lockDir] });
    await waitFor(async () => (await c.callLog()).filter((x) => x.op === 'CreateProcess').length === 2 && (await child!.status()).converged, 'two entrypoints running', 20_000);
    const before = (await c.list()).filter((s) => s.owner === 'd5');
    assert.deepEqual(before.map((s) => s.processes.length), [1, 1]);
    // A second cmd.exe in the web container (an `exec`, started later) must not confuse adoption.
    await child.kill9();
    process.env.HCS_EMULATOR_SOCKET = socketPath;
    const hcs = openHcs({ libraryPath: ensureEmulatorLibrary() });
    const web = before.find((s) => s.id.startsWith('web-'))!;
    const exec = await (await hcs.open(web.id)).createProcess({ CommandLine: 'cmd /c echo exec' });
    const execPid = exec.processId;
    await hcs.close();
    const restartedAt = (await c.callLog()).length;
    // The controller's local record survived the kill (entrypoint-records.ts): pid + image per container.
    const record = JSON.parse(readFileSync(join(lockDir, 'd5.entrypoints.json'), 'utf8')) as Record<string, { processId: number; imageName: string }>;
    assert.deepEqual(Object.values(record).map((r) => r.imageName).sort(), ['cmd.exe', 'powershell.exe']);
    child = await ControllerChild.start({ owner: 'd5', manifests, socketPath, extraArgs: ['--lock-dir', lockDir] });
    await waitFor(async () => (await c.callLog()).slice(restartedAt).filter((x) => x.op === 'OpenProcess').length === 2 && (await child!.status()).converged, 'entrypoints adopted', 20_000);
    const after = (await c.callLog()).slice(restartedAt);
    assert.deepEqual(after.filter((x) => ['Create', 'ShutDown', 'Terminate', 'CreateProcess', 'TerminateProcess'].includes(x.op)), [], 'nothing stopped, created or restarted');
    const now = (await c.list()).filter((s) => s.owner === 'd5');
    assert.deepEqual(now.map((s) => [s.id, s.state, s.processes.map((p) => p.pid).filter((pid) => pid !== execPid)]), before.map((s) => [s.id, 'Running', s.processes.map((p) => p.pid)]));
    const opened = after.filter((x) => x.op === 'OpenProcess').map((x) => x.pid);
    assert.deepEqual(opened.sort(), before.flatMap((s) => s.processes.map((p) => p.pid)).sort(), 'the entrypoints were opened, not the later cmd.exe');
    assert.ok(!opened.includes(execPid));
  } finally {
    await child?.kill9();
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
