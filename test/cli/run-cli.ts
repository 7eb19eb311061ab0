/** The CLI as a child process, without blocking the event loop (registries and emulators of the test run in this process's children). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root and the CLI entry point the tests run. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = join(root, 'src/cli/bin.mjs');

/** Runs `node bin ...args` in the root with `env` over this process's (debug output off); resolves with its exit code and output. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, HCS_RECONCILER_DEBUG: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Starts `node bin ...args` (a long-running command such as `run`) and follows its stderr line by
 * line: `waitLog(re)` resolves at the first line matching `re`, seen before or later (60 s, then
 * it rejects with every line so far).
 */
export function spawnLogged(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env } });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  let buffer = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.re.test(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const waitLog = (re: RegExp) => new Promise<void>((resolve, reject) => {
    if (lines.some((l) => re.test(l))) return resolve();
    const t = setTimeout(() => reject(new Error(`no log line matching ${re}; got:\n${lines.join('\n')}`)), 60_000);
    waiters.push({ re, resolve: () => {
      clearTimeout(t);
      resolve();
    } });
  });
  return { child, lines, waitLog };
}
