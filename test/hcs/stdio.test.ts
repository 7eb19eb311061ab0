/**
 * D16 and src/hcs/stdio.ts against the emulator: HcsCreateProcess with pipes hands out
 * StdInput/StdOutput/StdError, the streams carry the bytes (kernel32 ABI of libkernel32-emu.so on
 * worker threads), and every handle is closed exactly once.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { Readable } from 'node:stream';
import type { NativeHcsClient, NativeHcsProcess, ProcessEvent } from '../../src/hcs/index.ts';
import { emulatorOpenPipeHandles, kernel32LibraryPath } from '../../src/hcs/stdio.ts';
import { assertNoLeaks, containerDoc, eventually, newClient, startService, type Service } from './harness.ts';

const PIPES = { CreateStdInPipe: true, CreateStdOutPipe: true, CreateStdErrPipe: true };

async function readAll(stream: Readable | undefined): Promise<string> {
  assert.ok(stream, 'stream exists');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function exitOf(p: NativeHcsProcess): Promise<ProcessEvent> {
  return new Promise((resolve) => p.onExit(resolve));
}

describe('process stdio pipes (D16)', () => {
  let svc: Service;
  let hcs: NativeHcsClient;
  let k32: string;
  before(async () => {
    svc = await startService();
    k32 = kernel32LibraryPath(svc.native.libraryPath);
  });
  after(async () => svc.stop());
  beforeEach(() => {
    hcs = newClient(svc);
  });
  afterEach(async () => {
    await hcs.close();
    await svc.emu.control.reset();
    await assertNoLeaks(svc);
    await eventually(() => emulatorOpenPipeHandles(k32) === 0, 'every pipe handle closed');
  });

  async function running(id: string) {
    const sys = await hcs.create(id, containerDoc());
    await sys.start();
    return sys;
  }

  it('cmd /c echo: stdout carries the line, stderr ends empty, exit 0', async () => {
    const sys = await running('echo');
    const p = (await sys.createProcess({ CommandLine: 'cmd /c echo hi', ...PIPES })) as NativeHcsProcess;
    assert.ok(p.stdio, 'stdio handles returned');
    const exit = exitOf(p);
    p.stdio.writer()?.end();
    const [out, err] = await Promise.all([readAll(p.stdio.reader('stdout')), readAll(p.stdio.reader('stderr'))]);
    assert.equal(out, 'hi\r\n');
    assert.equal(err, '');
    assert.equal((await exit).exitCode, 0);
  });

  it('cmd /c exit 3: exit code 3, pipes end', async () => {
    const sys = await running('exit3');
    const p = (await sys.createProcess({ CommandLine: 'cmd.exe /C exit 3', CreateStdOutPipe: true })) as NativeHcsProcess;
    assert.equal((await exitOf(p)).exitCode, 3);
    assert.equal(p.stdio?.has('stdin'), false);
    assert.equal(p.stdio?.has('stderr'), false);
    assert.equal(await readAll(p.stdio?.reader('stdout')), '');
  });

  it('cat: stdin is copied to stdout until stdin is closed', async () => {
    const sys = await running('cat');
    const p = (await sys.createProcess({ CommandLine: 'cat', ...PIPES })) as NativeHcsProcess;
    const exit = exitOf(p);
    const stdin = p.stdio?.writer();
    assert.ok(stdin);
    const out = readAll(p.stdio?.reader('stdout'));
    const big = 'x'.repeat(300_000); // several pipe buffers: back-pressure on both sides
    stdin.write('one\n');
    stdin.write(big);
    stdin.end('two\n');
    assert.equal(await out, `one\n${big}two\n`);
    assert.equal((await exit).exitCode, 0);
    p.stdio?.close(); // stderr was never taken: closed here, once
  });

  it('stdin ended and destroyed at once: each close callback runs once, nothing thrown', async () => {
    const sys = await running('cat-destroy');
    const errors: Error[] = [];
    const onUncaught = (err: Error) => errors.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 5; i++) {
        const p = (await sys.createProcess({ CommandLine: 'cat', ...PIPES })) as NativeHcsProcess;
        const exit = exitOf(p);
        const stdin = p.stdio?.writer();
        assert.ok(stdin);
        stdin.on('error', (err) => errors.push(err));
        const out = readAll(p.stdio?.reader('stdout'));
        stdin.end('x\n'); // final asks the worker to close ...
        stdin.destroy(); // ... and destroy asks again before the first answer
        await new Promise((r) => stdin.once('close', r));
        assert.equal(await out, 'x\n');
        assert.equal((await exit).exitCode, 0);
        p.stdio?.close();
      }
      await new Promise((r) => setTimeout(r, 50)); // worker exits arrive after their close answers
      assert.deepEqual(errors.map((e) => String(e)), []);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('printing extension: numbered lines on stdout and stderr, then the scripted exit', async () => {
    const sys = await running('printer');
    const env = { HCSEMU_PRINT_EVERY_MS: '1', HCSEMU_PRINT_COUNT: '6', HCSEMU_PRINT_STREAM: 'both', HCSEMU_PRINT_EXIT_CODE: '4' };
    const p = (await sys.createProcess({ CommandLine: 'app.exe', Environment: env, ...PIPES })) as NativeHcsProcess;
    p.stdio?.writer()?.end();
    const [out, err] = await Promise.all([readAll(p.stdio?.reader('stdout')), readAll(p.stdio?.reader('stderr'))]);
    assert.equal(out, 'line 1\r\nline 3\r\nline 5\r\n');
    assert.equal(err, 'line 2\r\nline 4\r\nline 6\r\n');
    assert.equal((await exitOf(p)).exitCode, 4);
  });

  it('EmulateConsole ignores CreateStdErrPipe; a process without pipes has no stdio', async () => {
    const sys = await running('console');
    const p = (await sys.createProcess({ CommandLine: 'cmd /c echo x', EmulateConsole: true, ...PIPES })) as NativeHcsProcess;
    assert.equal(p.stdio?.has('stderr'), false);
    assert.equal(p.stdio?.has('stdout'), true);
    p.stdio?.close();
    const q = (await sys.createProcess({ CommandLine: 'server.exe' })) as NativeHcsProcess;
    assert.equal(q.stdio, undefined);
    await q.terminate();
  });

  it('a reader that goes away breaks the pipe: the process keeps running, later output is lost', async () => {
    const sys = await running('broken');
    const env = { HCSEMU_PRINT_EVERY_MS: '2' };
    const p = (await sys.createProcess({ CommandLine: 'app.exe', Environment: env, CreateStdOutPipe: true })) as NativeHcsProcess;
    const stdout = p.stdio?.reader('stdout');
    assert.ok(stdout);
    const first = await new Promise<string>((resolve) => stdout.once('data', (c: Buffer) => resolve(c.toString())));
    assert.match(first, /^line 1\r\n/);
    await p.terminate(); // ends the stream; the worker closes its handle
    await readAll(stdout);
    assert.equal((await exitOf(p)).exitCode, 1);
  });

  it("thread: 'pool' (the relay's readers): the same bytes through koffi .async, back-pressure, one close", async () => {
    const sys = await running('pool');
    const env = { HCSEMU_PRINT_EVERY_MS: '1', HCSEMU_PRINT_COUNT: '6', HCSEMU_PRINT_STREAM: 'both', HCSEMU_PRINT_EXIT_CODE: '4' };
    const p = (await sys.createProcess({ CommandLine: 'app.exe', Environment: env, CreateStdOutPipe: true, CreateStdErrPipe: true })) as NativeHcsProcess;
    const [out, err] = await Promise.all([readAll(p.stdio?.reader('stdout', { thread: 'pool' })), readAll(p.stdio?.reader('stderr', { thread: 'pool' }))]);
    assert.equal(out, 'line 1\r\nline 3\r\nline 5\r\n');
    assert.equal(err, 'line 2\r\nline 4\r\nline 6\r\n');
    assert.equal((await exitOf(p)).exitCode, 4);
    // 300 KB through cat: more than the stream's high-water mark and the emulated pipe buffer.
    const c = (await sys.createProcess({ CommandLine: 'cat', ...PIPES })) as NativeHcsProcess;
    const stdin = c.stdio?.writer();
    assert.ok(stdin);
    const reader = c.stdio?.reader('stdout', { thread: 'pool' });
    const big = 'y'.repeat(300_000);
    stdin.end(big);
    assert.equal(await readAll(reader), big);
    c.stdio?.close();
  });

  it('D6: a CreateProcess whose result fails spuriously still hands over its pipes (from HcsGetProcessInfo), closed once', async () => {
    const sys = await running('d6pipes');
    const handlesBefore = emulatorOpenPipeHandles(k32);
    await svc.emu.control.fault({ op: 'CreateProcess', hresult: 'E_INVALIDARG', afterEffect: true });
    const env = { HCSEMU_PRINT_EVERY_MS: '1', HCSEMU_PRINT_COUNT: '4', HCSEMU_PRINT_STREAM: 'both', HCSEMU_PRINT_EXIT_CODE: '0' };
    const p = (await sys.createProcess({ CommandLine: 'app.exe', Environment: env, ...PIPES })) as NativeHcsProcess;
    assert.ok(p.processId >= 1000, `recovered pid ${p.processId}`);
    assert.ok(p.stdio?.has('stdout') && p.stdio.has('stderr') && p.stdio.has('stdin'), 'the recovered process has its three pipes');
    assert.equal(emulatorOpenPipeHandles(k32), (handlesBefore ?? 0) + 3, 'exactly the three handles of HcsGetProcessInfo are open');
    p.stdio?.writer()?.end();
    const [out, err] = await Promise.all([readAll(p.stdio?.reader('stdout')), readAll(p.stdio?.reader('stderr', { thread: 'pool' }))]);
    assert.equal(out, 'line 1\r\nline 3\r\n', 'the output is not lost');
    assert.equal(err, 'line 2\r\nline 4\r\n');
    assert.equal((await exitOf(p)).exitCode, 0);
    await eventually(() => emulatorOpenPipeHandles(k32) === handlesBefore, 'each recovered handle closed once, by its stream');
    assert.equal((await p.info()).processId, p.processId, 'a second HcsGetProcessInfo hands out no more pipes');
    assert.equal(emulatorOpenPipeHandles(k32), handlesBefore);
  });
});
