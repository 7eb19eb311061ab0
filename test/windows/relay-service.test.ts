/**
 * Functional check of issue 16 on Windows: log relays outlive a stop and a restart of the WinSW
 * service that started them, and the relay's pipe reads (koffi `.async` ReadFile on libuv pool
 * threads, stdio.ts `thread: 'pool'`) work on real HCS pipe HANDLEs.
 *
 * Why it should hold (UNVERIFIED until this has run): WinSW v2 and v3 stop the service's process
 * tree by parent process id (winsw src/WinSW.Core/Util/ProcessExtensions.cs GetChildren:
 * NtQueryInformationProcess InheritedFromUniqueProcessId, also on an unexpected exit, v3
 * WrapperService.OnMainProcessExited → StopDescendants) and use no job object; relays are started
 * through a short-lived intermediate (relay-main.mjs --launch), so their parent no longer exists
 * when WinSW walks the tree. libuv puts non-detached children in a kill-on-close job; relays are
 * spawned detached, so they are not in it.
 *
 * Needs, besides HCS_FUNCTIONAL=1 and HCS_TEST_CONTAINER_DOC (see stdio-logs.test.ts):
 * HCS_TEST_WINSW = path of WinSW-x64.exe (v2.12 or v3), an elevated prompt, and `npm run build`
 * (the service runs the compiled dist/ on plain node). Run:
 *   $env:HCS_FUNCTIONAL=1; $env:HCS_TEST_CONTAINER_DOC='C:\t\container.json'; $env:HCS_TEST_WINSW='C:\t\WinSW-x64.exe'
 *   node test/run.mjs test/windows/relay-service
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openHcs, type HcsSystem, type NativeHcsClient, type NativeHcsProcess } from '../../src/hcs/index.ts';
import { generationPath } from '../../src/logs/writer.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const docPath = process.env.HCS_TEST_CONTAINER_DOC;
const winsw = process.env.HCS_TEST_WINSW;
const distCapture = join(root, 'dist/src/cli/capture-hcs.js');
const base = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1' && docPath !== undefined;
const skip = base ? false : 'needs Windows, HCS_FUNCTIONAL=1 and HCS_TEST_CONTAINER_DOC (a process-isolated container document)';
const serviceSkip = skip || (!winsw ? 'needs HCS_TEST_WINSW (path of WinSW-x64.exe)' : !existsSync(distCapture) ? 'needs the compiled package: npm run build' : false);
const OWNER = 'hcs-reconciler-functional';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function lineCount(path: string): number {
  try {
    return readFileSync(path, 'utf8').split('\n').length - 1;
  } catch {
    return 0;
  }
}

describe('log relays on Windows: pool-thread reads, surviving the WinSW service', { skip }, () => {
  let hcs: NativeHcsClient;
  let system: HcsSystem;
  const id = `hcs-reconciler-functional-${randomUUID().slice(0, 8)}`;
  before(async () => {
    hcs = openHcs();
    const doc = { ...(JSON.parse(readFileSync(docPath as string, 'utf8')) as Record<string, unknown>), Owner: OWNER, ShouldTerminateOnLastHandleClosed: false };
    system = await hcs.create(id, doc, { timeoutMs: 120_000 });
    await system.start({ timeoutMs: 120_000 });
  });
  after(async () => {
    await system?.terminate({ timeoutMs: 60_000 }).catch(() => {});
    await hcs?.close();
  });

  it("ReadFile on libuv pool threads (the relay's readers) reads real HCS pipes to their end", async () => {
    const p = (await system.createProcess({ CommandLine: 'cmd /c echo pool', CreateStdOutPipe: true, CreateStdErrPipe: true }, { timeoutMs: 60_000 })) as NativeHcsProcess;
    const read = async (s: Readable | undefined): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const c of s ?? []) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    };
    const [out, err] = await Promise.all([read(p.stdio?.reader('stdout', { thread: 'pool' })), read(p.stdio?.reader('stderr', { thread: 'pool' }))]);
    assert.equal(out, 'pool\r\n');
    assert.equal(err, '');
  });

  it('a relay started by a WinSW service keeps capturing across `restart` and `stop` of that service', { skip: serviceSkip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hcs-functional-winsw-'));
    const name = `hcs-relay-test-${randomUUID().slice(0, 8)}`;
    const exe = join(dir, `${name}.exe`);
    const reportFile = join(dir, 'report.json');
    const logDir = join(dir, 'logs');
    const args = [join(root, 'test/windows/relay-service.child.mjs'), pathToFileURL(distCapture).href, reportFile, (hcs as unknown as { native: { libraryPath: string } }).native.libraryPath, id, logDir];
    const quote = (s: string): string => (/[\s"]/.test(s) ? `"${s.replace(/"/g, '\\"')}"` : s);
    const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    copyFileSync(winsw as string, exe);
    writeFileSync(join(dir, `${name}.xml`), `<service>
  <id>${name}</id>
  <name>${name}</name>
  <description>hcs-reconciler functional test: relay survival</description>
  <executable>${esc(process.execPath)}</executable>
  <arguments>${esc(args.map(quote).join(' '))}</arguments>
  <stoptimeout>10 sec</stoptimeout>
  <stopparentprocessfirst>true</stopparentprocessfirst>
  <log mode="reset"/>
</service>
`);
    const winswCmd = (verb: string): void => {
      execFileSync(exe, [verb], { stdio: 'inherit' });
    };
    try {
      winswCmd('install');
      winswCmd('start');
      await until(() => existsSync(reportFile), 'the service to start a relay');
      const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { pid?: number; relay?: number; service: number; error?: string };
      assert.ok(report.relay && report.pid, `relay report: ${JSON.stringify(report)}`);
      const log = generationPath(logDir, id, 1);
      await until(() => lineCount(log) >= 2, 'the first lines in the log');

      winswCmd('restart');
      await until(() => !alive(report.service), 'the first service process to be gone');
      assert.ok(alive(report.relay), 'the relay survived the service restart');
      const afterRestart = lineCount(log);
      await until(() => lineCount(log) >= afterRestart + 3, 'the relay to write on after the restart');

      winswCmd('stop');
      assert.ok(alive(report.relay), 'the relay survived the service stop');
      const afterStop = lineCount(log);
      await until(() => lineCount(log) >= afterStop + 3, 'the relay to write on after the stop');
      const numbers = readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => Number(/^line (\d+)/.exec((JSON.parse(l) as { log: string }).log)?.[1]));
      assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => i + 1), 'no line lost');
    } finally {
      try {
        winswCmd('stop');
      } catch {
        // already stopped
      }
      try {
        winswCmd('uninstall');
      } catch {
        // not installed
      }
      await system.terminate({ timeoutMs: 60_000 }).catch(() => {}); // ends the entrypoint, so the relay
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
