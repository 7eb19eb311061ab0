/**
 * The issue-16 "Done when", on the emulator, through the real CLI: a container printing a line
 * every 10 ms while `logs -f` runs loses no line across a kill -9 and restart of the controller
 * and across several rotations; `exec` prints and returns exit codes while no controller runs;
 * `logs nosuch` exits 1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../../src/emulator/launcher.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'src/cli/bin.mjs');
/**
 * Lines followed before the test ends the entrypoint (about 13 rotations of 6 KiB files). The
 * files are kept 100 deep because the follower is a CLI process whose start-up takes seconds on a
 * loaded machine: it can only show what is still kept when it starts (like `docker logs`), and a
 * rotation every ~0.5 s would remove the first lines before it runs. Once it runs, it must keep up:
 * no gap marker is allowed (test/logs/logs.test.ts covers the gaps themselves).
 */
const MIN_LINES = 600;

function manifest(): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: web
spec:
  state: Running
  restartPolicy: Never
  stopTimeout: 5s
  container:
    layers:
      - id: aa54c278-e19b-5a7c-bbf7-91e0123aa69a
        path: 'C:\\layers\\base'
    scratch: '\\\\?\\Volume{0b7d6c1e-2f4a-4c3b-9d8e-5a6f7b8c9d0e}\\'
    memoryMB: 512
    process:
      commandLine: 'C:\\app\\server.exe'
      environment: { HCSEMU_PRINT_EVERY_MS: "10", HCSEMU_PRINT_BYTES: "60" }
