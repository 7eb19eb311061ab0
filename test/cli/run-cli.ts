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
