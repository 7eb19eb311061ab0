/**
 * Functional checks of issue 16 against the real computecore.dll and kernel32.dll: the stdio
 * HANDLEs of HCS_PROCESS_INFORMATION (D16) read and written through src/hcs/stdio.ts, and the
 * log relay's capture surviving the process that started it.
 *
 * Needs a process-isolated container: HCS_TEST_CONTAINER_DOC = path of a ComputeSystem JSON
 * document (schema 2.x, with layers and a scratch volume prepared, e.g. by `image` import) whose
 * image has cmd.exe. Everything it creates has Owner "hcs-reconciler-functional".
 * Run (PowerShell, elevated):
 *   $env:HCS_FUNCTIONAL=1; $env:HCS_TEST_CONTAINER_DOC='C:\t\container.json'; node test/run.mjs test/windows
 *
 * What it checks that the emulator cannot (all UNVERIFIED until this suite has run):
 *  - HcsCreateProcess hands back readable pipe HANDLEs; ReadFile ends with a failure
 *    (ERROR_BROKEN_PIPE) once the process exited; koffi + kernel32 work on worker threads;
 *  - closing our stdin HANDLE gives the process end of input;
 *  - a relay started by one process keeps capturing after that process closed every HCS handle
 *    and exited, and no line is lost;
 *  - when the process holding the pipes dies (TerminateProcess), HCS does not kill the container
 *    process with it (what the process then does on a failed write is its own business).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openHcs, type NativeHcsClient, type NativeHcsProcess, type HcsSystem } from '../../src/hcs/index.ts';
import { captureEntrypoints } from '../../src/cli/capture-hcs.ts';
import { snapshotRecords } from '../../src/logs/reader.ts';

const docPath = process.env.HCS_TEST_CONTAINER_DOC;
const enabled = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1' && docPath !== undefined;
const skip = enabled ? false : 'needs Windows, HCS_FUNCTIONAL=1 and HCS_TEST_CONTAINER_DOC (a process-isolated container document)';
const OWNER = 'hcs-reconciler-functional';
const PIPES = { EmulateConsole: false, CreateStdInPipe: true, CreateStdOutPipe: true, CreateStdErrPipe: true };

async function readAll(stream: Readable | undefined): Promise<string> {
  assert.ok(stream, 'pipe exists');
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function exitCode(p: NativeHcsProcess): Promise<number | undefined> {
  return new Promise((resolve) => p.onExit((e) => resolve(e.exitCode)));
}

describe('stdio pipes and log capture on real HCS', { skip }, () => {
  let hcs: NativeHcsClient;
  let system: HcsSystem;
  const id = `hcs-reconciler-functional-${randomUUID().slice(0, 8)}`;
  before(async () => {
    hcs = openHcs();
    const doc = { ...(JSON.parse(readFileSync(docPath as string, 'utf8')) as Record<string, unknown>), Owner: OWNER, ShouldTerminateOnLastHandleClosed: true };
    system = await hcs.create(id, doc, { timeoutMs: 120_000 });
    await system.start({ timeoutMs: 120_000 });
  });
  after(async () => {
    await system?.terminate({ timeoutMs: 60_000 }).catch(() => {});
    await hcs?.close();
  });

  it('cmd /c echo hi: stdout is "hi\\r\\n", stderr is empty, exit 0; exit 3 gives 3', async () => {
    const p = (await system.createProcess({ CommandLine: 'cmd /c echo hi', ...PIPES }, { timeoutMs: 60_000 })) as NativeHcsProcess;
    const code = exitCode(p);
    p.stdio?.writer()?.end();
    const [out, err] = await Promise.all([readAll(p.stdio?.reader('stdout')), readAll(p.stdio?.reader('stderr'))]);
    assert.equal(out, 'hi\r\n');
    assert.equal(err, '');
    assert.equal(await code, 0);
    const q = (await system.createProcess({ CommandLine: 'cmd /c exit 3', CreateStdOutPipe: true }, { timeoutMs: 60_000 })) as NativeHcsProcess;
    assert.equal(await exitCode(q), 3);
    assert.equal(await readAll(q.stdio?.reader('stdout')), '');
  });

  it('stdin: closing our handle ends the input of `findstr "^"` (copies stdin to stdout)', async () => {
    const p = (await system.createProcess({ CommandLine: 'findstr "^"', ...PIPES }, { timeoutMs: 60_000 })) as NativeHcsProcess;
    const code = exitCode(p);
    const stdin = p.stdio?.writer();
    const out = readAll(p.stdio?.reader('stdout'));
    stdin?.end('one\r\ntwo\r\n');
    assert.equal(await out, 'one\r\ntwo\r\n');
    assert.equal(await code, 0);
    p.stdio?.close();
  });

  it('the relay keeps capturing after its starter closed every handle; no line lost', async () => {
    const dataRoot = mkdtempSync(join(tmpdir(), 'hcs-functional-logs-'));
    try {
      const capture = captureEntrypoints(openHcs(), { libraryPath: 'computecore.dll', dataRoot, rotation: { maxBytes: 2048, maxFiles: 50 } });
      const sys = await capture.open(id, { timeoutMs: 60_000 });
      const printer = 'cmd /c "for /l %i in (1,1,300) do @(echo line %i & ping -n 1 -w 10 127.0.0.1 >nul)"';
      const proc = await sys.createProcess({ CommandLine: printer }, { timeoutMs: 60_000 });
      const exited = new Promise<void>((resolve) => proc.onExit(() => resolve()));
      await capture.close(); // the starter lets go of everything: the relay holds the pipes alone
      const reopened = await hcs.open(id, { timeoutMs: 60_000 });
      const again = await reopened.openProcess(proc.processId, { timeoutMs: 60_000 }).catch(() => undefined);
      if (again) await new Promise<void>((resolve) => again.onExit(() => resolve()));
      else await exited.catch(() => {});
      const dir = join(dataRoot, 'logs', id);
      const deadline = Date.now() + 60_000;
      const relayDone = (): boolean => existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('relay-') && /output ended/.test(readFileSync(join(dir, f), 'utf8')));
      while (!relayDone()) {
        assert.ok(Date.now() < deadline, 'relay finished');
        await new Promise((r) => setTimeout(r, 200));
      }
      const { records, cursor } = snapshotRecords(dir, id);
      if (cursor.fd !== undefined) (await import('node:fs')).closeSync(cursor.fd);
      const numbers = records.map((r) => Number(/^line (\d+)\s*$/.exec(r.log)?.[1]));
      assert.deepEqual(numbers, Array.from({ length: 300 }, (_, i) => i + 1));
      await again?.close();
      await reopened.close();
    } finally {
      rmSync(dataRoot, { recursive: true, force: true });
    }
  });

  it('the container process outlives the death of the process holding its pipes', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const holderCode = `
      import { openHcs } from './src/hcs/index.ts';
      const hcs = openHcs();
      const sys = await hcs.open(${JSON.stringify(id)}, { timeoutMs: 60000 });
      const p = await sys.createProcess({ CommandLine: 'cmd /c "ping -t 127.0.0.1 >nul"', CreateStdInPipe: true, CreateStdOutPipe: true, CreateStdErrPipe: true }, { timeoutMs: 60000 });
      console.log(JSON.stringify({ pid: p.processId }));
      setInterval(() => {}, 1 << 30);`;
    const holder = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', holderCode], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      holder.stdout.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { pid: number }).pid));
      holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    holder.kill('SIGKILL'); // TerminateProcess: its pipe handles close with it
    await new Promise((r) => holder.once('exit', r));
    // The process writes nothing to its pipes (ping's output goes to nul inside): this isolates what
    // HCS itself does when the holder of the pipes dies. Give it time to act.
    await new Promise((r) => setTimeout(r, 3000));
    const proc = await system.openProcess(pid, { timeoutMs: 60_000 });
    try {
      assert.equal((await proc.properties({ timeoutMs: 60_000 })).exited, false, 'still running after its pipe holder died');
      await proc.terminate({ timeoutMs: 60_000 });
    } finally {
      await proc.close();
    }
  });
});
