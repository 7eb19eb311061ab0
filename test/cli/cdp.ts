/**
 * A minimal Chrome DevTools Protocol client over Chromium's --remote-debugging-pipe (fd 3: our
 * commands, fd 4: its replies and events, NUL-terminated JSON). Chosen over playwright-core: no
 * dependency (and no browser-version coupling) for the few commands the status page test sends,
 * and no debugging port open on the machine. Starts headless Chromium with a fresh profile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Chromium's path, or undefined when it is not installed (the test then skips). */
export function findChromium(): string | undefined {
  return [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
}

type Listener = (params: Record<string, unknown>, sessionId?: string) => void;

/** A browser with one page (a CDP session) and its event listeners. */
export interface Browser {
  send<T = Record<string, unknown>>(method: string, params?: Record<string, unknown>, sessionId?: string): Promise<T>;
  on(method: string, fn: Listener): void;
  close(): Promise<void>;
}

/** Launch headless Chromium and connect over the pipe. */
export function launchChromium(executable: string): Browser {
  const profile = mkdtempSync(join(tmpdir(), 'hcs-chromium-'));
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-extensions', '--disable-dev-shm-usage', '--no-default-browser-check', `--user-data-dir=${profile}`,
    '--remote-debugging-pipe', 'about:blank'];
  const child: ChildProcess = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
  const toBrowser = child.stdio[3] as Writable;
  const fromBrowser = child.stdio[4] as Readable;
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; method: string }>();
  const listeners = new Map<string, Listener[]>();
  let buffer = '';
  fromBrowser.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\0')) >= 0) {
      const msg = JSON.parse(buffer.slice(0, end)) as { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string }; sessionId?: string };
      buffer = buffer.slice(end + 1);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p?.resolve(msg.result);
      } else if (msg.method) {
        for (const fn of listeners.get(msg.method) ?? []) fn(msg.params ?? {}, msg.sessionId);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    for (const p of pending.values()) p.reject(new Error(`chromium exited: ${stderr.trim()}`));
    pending.clear();
    resolve();
  }));
  return {
    send: (method, params = {}, sessionId) => new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      toBrowser.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    }),
    on: (method, fn) => listeners.set(method, [...(listeners.get(method) ?? []), fn]),
    close: async () => {
      if (child.exitCode === null) {
        toBrowser.write(`${JSON.stringify({ id: nextId++, method: 'Browser.close', params: {} })}\0`);
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
