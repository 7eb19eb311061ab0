/**
 * Debian's docker-registry (distribution 2.8) run by a test: its own config bound to 127.0.0.1 on
 * a free port, storage in a temp folder, no auth; stopped by the test. Never the packaged service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REGISTRY_BINARY = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';

/** Why the real-registry tests are skipped, or false when the binary exists. */
export const registrySkip: string | false = existsSync(REGISTRY_BINARY)
  ? false
  : `${REGISTRY_BINARY} not found: install Debian's docker-registry package (apt-get install docker-registry) to run the real-registry tests`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A running registry: `host` is `127.0.0.1:PORT`, `base` is `http://host`. */
export interface RealRegistry {
  host: string;
  base: string;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the registry and resolves once GET /v2/ answers 200. */
export async function startRealRegistry(): Promise<RealRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-registry-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const cfg = join(dir, 'config.yml');
    await writeFile(cfg, ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true', 'http:', `  addr: ${host}`, ''].join('\n'));
    const child = spawn(REGISTRY_BINARY, ['serve', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((r) => child.once('exit', (c) => r(c ?? -1)));
    const ready = await waitReady(`http://${host}`, exited);
    if (ready) return { host, base: `http://${host}`, dir, stop: () => stop(child, exited, dir) };
    // Not answering (yet): end this one before the next attempt, or it comes up later, orphaned
    // (seen under load: a registry left running after the suite).
    child.kill('SIGKILL');
    await exited;
    if (attempt >= 2) throw new Error(`docker-registry did not start: ${stderr.slice(-500)}`);
  }
}

async function waitReady(base: string, exited: Promise<number>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (let i = 0; i < 800 && !gone; i++) { // up to 20 s: a loaded 2-core machine starts it slowly
    try {
      const res = await fetch(`${base}/v2/`);
      if (res.status === 200) return true;
    } catch {
      // not listening yet: the next connection attempt is the wait
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

async function stop(child: ChildProcess, exited: Promise<number>, dir: string): Promise<void> {
  child.kill('SIGTERM');
  await exited;
  await rm(dir, { recursive: true, force: true });
}
