/**
 * A `hcs-reconciler run` child process for CLI tests: its stderr collected, and killed (with the
 * emulator stopped and the temp folder removed) when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** The child and what it has written to stderr so far (`log.text`). */
export interface ControllerChild {
  child: ChildProcess;
  log: { text: string };
}

/** Spawn `node <bin> ...args` in `root`; on test end kill it, stop `emu` and remove `dir`. */
export function spawnController(t: TestContext, o: { bin: string; root: string; args: string[]; env: NodeJS.ProcessEnv; emu: { stop(): Promise<void> }; dir: string }): ControllerChild {
  const child = spawn(process.execPath, [o.bin, ...o.args], { cwd: o.root, env: o.env, stdio: ['ignore', 'ignore', 'pipe'] });
  const log = { text: '' };
  child.stderr!.on('data', (c: Buffer) => (log.text += c.toString()));
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
    await o.emu.stop();
    rmSync(o.dir, { recursive: true, force: true });
  });
  return { child, log };
}
