/**
 * src/watch on real temp folders with real chokidar: add/change/delete, rename into place,
 * editor save patterns, placement, no-op rescans, latency, and clean disposal.
 */
import assert from 'node:assert/strict';
import { mkdir, rename, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { watchManifests, type ManifestSource } from '../../src/watch/index.ts';
import { fakeParser, manifest, names, nextSnapshot, record, summary, tempDir, textOf } from './helpers.ts';

describe('watchManifests: files', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let source: ManifestSource;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await writeFile(join(dir, 'a.yaml'), manifest('a', 'v: 1\n'));
    source = await watchManifests({ path: dir, parser: fakeParser });
  });
  afterEach(async () => {
    await source.dispose();
    await cleanup();
  });

  it('reads the folder before resolving', () => {
    assert.deepEqual(names(source.current()), ['a']);
    assert.equal(source.current().folderOk, true);
    assert.deepEqual(source.current().files, [join(dir, 'a.yaml')]);
  });

  it('reacts to add, change and delete', async () => {
    let wait = nextSnapshot(source, (s) => names(s).includes('b'));
    await writeFile(join(dir, 'b.yaml'), manifest('b'));
    assert.deepEqual(names(await wait), ['a', 'b']);

    wait = nextSnapshot(source, (s) => textOf(s, 'a')?.includes('v: 2') === true);
    await writeFile(join(dir, 'a.yaml'), manifest('a', 'v: 2\n'));
    await wait;

    wait = nextSnapshot(source, (s) => !names(s).includes('b'));
    await unlink(join(dir, 'b.yaml'));
    const s = await wait;
    assert.deepEqual(s.files, [join(dir, 'a.yaml')], 'a deleted file is gone from files');
    assert.equal(s.errors.length, 0);
  });

  it('rename into place gives one snapshot with the full file, never the temp name', async () => {
    const seen = record(source);
    const wait = nextSnapshot(source, (s) => names(s).includes('c'));
    await writeFile(join(dir, 'c.yaml.tmp'), manifest('c'));
    await rename(join(dir, 'c.yaml.tmp'), join(dir, 'c.yaml'));
    const s = await wait;
    assert.deepEqual(s.errors, []);
    await source.rescan();
    assert.equal(seen.length, 1, JSON.stringify(seen.map(summary)));
  });

  it('vim save (4913 probe, swap file, backup-then-rename) gives exactly one snapshot', async () => {
    const seen = record(source);
    const wait = nextSnapshot(source, (s) => textOf(s, 'a')?.includes('v: vim') === true);
    await writeFile(join(dir, '.a.yaml.swp'), 'swap');
    await writeFile(join(dir, '4913'), '');
    await unlink(join(dir, '4913'));
    await rename(join(dir, 'a.yaml'), join(dir, 'a.yaml~'));
    await writeFile(join(dir, 'a.yaml'), manifest('a', 'v: vim\n'));
    await unlink(join(dir, 'a.yaml~'));
    await unlink(join(dir, '.a.yaml.swp'));
    const s = await wait;
    assert.deepEqual(s.files, [join(dir, 'a.yaml')]);
    await source.rescan();
    assert.equal(seen.length, 1, JSON.stringify(seen.map(summary)));
  });

  it('sed -i (temp file renamed over the original) gives exactly one snapshot', async () => {
    const seen = record(source);
    const wait = nextSnapshot(source, (s) => textOf(s, 'a')?.includes('v: sed') === true);
    await writeFile(join(dir, 'sedX1b2c3'), manifest('a', 'v: sed\n'));
    await rename(join(dir, 'sedX1b2c3'), join(dir, 'a.yaml'));
    await wait;
    await source.rescan();
    assert.equal(seen.length, 1, JSON.stringify(seen.map(summary)));
  });

  it('ignores backups, temp names, dotfiles and .git; reads one level of sub-folders', async () => {
    const wait = nextSnapshot(source, (s) => names(s).includes('sub'));
    await mkdir(join(dir, '.git'));
    await mkdir(join(dir, 'group', 'deeper'), { recursive: true });
    for (const f of ['a.yaml~', 'a.yaml-bak', 'a.yaml.bak', '.hidden.yaml', '4913', '#a.yaml#', '.git/x.yaml', 'group/deeper/deep.yaml']) {
      await writeFile(join(dir, f), manifest(f.replace(/[^a-z]/g, '')));
    }
    await writeFile(join(dir, 'group', 'sub.yml'), manifest('sub'));
    const s = await wait;
    assert.deepEqual(names(s), ['a', 'sub']);
    assert.deepEqual(s.files, [join(dir, 'a.yaml'), join(dir, 'group', 'sub.yml')]);
  });

  it('ignored (placement) manifests flow through', async () => {
    const wait = nextSnapshot(source, (s) => s.ignored.length > 0);
    await writeFile(join(dir, 'elsewhere.yaml'), manifest('elsewhere', 'placement: other\n'));
    const s = await wait;
    assert.deepEqual(s.ignored.map((i) => i.name), ['elsewhere']);
    assert.deepEqual(names(s), ['a']);
    assert.ok(s.files.includes(join(dir, 'elsewhere.yaml')));
  });

  it('a rescan with no change emits nothing and re-reads nothing; touch does not re-parse', async () => {
    const seen = record(source);
    const before = source.stats();
    await source.rescan();
    await utimes(join(dir, 'a.yaml'), new Date(), new Date(Date.now() - 60_000));
    await source.rescan();
    const after = source.stats();
    assert.equal(seen.length, 0);
    assert.equal(after.filesParsed, before.filesParsed, 'same content hash: not parsed again');
    assert.equal(after.scans, before.scans + 2);
    assert.ok(after.filesSkippedUnchanged >= before.filesSkippedUnchanged + 2);
  });

  it('an invalid file is reported, not dropped', async () => {
    const wait = nextSnapshot(source, (s) => s.errors.length > 0);
    await writeFile(join(dir, 'a.yaml'), 'name: a\nv: [');
    const s = await wait;
    assert.deepEqual(s.files, [join(dir, 'a.yaml')]);
    assert.equal(s.errors[0]?.name, 'a');
  });

  it('a file being written in two halves (pause < settle) gives one complete snapshot', async () => {
    await source.dispose();
    source = await watchManifests({ path: dir, parser: fakeParser, settleMs: 400 });
    const seen = record(source);
    const wait = nextSnapshot(source, (s) => names(s).includes('big'));
    const body = manifest('big', `data: ${'x'.repeat(200_000)}\n`);
    const half = Math.floor(body.length / 2);
    await writeFile(join(dir, 'big.yaml'), body.slice(0, half));
    await new Promise((r) => setTimeout(r, 50)); // the scenario's own pause, well under settleMs
    await writeFile(join(dir, 'big.yaml'), body.slice(half), { flag: 'a' });
    const s = await wait;
    assert.deepEqual(s.errors, []);
    assert.equal(textOf(s, 'big'), body);
    await source.rescan();
    assert.equal(seen.length, 1, JSON.stringify(seen.map(summary)));
  });

  // How fast is measured by the bench (`latency` scenario), not asserted in a unit test.
  it('reacts to one write with a snapshot that holds it (default settle)', async () => {
    const wait = nextSnapshot(source, (s) => names(s).includes('fast'));
    await writeFile(join(dir, 'fast.yaml'), manifest('fast'));
    const s = await wait;
    assert.deepEqual(s.errors, []);
    assert.ok(names(s).includes('fast'));
  });

  const asRoot = process.getuid?.() === 0 ? 'root can read anything (run as another user to cover this)' : false;

  it('a changed file that cannot be read is an error naming its manifests, not a removal', { skip: asRoot }, async () => {
    const { chmod } = await import('node:fs/promises');
    const wait = nextSnapshot(source, (s) => s.errors.length > 0);
    await writeFile(join(dir, 'a.yaml'), manifest('a', 'v: 2\n'));
    await chmod(join(dir, 'a.yaml'), 0o000); // within the settle window: the scan finds it unreadable
    const s = await wait;
    assert.deepEqual(s.files, [join(dir, 'a.yaml')]);
    assert.deepEqual(s.errors.map((e) => [e.name, e.line, e.col]), [['a', 1, 1]]);
    assert.match(s.errors[0]?.message ?? '', /EACCES/);
    await chmod(join(dir, 'a.yaml'), 0o644);
  });

  it('an unreadable sub-folder is reported and its files are kept', { skip: asRoot }, async () => {
    const { chmod } = await import('node:fs/promises');
    await source.dispose();
    await mkdir(join(dir, 'g'));
    await writeFile(join(dir, 'g', 'in-g.yaml'), manifest('ing'));
    source = await watchManifests({ path: dir, parser: fakeParser });
    assert.deepEqual(names(source.current()), ['a', 'ing']);
    const wait = nextSnapshot(source, (s) => s.errors.length > 0);
    await chmod(join(dir, 'g'), 0o000);
    await writeFile(join(dir, 'b.yaml'), manifest('b')); // an event; chmod of a sub-folder may not be one
    const s = await wait;
    assert.deepEqual(names(s), ['a', 'b', 'ing']);
    assert.equal(s.errors[0]?.file, join(dir, 'g'));
    await chmod(join(dir, 'g'), 0o755);
  });
});