`;
}

async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function collect(child: ChildProcess): { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  return { out: () => out, err: () => err };
}

test('logs -f loses no line across kill -9 + restart of the controller and rotations; exec; logs nosuch', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-logs-cli-'));
  const socket = join(dir, 'emu.sock');
  const folder = join(dir, 'm');
  mkdirSync(folder);
  writeFileSync(join(folder, 'web.yaml'), manifest());
  const emu = await startEmulator({ socketPath: socket });
  const env = { ...process.env, HCS_EMULATOR_SOCKET: socket, XDG_DATA_HOME: join(dir, 'data') };
  const logDir = join(dir, 'data', 'hcs-reconciler', 'logs', 'web');
  const children: ChildProcess[] = [];
  const start = (args: string[]): ChildProcess => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    return child;
  };
  const controllerArgs = ['--owner', 'logs-test', 'run', '--manifests', folder, '--listen', 'off', '--lock-dir', dir,
    '--log-max-size', '6k', '--log-max-file', '100'];
  const cli = (...args: string[]) => spawnSync(process.execPath, [bin, '--owner', 'logs-test', ...args], { cwd: root, env, encoding: 'utf8' });
  t.after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await emu.stop(); // the container stops, so its relay sees end of output and exits
    rmSync(dir, { recursive: true, force: true });
  });

  const controller = start(controllerArgs);
  await until(() => existsMarker(logDir), 'the relay to create the log folder');
  const follower = start(['logs', 'web', '-f', '-o', 'json']);
  const followed = collect(follower);
  const count = (): number => followed.out().split('\n').filter(Boolean).length;
  await until(() => count() >= 50, '50 lines followed');

  controller.kill('SIGKILL');
  await new Promise((r) => controller.once('exit', r));
  const atKill = count();
  await until(() => count() >= atKill + 100, 'output captured while no controller runs');

  // exec needs no controller: it finds the system by its HCS id.
  const hi = cli('exec', 'web', '--', 'cmd', '/c', 'echo', 'hi');
  assert.equal(hi.status, 0, hi.stderr);
  assert.equal(hi.stdout, 'hi\r\n');
  const three = cli('exec', 'web', '--', 'cmd', '/c', 'exit', '3');
  assert.equal(three.status, 3, three.stderr);

  const restarted = start(controllerArgs);
  const restartedOut = collect(restarted);
  await until(() => /found entrypoint pid \d+ again/.test(restartedOut.err() + restartedOut.out()), 'the restarted controller to adopt the entrypoint');
  const cat = spawnSync(process.execPath, [bin, '--owner', 'logs-test', 'exec', 'web', '--', 'cat'], { cwd: root, env, encoding: 'utf8', input: 'from stdin\n' });
  assert.equal(cat.status, 0, `${cat.stderr}${cli('ps', '--all', '-o', 'json').stdout}\ncontroller:\n${restartedOut.err()}${restartedOut.out()}`);
  assert.equal(cat.stdout, 'from stdin\n');
  // Ctrl+C terminates the process; exec exits with its exit code (1: the emulator's TerminateProcess code).
  const interrupted = spawn(process.execPath, [bin, '--owner', 'logs-test', 'exec', 'web', '--', 'cat'], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(interrupted);
  const io = collect(interrupted);
  interrupted.stdin?.write('before\n');
  await until(() => io.out() === 'before\n', 'cat to echo its input');
  const code = new Promise<number | null>((resolve) => interrupted.once('exit', (c) => resolve(c)));
  interrupted.kill('SIGINT');
  assert.equal(await code, 1, io.err());
  assert.match(io.err(), /terminating the process/);
  await until(() => count() >= MIN_LINES, `${MIN_LINES} lines followed`);

  // End the entrypoint (it prints until stopped): its pipes close, the relay writes the rest and
  // says how many records it wrote; the follower must have every one of them, once, in order.
  const web = (await emu.control.list()).find((s) => s.owner === 'logs-test')!;
  const entry = web.processes.find((p) => p.commandLine === 'C:\\app\\server.exe')!;
  await emu.control.exitProcess(web.id, entry.pid, 0);
  await until(() => /output ended, \d+ records, \d+ rotations/.test(relayLog(logDir)), 'the relay to finish');
  const m = /output ended, (\d+) records, (\d+) rotations/.exec(relayLog(logDir))!;
  const total = Number(m[1]);
  assert.ok(Number(m[2]) >= 3, `at least three rotations (got ${m[2]})`);
  await until(() => count() >= total, `all ${total} records followed`).catch((err: Error) => {
    const got = new Set(followed.out().split('\n').filter(Boolean).map((l) => Number(/^line (\d+)/.exec((JSON.parse(l) as { log: string }).log)?.[1])));
    const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !got.has(n));
    throw new Error(`${err.message}: ${count()} followed, missing ${missing.slice(0, 5).join(',')}…${missing.slice(-3).join(',')} (${missing.length}); follower stderr: ${followed.err().slice(-2000)}; files: ${readdirSync(logDir).join(' ')}`);
  });

  const numbers = followed.out().split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l) as { log: string; stream: string };
    assert.equal(r.stream, 'stdout');
    return Number(/^line (\d+)x*\r\n$/.exec(r.log)?.[1]);
  });
  assert.deepEqual(numbers, Array.from({ length: total }, (_, i) => i + 1), 'every line once, in order');
  const kept = readdirSync(logDir).filter((f) => /\.log(\.\d+)?$/.test(f) && !f.startsWith('relay-')).length;
  assert.equal(kept, Math.min(Number(m[2]) + 1, 100), 'one file per rotation plus the current one, at most max-file');
  assert.doesNotMatch(followed.err(), /rotated away/, 'the follower kept up: no gap marker');

  const tail = cli('logs', 'web', '--tail', '2');
  assert.equal(tail.status, 0, tail.stderr);
  assert.match(tail.stdout, new RegExp(`^line ${total - 1}x*\\r\\nline ${total}x*\\r\\n$`));
  const nosuch = cli('logs', 'nosuch');
  assert.equal(nosuch.status, 1);
  assert.match(nosuch.stderr, /no logs for "nosuch"/);
});

function existsMarker(logDir: string): boolean {
  try {
    return readFileSync(join(logDir, 'current'), 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

function relayLog(logDir: string): string {
  try {
    return readdirSync(logDir).filter((f) => f.startsWith('relay-')).map((f) => readFileSync(join(logDir, f), 'utf8')).join('');
  } catch {
    return '';
  }
}
