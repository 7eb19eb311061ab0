// The service: restart in place, reset, malformed input, status; and the service as an OS process:
// launcher, pid/socket files, signals, persistence, single instance.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureEmulator, findEmulator, serviceMainPath, startEmulator } from '../../src/emulator/launcher.ts';
import { HR } from '../../src/emulator/hresult.ts';
import { encodeHello, encodeRequest, Op, Role } from '../../src/emulator/protocol.ts';
import {
  containerDoc, startTestEmulator, tempSocketPath, waitUntil, WireClient, withService,
} from './wire-client.ts';

// Each test runs its own service, so they can run side by side.
describe('service', { concurrency: true }, () => {
  test('restartService: libraries are disconnected, handles invalid, systems kept (flagged ones too)', () =>
    withService(async ({ emu, client, control }) => {
      const { handle } = await client.create('keep', containerDoc({ ShouldTerminateOnLastHandleClosed: true }));
      await client.call('Start', handle);
      const { handle: stoppedHandle } = await client.create('stopped', containerDoc());
      await client.call('Terminate', stoppedHandle);
      await control.restartService();
      await client.closed;
      const status = await control.status();
      assert.equal(status.connections.library, 0);
      assert.equal(status.handles, 0);
      assert.deepEqual((await control.list()).map((s) => [s.id, s.state]), [['keep', 'Running']],
        'running flagged system survives (not a client close); the stopped one lost its last handle');
      const again = await WireClient.connect(emu.socketPath);
      try {
        assert.equal((await again.call('GetProperties', handle)).hresult, HR.E_HANDLE, 'old handle ids mean nothing now');
        const { reply } = await again.open('keep');
        assert.equal(reply.hresult, HR.S_OK);
      } finally {
        await again.destroy();
      }
    }));

  test('restartService keepSystems:false and reset clear everything', () =>
    withService(async ({ emu, client, control }) => {
      await client.create('gone', containerDoc());
      await control.restartService({ keepSystems: false });
      await client.closed;
      assert.deepEqual(await control.list(), []);

      const lib = await WireClient.connect(emu.socketPath);
      try {
        const { handle } = await lib.create('x', containerDoc());
        await control.fault({ op: 'Start', hresult: 1, count: 5 });
        await control.latency({ op: '*', ms: 5 });
        await control.reset();
        const status = await control.status();
        assert.deepEqual([status.systems, status.handles, status.faults.fail.length], [0, 0, 0]);
        assert.deepEqual(status.faults.latency, {});
        assert.deepEqual(await control.callLog(), []);
        assert.equal((await lib.call('Start', handle)).hresult, HR.E_HANDLE, 'reset invalidates handles but keeps the connection');
        assert.equal((await lib.create('x', containerDoc())).reply.hresult, HR.S_OK);
      } finally {
        await lib.destroy();
      }
    }));

  test('malformed frames drop only the offending connection', () =>
    withService(async ({ emu, client, control }) => {
      const { handle } = await client.create('survives', containerDoc({ ShouldTerminateOnLastHandleClosed: true }));
      const cases: Array<[string, (c: WireClient) => void, boolean]> = [
        ['length too small', (c) => c.writeRaw(Buffer.from([1, 0, 0, 0, 0])), true],
        ['length too large', (c) => c.writeRaw(Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 0, 0, 0])), true],
        ['request before hello', (c) => c.writeRaw(encodeRequest({ seq: 1, op: Op.Enumerate, handle: 0n, newHandle: 0n, num: 0, a: null, b: null })), false],
        ['bad protocol version', (c) => c.writeRaw(encodeHello({ protocolVersion: 9, role: Role.Library, pid: 1 })), false],
        ['unknown role', (c) => c.writeRaw(encodeHello({ protocolVersion: 1, role: 7, pid: 1 })), false],
        ['truncated request body', (c) => c.writeRaw(Buffer.from([8, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])), true],
        ['string longer than frame', (c) => {
          const frame = encodeRequest({ seq: 1, op: Op.Open, handle: 0n, newHandle: 1n, num: 0, a: 'abc', b: null });
          frame.writeUInt32LE(1000, 4 + 4 + 4 + 4 + 8 + 8 + 4); // corrupt the length of `a`
          c.writeRaw(frame);
        }, true],
        ['trailing bytes', (c) => {
          const frame = encodeRequest({ seq: 1, op: Op.Enumerate, handle: 0n, newHandle: 0n, num: 0, a: null, b: null });
          const longer = Buffer.concat([frame, Buffer.from([0])]);
          longer.writeUInt32LE(frame.length - 4 + 1, 0);
          c.writeRaw(longer);
        }, true],
        ['event frame from a library', (c) => c.writeRaw(Buffer.from([4, 0, 0, 0, 3, 0, 0, 0])), true],
      ];
      for (const [name, send, hello] of cases) {
        const bad = await WireClient.connect(emu.socketPath, { hello });
        send(bad);
        await bad.closed; // the service hangs up on it
        assert.equal((await client.call('GetProperties', handle)).json.State, 'Created', `${name}: others unaffected`);
      }
      // A library that dies mid-frame: its handles are closed like any drop.
      const partial = await WireClient.connect(emu.socketPath);
      const { handle: ph } = await partial.create('partial', containerDoc({ ShouldTerminateOnLastHandleClosed: true }));
      assert.ok(ph);
      partial.writeRaw(Buffer.from([100, 0, 0, 0, 1]));
      await partial.destroy();
      await waitUntil(async () => (await control.list()).every((s) => s.id !== 'partial'), 5000, 'partial terminated');
      assert.equal((await control.status()).connections.library, 1);
    }));

  test('status reports pid, uptime, counts and connections by role', () =>
    withService(async ({ emu, client, control }) => {
      await client.create('s1', containerDoc());
      await client.open('s1');
      const status = await control.status();
      assert.equal(status.pid, emu.pid);
      assert.ok(status.uptimeMs >= 0);
      assert.equal(status.systems, 1);
      assert.equal(status.handles, 2);
      assert.deepEqual(status.connections, { library: 1, control: 1 });
      assert.equal(status.socketPath, emu.socketPath);
      await assert.rejects(control.command('frobnicate'), /unknown control command/);
    }));

  function alive(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  function runService(socketPath: string): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', serviceMainPath, '--socket', socketPath], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
  }

  test('pid file, single instance (exit 3), SIGTERM removes socket and pid file, stale socket is replaced', async () => {
    const emu = await startTestEmulator();
    const pidFile = join(dirname(emu.socketPath), 'service.pid');
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(emu.pid));
    const second = await runService(emu.socketPath);
    assert.equal(second.code, 3);
    assert.match(second.stderr, /already listening/);
    assert.equal((await emu.control.status()).pid, emu.pid, 'the first service is untouched');
    await emu.stop();
    assert.equal(existsSync(emu.socketPath), false);
    assert.equal(existsSync(pidFile), false);

    // A killed service leaves its socket file behind; the next one removes it and starts.
    const crashed = await startEmulator({ socketPath: emu.socketPath });
    await crashed.control.close();
    process.kill(crashed.pid, 'SIGKILL');
    await waitUntil(() => !alive(crashed.pid), 5000, 'killed service gone');
    assert.equal(existsSync(emu.socketPath), true, 'stale socket left behind');
    const next = await startEmulator({ socketPath: emu.socketPath });
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(next.pid));
    await next.stop();
  });

  test('persistence: systems and scripted processes survive a service restart', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hcsemu-state-'));
    const socketPath = tempSocketPath();
    const first = await startEmulator({ socketPath, stateDir });
    const lib = await WireClient.connect(socketPath);
    const { handle } = await lib.create('persisted', containerDoc({ Owner: 'me' }));
    await lib.call('Start', handle);
    const { reply } = await lib.createProcess(handle, { CommandLine: 'job.exe', Environment: { HCSEMU_EXIT_AFTER_MS: '300', HCSEMU_EXIT_CODE: '5' } });
    await lib.create('created-only', containerDoc());
    await lib.destroy();
    await first.stop();
    assert.ok(existsSync(join(stateDir, 'state.json')));

    const second = await startEmulator({ socketPath, stateDir });
    try {
      const systems = await second.control.list();
      assert.deepEqual(systems.map((s) => [s.id, s.state, s.owner]).sort(), [['created-only', 'Created', 'test-owner'], ['persisted', 'Running', 'me']]);
      assert.deepEqual(systems.find((s) => s.id === 'persisted')?.processes.map((p) => p.pid), [reply.processId]);
      const again = await WireClient.connect(socketPath);
      const { handle: h } = await again.open('persisted');
      const ph = again.newHandle();
      const opened = await again.request('OpenProcess', { handle: h, newHandle: ph, num: reply.processId });
      assert.equal(opened.hresult, HR.S_OK);
      const ev = await again.waitEvent((e) => e.handle === ph);
      assert.equal(ev.data.ExitCode, 5, 'the scripted timer restarted');
      const next = await again.createProcess(h, { CommandLine: 'x' });
      assert.ok(next.reply.processId > reply.processId, 'pids are not reused');
      await again.destroy();
    } finally {
      await second.stop();
    }
  });

  test('detached start via ensureEmulator, findEmulator, and the shutdown command', async () => {
    const socketPath = tempSocketPath();
    assert.equal(await findEmulator(socketPath), undefined);
    const first = await ensureEmulator({ socketPath });
    assert.equal(first.started, true);
    assert.ok(existsSync(join(dirname(socketPath), 'service.log')));
    const second = await ensureEmulator({ socketPath });
    assert.equal(second.started, false);
    const found = await findEmulator(socketPath);
    assert.ok(found);
    const pid = (await found.status()).pid;
    await Promise.all([second.control.close(), found.close()]);
    await first.control.shutdown();
    await waitUntil(() => !alive(pid), 5000, 'service exited');
    assert.equal(existsSync(socketPath), false);
    assert.equal(existsSync(join(dirname(socketPath), 'service.pid')), false);
  });

  test('a non-detached service stops when the process that started it exits', async () => {
    const socketPath = tempSocketPath();
    const launcher = new URL('../../src/emulator/launcher.ts', import.meta.url).href;
    const script = `import { startEmulator } from '${launcher}';
      const e = await startEmulator({ socketPath: ${JSON.stringify(socketPath)} });
      process.stdout.write(String(e.pid)); process.exit(0);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await new Promise((resolve) => child.once('exit', resolve));
    const pid = Number(out);
    assert.ok(pid > 0, `service pid printed (${out})`);
    await waitUntil(() => !alive(pid), 5000, 'orphaned service stopped');
    assert.equal(existsSync(socketPath), false, 'it cleaned up its socket');
  });
});
