/**
 * Scenario `image`: pull + import of a synthetic Windows image with one big layer (512 MiB of
 * incompressible data; 128 MiB with --quick, 8 MiB with --smoke) from Debian's docker-registry on
 * loopback, against the baseline in the same run: `curl` downloading the same blobs and `sha256sum`
 * over them. Targets: wall <= 1.25 x baseline; RSS growth during the pull <= 64 MB (peak RSS via
 * /proc/self/status VmHWM after resetting it with /proc/self/clear_refs, minus RSS before).
 * The pull runs in this process through the same code as `hcs-reconciler image pull` (ImageStore),
 * so the CLI's start-up time is not part of the figure.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../../../src/emulator/native/build.mjs';
import { LayerNative } from '../../../src/hcs/layers.ts';
import { ImageStore } from '../../../src/images/store.ts';
import { RegistryClient } from '../../../src/registry/index.ts';
import { registrySkip, startRealRegistry } from '../../images/real-registry.ts';
import { baseLayerEntries, putManifest, sha } from '../../images/synthetic.ts';
import type { Rig } from '../rig.ts';
import { result, type BenchMode, type BenchResult } from '../results.ts';

const MB = 1024 * 1024;

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** A streaming layer tar (hives + one big file), gzip'd to `out`; returns both digests and the size. */
async function bigLayer(out: string, bytes: number): Promise<{ digest: string; diffId: string; size: number }> {
  const pack = tar.pack();
  const diff = createHash('sha256');
  const comp = createHash('sha256');
  const hashTar = new Transform({ transform(c: Buffer, _e, cb) { diff.update(c); cb(null, c); } });
  const hashGz = new Transform({ transform(c: Buffer, _e, cb) { comp.update(c); cb(null, c); } });
  const done = pipeline(pack, hashTar, createGzip({ level: 1 }), hashGz, createWriteStream(out));
  const pax = { 'MSWINDOWS.fileattr': '32' };
  for (const e of baseLayerEntries()) {
    const data = e.type === 'directory' ? Buffer.alloc(0) : Buffer.from(e.data ?? '');
    if (e.name.includes(':')) continue;
    pack.entry({ name: e.name, type: e.type === 'directory' ? 'directory' : 'file', size: data.length, pax: { 'MSWINDOWS.fileattr': e.type === 'directory' ? '16' : '32' } }, data);
  }
  const entry = pack.entry({ name: 'Files/big.bin', size: bytes, pax });
  await pipeline(
    Readable.from((function* () {
      for (let left = bytes; left > 0; left -= MB) yield randomFillSync(Buffer.allocUnsafe(Math.min(MB, left))); // fresh: streams keep references
    })()),
    entry,
  );
  pack.finalize();
  await done;
  return { digest: `sha256:${comp.digest('hex')}`, diffId: `sha256:${diff.digest('hex')}`, size: statSync(out).size };
}

async function pushFile(base: string, repo: string, path: string, digest: string, size: number): Promise<void> {
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const loc = new URL(start.headers.get('location')!, base);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, { method: 'PUT', body: Readable.toWeb(createReadStream(path)) as ReadableStream, headers: { 'content-length': String(size) }, duplex: 'half' } as RequestInit);
  if (put.status !== 201) throw new Error(`push ${digest}: ${put.status}`);
}

/** Runs the scenario once. */
export async function runImage(_rig: Rig, mode: BenchMode): Promise<BenchResult[]> {
  const scenario = 'image: pull + import, one big layer';
  if (registrySkip) {
    console.error(`bench: image skipped: ${registrySkip}`);
    return [];
  }
  const bytes = (mode.smoke ? 8 : mode.quick ? 128 : 512) * MB;
  const dir = await mkdtemp(join(tmpdir(), 'hcsr-bench-image-'));
  const reg = await startRealRegistry();
  try {
    const layer = await bigLayer(join(dir, 'layer.tar.gz'), bytes);
    await pushFile(reg.base, 'bench/big', join(dir, 'layer.tar.gz'), layer.digest, layer.size);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'windows', 'os.version': '10.0.20348.1', rootfs: { type: 'layers', diff_ids: [layer.diffId] } }));
    writeFileSync(join(dir, 'config.json'), config);
    await pushFile(reg.base, 'bench/big', join(dir, 'config.json'), sha(config), config.length);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }] }));
    await putManifest(reg.base, 'bench/big', 'v1', { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, bytes: manifest });

    // Baseline: curl each blob to a file, then sha256sum over them.
    const curlDir = join(dir, 'curl');
    await mkdir(curlDir);
    const digests = [sha(config), layer.digest];
    const files = digests.map((d) => join(curlDir, d.slice(7)));
    const t0 = performance.now();
    for (const [i, d] of digests.entries()) {
      const r = spawnSync('curl', ['-sSf', '-o', files[i]!, `${reg.base}/v2/bench/big/blobs/${d}`]);
      if (r.status !== 0) throw new Error(`curl: ${r.stderr}`);
    }
    const curlMs = performance.now() - t0;
    const sum = spawnSync('sha256sum', files, { encoding: 'utf8' });
    if (sum.status !== 0 || !sum.stdout.includes(layer.digest.slice(7))) throw new Error('sha256sum baseline failed');
    const baselineMs = performance.now() - t0;
    // For context: coreutils' sha256sum may not use the CPU's SHA instructions where Node's
    // OpenSSL does, which makes the baseline slower on such CPUs. openssl dgst over the
    // same files (already in the page cache, as sha256sum's were) shows the hash part with them.
    const t2 = performance.now();
    const ossl = spawnSync('openssl', ['dgst', '-sha256', ...files], { encoding: 'utf8' });
    const opensslMs = ossl.status === 0 && ossl.stdout.includes(layer.digest.slice(7)) ? performance.now() - t2 : undefined;
    await rm(curlDir, { recursive: true });

    // Ours: resolve + download (hashing) + gunzip + diff_id + tar + BackupWrite + ProcessBaseImage.
    ensureEmulatorLibrary();
    const ops = new LayerNative({ libraryPath: emulatorLibraryPath('libvmcompute.so') });
    ops.enableBackupPrivileges();
    const store = await ImageStore.open(join(dir, 'store'), ops);
    const client = new RegistryClient({ platform: { architecture: 'amd64', osVersion: '10.0.20348.1' } });
    writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM to the current RSS
    const rssBefore = status('VmRSS');
    const t1 = performance.now();
    await store.pull(`${reg.host}/bench/big:v1`, { client });
    const pullMs = performance.now() - t1;
    const growth = status('VmHWM') - rssBefore;
    const size = `${Math.round(bytes / MB)} MiB`;
    return [
      result(scenario, `baseline: curl + sha256sum (${size})`, baselineMs, 'ms'),
      result(scenario, '  of it: curl', curlMs, 'ms'),
      result(scenario, '  of it: sha256sum', baselineMs - curlMs, 'ms'),
      ...(opensslMs !== undefined ? [result(scenario, 'openssl dgst -sha256 over the same files', opensslMs, 'ms')] : []),
      result(scenario, `image pull + import (${size})`, pullMs, 'ms'),
      result(scenario, 'wall ratio pull / baseline', pullMs / baselineMs, 'x', { max: 1.25 }),
      ...(opensslMs !== undefined ? [result(scenario, 'for context: pull / (curl + openssl dgst)', pullMs / (curlMs + opensslMs), 'x')] : []),
      result(scenario, 'RSS growth during the pull', growth / MB, 'MB', { max: 64 }),
    ];
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