describe('watchManifests: lifecycle', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(async () => cleanup());

  /** Counts of the resource kinds a source can hold. */
  function handles(kinds: RegExp): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const kind of process.getActiveResourcesInfo()) {
      if (kinds.test(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
    }
    return counts;
  }
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  it('dispose leaves no timers or watchers behind', async () => {
    const baseline = { watchers: handles(/FSEvent|StatWatcher/), timers: handles(/Timeout/) };
    const source = await watchManifests({ path: dir, parser: fakeParser, resyncMs: 1000 });
    const wait = nextSnapshot(source);
    await writeFile(join(dir, 'x.yaml'), manifest('x'));
    await wait;
    await writeFile(join(dir, 'y.yaml'), manifest('y')); // leaves a settle timer pending
    await source.dispose();
    // Watch handles: libuv finishes closing them in its close phase, a loop turn or two later.
    await until(() => same(handles(/FSEvent|StatWatcher/), baseline.watchers), 200);
    assert.deepEqual(handles(/FSEvent|StatWatcher/), baseline.watchers);
    // Timers: ours are cleared by dispose(); chokidar leaves its 1 s readdir-throttle timer
    // (handler.js `_throttle('readdir', ..., 1000)`) to expire on its own, so allow for it.
    await until(() => same(handles(/Timeout/), baseline.timers), 1500);
    assert.deepEqual(handles(/Timeout/), baseline.timers);
  });

  it('poll mode works too (network shares)', async () => {
    const source = await watchManifests({ path: dir, parser: fakeParser, poll: true, pollIntervalMs: 100 });
    try {
      const wait = nextSnapshot(source, (s) => names(s).includes('polled'));
      await writeFile(join(dir, 'polled.yaml'), manifest('polled'));
      await wait;
    } finally {
      await source.dispose();
    }
  });

  it('rejects a bad depth', async () => {
    await assert.rejects(watchManifests({ path: dir, parser: fakeParser, depth: 99 }), RangeError);
  });

  it('removes a deleted sub-folder', async () => {
    await mkdir(join(dir, 'g'), { recursive: true });
    await writeFile(join(dir, 'g', 'in-group.yaml'), manifest('ingroup'));
    const source = await watchManifests({ path: dir, parser: fakeParser });
    try {
      assert.ok(names(source.current()).includes('ingroup'));
      const wait = nextSnapshot(source, (s) => !names(s).includes('ingroup'));
      await rm(join(dir, 'g'), { recursive: true });
      assert.equal((await wait).folderOk, true);
    } finally {
      await source.dispose();
    }
  });
});
