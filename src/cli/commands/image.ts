/**
 * `image pull | ls | rm | prune`: the image store from the command line (contracts in docs/images.md).
 * Exit 0 on success, 1 on any failure, with one error line on stderr.
 */
import { existsSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { openLayers, registryClient } from '../images.ts';
import { defaultDataRoot } from '../../images/paths.ts';
import { ImageStore, type ImageRecord, type LayerProgress } from '../../images/store.ts';
import { loadManifests } from '../../manifest/index.ts';
import { formatReference, parseReference } from '../../registry/index.ts';
import type { GlobalOptions } from '../context.ts';
import { manifestOptions } from '../context.ts';
import { outputFormat, printJson, table, UsageError } from '../output.ts';

/** Global options of the image commands (registered on the program in main.ts). */
export type ImageGlobals = GlobalOptions;

/** Opens the store of --data-root (default per platform). */
export async function openStore(g: ImageGlobals, layers = openLayers()): Promise<ImageStore> {
  return ImageStore.open(g.dataRoot ?? defaultDataRoot(), layers);
}

const short = (d: string) => d.slice(7, 19);
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** `image pull REF`: per-layer bars on a TTY, one line per layer otherwise. */
export async function imagePull(ref: string, g: ImageGlobals): Promise<number> {
  const parsed = parseReference(ref);
  const layers = openLayers();
  layers.enableBackupPrivileges();
  const store = await openStore(g, layers);
  const tty = process.stderr.isTTY === true;
  const multi = tty ? new cliProgress.MultiBar({ format: '{layer} |{bar}| {phase} {value}/{total} bytes', hideCursor: true, clearOnComplete: false, stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
  const bars = new Map<string, cliProgress.SingleBar>();
  const printed = new Set<string>();
  const onProgress = (p: LayerProgress) => {
    if (multi) {
      let bar = bars.get(p.digest);
      if (!bar) bars.set(p.digest, (bar = multi.create(p.total, 0, { layer: short(p.digest), phase: p.phase })));
      bar.update(p.done, { phase: p.phase });
    } else if ((p.phase === 'done' || p.phase === 'exists') && !printed.has(p.digest)) {
      printed.add(p.digest);
      process.stdout.write(`${short(p.digest)}: ${p.phase === 'exists' ? 'already present' : 'pulled'} ${mb(p.total)}\n`);
    }
  };
  try {
    const record = await store.pull(parsed, { client: await registryClient(g), onProgress });
    multi?.stop();
    process.stdout.write(`${record.reference}: ${record.digest} (${record.layers.length} layers, os.version ${record.osVersion ?? 'unknown'})\n`);
    return 0;
  } finally {
    multi?.stop();
  }
}

/** Manifest names per image reference (as stored), from --manifests. */
async function usage(g: ImageGlobals, store: ImageStore, manifests: string | undefined): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!manifests || !existsSync(manifests)) return out;
  const snap = await loadManifests(manifests, { ...(await manifestOptions({ ...g, dataRoot: store.paths.root })), recursive: true, maxDepth: 1 });
  for (const m of snap.manifests) {
    if (!m.image) continue;
    const key = formatReference(parseReference(m.image.reference));
    out.set(key, [...(out.get(key) ?? []), m.name]);
  }
  return out;
}

interface LsRow {
  reference: string;
  digest: string;
  osVersion: string | null;
  sizeBytes: number;
  layers: number;
  inUseBy: string[];
}

async function rows(store: ImageStore, records: ImageRecord[], used: Map<string, string[]>): Promise<LsRow[]> {
  const out: LsRow[] = [];
  for (const r of records) {
    out.push({ reference: r.reference, digest: r.digest, osVersion: r.osVersion ?? null, sizeBytes: await store.sizeOf(r), layers: r.layers.length, inUseBy: used.get(r.reference) ?? [] });
  }
  return out;
}

/** `image ls [-o json]`. */
export async function imageLs(o: { output?: string; manifests?: string }, g: ImageGlobals): Promise<number> {
  const format = outputFormat(o.output, ['json']);
  const store = await openStore(g);
  const list = await rows(store, await store.list(), await usage(g, store, o.manifests));
  if (format === 'json') printJson(list);
  else {
    const body = list.map((r) => [r.reference, r.digest.slice(0, 19), r.osVersion ?? '-', mb(r.sizeBytes), String(r.layers), r.inUseBy.join(',') || '-']);
    process.stdout.write(`${table(['REFERENCE', 'DIGEST', 'OS VERSION', 'SIZE', 'LAYERS', 'IN USE BY'], body)}\n`);
  }
  return 0;
}

/** `image rm REF`: refuses while a manifest uses it. */
export async function imageRm(ref: string, o: { manifests?: string }, g: ImageGlobals): Promise<number> {
  const store = await openStore(g);
  const key = formatReference(parseReference(ref));
  if (!(await store.get(key))) throw new UsageError(`image ${key} is not in the store (${store.paths.root})`);
  const users = (await usage(g, store, o.manifests)).get(key) ?? [];
  if (users.length > 0) throw new UsageError(`image ${key} is in use by ${users.join(', ')}; remove or change those manifests first`);
  const res = await store.remove(key);
  process.stdout.write(`removed ${key} (${res.layers.length} layers, ${mb(res.reclaimedBytes)})\n`);
  return 0;
}

/** `image prune [-o json]`: removes every image no manifest uses, then unreferenced layers. */
export async function imagePrune(o: { output?: string; manifests?: string }, g: ImageGlobals): Promise<number> {
  const format = outputFormat(o.output, ['json']);
  const store = await openStore(g);
  const used = await usage(g, store, o.manifests);
  const res = await store.prune((r) => (used.get(r.reference) ?? []).length > 0);
  if (format === 'json') printJson(res);
  else process.stdout.write(`removed ${res.images.length} images and ${res.layers.length} layers, ${mb(res.reclaimedBytes)} reclaimed\n`);
  return 0;
}
