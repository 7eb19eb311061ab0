/** The registry client and blob fetcher against Debian's docker-registry and the in-test fault registry. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RegistryClient, RegistryError, isDigestMismatch, isPlatformMismatch, loadDockerConfig, parseReference, type HostPlatform } from '../../src/registry/index.ts';
import { BlobFetcher } from '../../src/images/blobs.ts';
import { StorePaths } from '../../src/images/paths.ts';
import { send } from '../../src/registry/transport.ts';
import { startRealRegistry, registrySkip, type RealRegistry } from '../images/real-registry.ts';
import { startFakeRegistry } from '../images/fake-registry.ts';
import { baseLayerEntries, indexOf, layerTar, pushBlob, pushImage, putManifest, sha, windowsImage, type SyntheticImage } from '../images/synthetic.ts';

const WS2022: HostPlatform = { architecture: 'amd64', osVersion: '10.0.20348.1' };
const client = (platform: HostPlatform = WS2022, extra = {}) => new RegistryClient({ platform, ...extra });
const tmpStore = async () => new StorePaths(await mkdtemp(join(tmpdir(), 'hcsr-store-')));

async function smallImage(osVersion = '10.0.20348.1', marker = ''): Promise<SyntheticImage> {
  const base = await layerTar(baseLayerEntries([{ name: 'Files/marker.txt', data: `marker ${osVersion} ${marker}` }]));
  const top = await layerTar([{ name: 'Files/app', type: 'directory' }, { name: 'Files/app/server.exe', data: 'MZ fake' }]);
  return windowsImage([base, top], { osVersion });
}

describe('against the real registry (docker-registry 2.8)', { skip: registrySkip }, () => {
  let reg: RealRegistry;
  let img2022: SyntheticImage;
  let img2019: SyntheticImage;
  before(async () => {
    reg = await startRealRegistry();
    img2022 = await smallImage('10.0.20348.1');
    img2019 = await smallImage('10.0.17763.1');
    await pushImage(reg.base, 'win/app', 'ltsc2022', img2022);
    await pushImage(reg.base, 'win/app', 'ltsc2019', img2019);
    const multi = indexOf([{ manifest: img2019.manifest, osVersion: '10.0.17763.1' }, { manifest: img2022.manifest, osVersion: '10.0.20348.1' }]);
    await putManifest(reg.base, 'win/app', 'multi', multi);
    await putManifest(reg.base, 'win/app', 'single', img2022.manifest);
  });
  after(async () => reg?.stop());

  test('an index resolves to the manifest for the host build; every digest checked', async () => {
    const r = await client().resolve(parseReference(`${reg.host}/win/app:multi`));
    assert.equal(r.manifestDigest, img2022.manifest.digest);
    assert.equal(r.configDigest, img2022.config.digest);
    assert.deepEqual(r.layers.map((l) => l.diffId), img2022.diffIds);
    assert.equal(r.config['os.version'], '10.0.20348.1');
    const r19 = await client({ architecture: 'amd64', osVersion: '10.0.17763.5' }).resolve(parseReference(`${reg.host}/win/app:multi`));
    assert.equal(r19.manifestDigest, img2019.manifest.digest);
    const byDigest = await client().resolve(parseReference(`${reg.host}/win/app@${img2022.manifest.digest}`));
    assert.equal(byDigest.digest, img2022.manifest.digest);
  });

  test('a platform mismatch names the host build and what the image offers', async () => {
    await assert.rejects(client({ architecture: 'amd64', osVersion: '10.0.19041.1' }).resolve(parseReference(`${reg.host}/win/app:multi`)), (e: unknown) => {
      assert.ok(isPlatformMismatch(e));
      assert.match((e as Error).message, /10\.0\.19041\.1/);
      assert.match((e as Error).message, /10\.0\.17763\.1, windows\/amd64 10\.0\.20348\.1/);
      assert.equal((e as RegistryError).permanent, true);
      return true;
    });
    // A plain manifest (no index): the config's os.version decides.
    await assert.rejects(client({ architecture: 'amd64', osVersion: '10.0.17763.1' }).resolve(parseReference(`${reg.host}/win/app:single`)), /10\.0\.20348\.1.*10\.0\.17763\.1/);
  });

  test('an unknown tag reports the registry\'s own error text', async () => {
    await assert.rejects(client().resolve(parseReference(`${reg.host}/win/app:nope`)), /404 MANIFEST_UNKNOWN: manifest unknown/);
  });

  test('blobs stream into the store verified; a second ensure is free', async () => {
    const paths = await tmpStore();
    const f = new BlobFetcher(paths);
    const ref = parseReference(`${reg.host}/win/app:ltsc2022`);
    const r = await client().resolve(ref);
    const seen: number[] = [];
    const p = await f.ensure(client(), ref, r.layers[0]!, (d) => seen.push(d));
    assert.deepEqual(await readFile(p), img2022.layers[0]!.bytes);
    assert.equal(seen.at(-1), img2022.layers[0]!.size);
    assert.deepEqual(await readdir(paths.tmp), []);
    assert.equal(await f.ensure(client(), ref, r.layers[0]!), p);
    await rm(paths.root, { recursive: true });
  });
});

describe('against the in-test fault registry', () => {
  test('Bearer challenge -> token (Basic login from config.json) -> retry; the CDN redirect gets no Authorization', async () => {
    const fake = await startFakeRegistry({ token: { value: 'tok-123', basic: { username: 'u', password: 'p' } }, redirectBlobs: true });
    try {
      const img = await smallImage();
      fake.add('win/app', 'ltsc2022', img);
      const dir = await mkdtemp(join(tmpdir(), 'hcsr-cfg-'));
      const cfg = join(dir, 'config.json');
      await writeFile(cfg, JSON.stringify({ auths: { [`http://${fake.host}/`]: { auth: Buffer.from('u:p').toString('base64') } } }));
      const c = client(WS2022, { credentials: loadDockerConfig(cfg) });
      const ref = parseReference(`${fake.host}/win/app:ltsc2022`);
      const r = await c.resolve(ref);
      const paths = await tmpStore();
      const p = await new BlobFetcher(paths).ensure(c, ref, r.layers[1]!);
      assert.deepEqual(await readFile(p), img.layers[1]!.bytes);
      assert.equal(fake.tokenRequests.length, 1, 'one token for the whole pull');
      assert.equal(fake.tokenRequests[0]!.scope, 'repository:win/app:pull');
      assert.equal(fake.tokenRequests[0]!.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
      assert.ok(fake.cdnHeaders.length >= 2);
      assert.ok(fake.cdnHeaders.every((h) => h.authorization === undefined), 'Authorization must not cross hosts');
      // Wrong password: the token endpoint's own message.
      await writeFile(cfg, JSON.stringify({ auths: { [fake.host]: { username: 'u', password: 'bad' } } }));
      await assert.rejects(client(WS2022, { credentials: loadDockerConfig(cfg) }).resolve(ref), /401 UNAUTHORIZED: wrong user name or password/);
      // Anonymous: the token endpoint refuses as well.
      await assert.rejects(client().resolve(ref), (e: unknown) => e instanceof RegistryError && e.kind === 'auth');
      await rm(dir, { recursive: true });
      await rm(paths.root, { recursive: true });
    } finally {
      await fake.close();
    }
  });

  test('a corrupted blob fails with a digest error and leaves nothing in the store', async () => {
    const img = await smallImage();
    const fake = await startFakeRegistry({ faults: new Map([[img.layers[0]!.digest, 'corrupt']]) });
    try {
      fake.add('win/app', 'x', img);
      const ref = parseReference(`${fake.host}/win/app:x`);
      const r = await client().resolve(ref);
      const paths = await tmpStore();
      const f = new BlobFetcher(paths);
      await assert.rejects(f.ensure(client(), ref, r.layers[0]!), (e: unknown) => isDigestMismatch(e) && /downloaded content has digest/.test((e as Error).message));
      assert.deepEqual(await readdir(paths.tmp), []);
      assert.equal(await f.has(r.layers[0]!.digest), false);
      await rm(paths.root, { recursive: true });
    } finally {
      await fake.close();
    }
  });

  test('a tampered manifest is refused (digest pinned by the reference or stated by the registry)', async () => {
    const img = await smallImage();
    const fake = await startFakeRegistry();
    try {
      fake.add('win/app', 'x', img);
      const evil = { ...img.manifest, bytes: Buffer.from(img.manifest.bytes.toString().replace('"schemaVersion":2', '"schemaVersion":2 ')) };
      fake.addManifest('win/app', img.manifest.digest, { ...evil, digest: img.manifest.digest, size: evil.bytes.length });
      await assert.rejects(client().resolve(parseReference(`${fake.host}/win/app@${img.manifest.digest}`)), (e: unknown) => isDigestMismatch(e));
      fake.addManifest('win/app', 'y', { ...evil, digest: img.manifest.digest, size: evil.bytes.length });
      await assert.rejects(client().resolve(parseReference(`${fake.host}/win/app:y`)), /the registry says/);
    } finally {
      await fake.close();
    }
  });

  test('an interrupted download resumes with Range; without Range support it restarts cleanly', async () => {
    for (const range of [true, false]) {
      const img = await smallImage('10.0.20348.1', `range=${range}`);
      const big = img.layers[0]!;
      const fake = await startFakeRegistry({ range, faults: new Map([[big.digest, 'truncate-once']]) });
      try {
        fake.add('win/app', 'x', img);
        const ref = parseReference(`${fake.host}/win/app:x`);
        const r = await client().resolve(ref);
        const paths = await tmpStore();
        const p = await new BlobFetcher(paths).ensure(client(), ref, r.layers[0]!);
        assert.equal(sha(await readFile(p)), big.digest);
        assert.equal(fake.blobGets.get(big.digest), 2);
        await rm(paths.root, { recursive: true });
      } finally {
        await fake.close();
      }
    }
  });

  test('a blob that always breaks off fails as a network error (retryable), keeping the partial for the next try', async () => {
    const img = await smallImage();
    const fake = await startFakeRegistry({ faults: new Map([[img.layers[0]!.digest, 'truncate-always']]) });
    try {
      fake.add('win/app', 'x', img);
      const ref = parseReference(`${fake.host}/win/app:x`);
      const r = await client().resolve(ref);
      const paths = await tmpStore();
      await assert.rejects(new BlobFetcher(paths).ensure(client(), ref, r.layers[0]!), (e: unknown) => e instanceof RegistryError && e.kind === 'network' && !e.permanent);
      assert.equal(await new BlobFetcher(paths).has(r.layers[0]!.digest), false);
      await rm(paths.root, { recursive: true });
    } finally {
      await fake.close();
    }
  });

  test('concurrent pulls of one blob download it once (slow stream)', async () => {
    const img = await smallImage();
    const fake = await startFakeRegistry({ faults: new Map([[img.layers[0]!.digest, 'slow']]) });
    try {
      fake.add('win/app', 'x', img);
      const ref = parseReference(`${fake.host}/win/app:x`);
      const r = await client().resolve(ref);
      const paths = await tmpStore();
      const f = new BlobFetcher(paths);
      let firstBytes!: () => void;
      const started = new Promise<void>((res) => (firstBytes = res));
      const a = f.ensure(client(), ref, r.layers[0]!, (d) => d > 0 && firstBytes());
      await started; // half the body has arrived and the stream is stalled
      const b = f.ensure(client(), ref, r.layers[0]!);
      fake.release();
      assert.equal(await a, await b);
      assert.equal(fake.blobGets.get(img.layers[0]!.digest), 1);
      await rm(paths.root, { recursive: true });
    } finally {
      await fake.close();
    }
  });

  test('foreign layers come from their urls first, without credentials', async () => {
    const img = await smallImage();
    const fake = await startFakeRegistry({ token: { value: 't' } });
    try {
      // The CDN of the fake serves any stored blob at /<digest>; point `urls` at it.
      fake.add('win/app', 'x', img);
      const cdnFake = await startFakeRegistry();
      cdnFake.add('other/repo', 'x', img);
      const manifest = JSON.parse(img.manifest.bytes.toString()) as { layers: Record<string, unknown>[] };
      manifest.layers[0]!.mediaType = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
      manifest.layers[0]!.urls = ['ftp://ignored.example/x', `http://${cdnFake.host}/v2/other/repo/blobs/${img.layers[0]!.digest}`];
      const bytes = Buffer.from(JSON.stringify(manifest));
      fake.addManifest('win/app', 'foreign', { mediaType: img.manifest.mediaType, digest: sha(bytes), size: bytes.length, bytes });
      const ref = parseReference(`${fake.host}/win/app:foreign`);
      const c = client();
      const r = await c.resolve(ref);
      assert.deepEqual(r.layers[0]!.urls?.length, 2);
      const paths = await tmpStore();
      await new BlobFetcher(paths).ensure(c, ref, r.layers[0]!);
      assert.equal(fake.blobGets.get(img.layers[0]!.digest) ?? 0, 0, 'the registry was not asked for the foreign layer');
      assert.equal(cdnFake.blobGets.get(img.layers[0]!.digest), 1);
      await cdnFake.close();
      await rm(paths.root, { recursive: true });
    } finally {
      await fake.close();
    }
  });

  test('plain HTTP to a non-loopback host is refused before connecting', async () => {
    await assert.rejects(send(new URL('http://203.0.113.9:5000/v2/'), {}), (e: unknown) => e instanceof RegistryError && e.kind === 'insecure' && /--insecure-registry 203\.0\.113\.9:5000/.test((e as Error).message));
    await assert.rejects(send(new URL('http://203.0.113.9:5000/v2/'), { insecureRegistries: ['203.0.113.9:5001'] }), (e: unknown) => e instanceof RegistryError && e.kind === 'insecure');
    await assert.rejects(send(new URL('file:///etc/passwd'), {}), /only http and https/);
  });
});
void pushBlob;
