/**
 * How a log relay is started: which file plain node runs, with which flags.
 *
 * Installed (dist/), the relay is relay.bundle.mjs next to relay-main.mjs, made by the build
 * (relay-bundle.mjs). Run from the sources (tests, a clone without a build), the same bundle is
 * made once per source state into node_modules/.cache/hcs-reconciler/, named by the hash of its
 * content: the relay itself never runs the TypeScript loader, and an edited source can never
 * leave a stale relay behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The node command line of a relay (after process.execPath). */
export interface RelayCommand {
  /** V8/node flags (kept by the --launch intermediate). */
  flags: string[];
  /** relay-main.mjs. */
  main: string;
  /** Arguments after main. */
  args: string[];
}

/**
 * Heap flags of a relay. A relay holds a few 64 KiB buffers; V8's defaults size the young
 * generation for throughput (16 MiB semi-spaces on 64-bit) and the old generation in GiB.
 * Measured with the `relay` benchmark (test/bench/scenarios/relay.ts).
 */
export const RELAY_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=64'];

const MAIN = fileURLToPath(new URL('./relay-main.mjs', import.meta.url));
const FROM_SOURCES = import.meta.url.endsWith('.ts');
let bundled: Promise<string> | undefined;

/** The relay's command line (bundles the sources on first use when running from them). */
export async function relayCommand(): Promise<RelayCommand> {
  if (!FROM_SOURCES) return { flags: RELAY_FLAGS, main: MAIN, args: [] };
  bundled ??= bundleRelay();
  return { flags: RELAY_FLAGS, main: MAIN, args: [`--module=${pathToFileURL(await bundled).href}`] };
}

/**
 * The bundle of the sources in the cache folder. esbuild runs only when one of the files the last
 * bundle was made from changed (their contents are hashed: a changed import list changes the
 * importing file), so a controller started from the sources pays it once per source state.
 */
async function bundleRelay(): Promise<string> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const dir = join(root, 'node_modules', '.cache', 'hcs-reconciler');
  const index = join(dir, 'relay-index.json');
  try {
    const last = JSON.parse(readFileSync(index, 'utf8')) as { inputs: string[]; hash: string; file: string };
    if (existsSync(last.file) && hashOf(root, last.inputs) === last.hash) return last.file;
  } catch {
    // no index yet, or unreadable: bundle
  }
  // Imported here, not at the top: relay-bundle.mjs (and esbuild) exist only in a checkout.
  const { bundleRelay: bundleCode } = await import('./relay-bundle.mjs');
  const { code, inputs } = await bundleCode();
  const file = join(dir, `relay-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  mkdirSync(dir, { recursive: true });
  if (!existsSync(file)) atomicWrite(file, code); // concurrent test processes may bundle the same sources
  atomicWrite(index, JSON.stringify({ inputs, hash: hashOf(root, inputs), file }));
  return file;
}

function hashOf(root: string, inputs: readonly string[]): string {
  const h = createHash('sha256');
  for (const input of inputs) h.update(input).update('\0').update(readFileSync(join(root, input))).update('\0');
  return h.digest('hex');
}

function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
