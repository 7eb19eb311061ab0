/**
 * src/watch and the folder itself: git-sync style symlink swaps, the folder vanishing, being
 * replaced by a file, or missing at start; and bursts (1000 files → one snapshot).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { watchManifests, type ManifestSource } from '../../src/watch/index.ts';
import { fakeParser, manifest, names, nextSnapshot, record, summary, tempDir, textOf } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let source: ManifestSource | undefined;

beforeEach(async () => ({ dir: root, cleanup } = await tempDir()));
afterEach(async () => {
  await source?.dispose();
  source = undefined;
  await cleanup();
});

/** Writes a worktree like git-sync does: a fresh directory with every file complete. */
async function worktree(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, body] of Object.entries(files)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), body);
  }
  return dir;
}

/** `ln -s target tmp && mv -T tmp link`: the atomic swap git-sync does. */
async function swapLink(link: string, target: string): Promise<void> {
  const tmp = `${link}.tmp-${Date.now()}`;
  await symlink(target, tmp);
  await rename(tmp, link);
}

describe('git-sync style symlink swaps', () => {
  it('follows several swaps in a row, one snapshot each, ignoring the old target vanishing', async () => {
    const link = join(root, 'current');
    await worktree('rev-1', { 'a.yaml': manifest('a', 'rev: 1\n'), 'b.yaml': manifest('b') });
    await symlink(join(root, 'rev-1'), link);
    source = await watchManifests({ path: link, parser: fakeParser, resyncMs: 0 });
    assert.deepEqual(names(source.current()), ['a', 'b']);
    const seen = record(source);
    for (let rev = 2; rev <= 5; rev++) {
      const wait = nextSnapshot(source, (s) => textOf(s, 'a')?.includes(`rev: ${rev}`) === true);
      await worktree(`rev-${rev}`, { 'a.yaml': manifest('a', `rev: ${rev}\n`), [`c${rev}.yaml`]: manifest(`c${rev}`) });
      await swapLink(link, join(root, `rev-${rev}`));
      await rm(join(root, `rev-${rev - 1}`), { recursive: true }); // git-sync cleans up the old worktree
      const s = await wait;
      assert.deepEqual(names(s), ['a', `c${rev}`]);
      assert.equal(s.folderOk, true);
      assert.deepEqual(s.files, [join(link, 'a.yaml'), join(link, `c${rev}.yaml`)], 'files are named through the link');
      assert.equal(source.stats().resolvedPath, join(root, `rev-${rev}`));
      await source.rescan();
      assert.equal(seen.length, rev - 1, JSON.stringify(seen.map(summary)));
    }
    assert.ok(seen.every((s) => s.folderOk), 'the old target vanishing never looked like a missing folder');

    // After the swaps, writes into the new target are still seen (the content watcher moved).
    const wait = nextSnapshot(source, (s) => names(s).includes('late'));
    await writeFile(join(root, 'rev-5', 'late.yaml'), manifest('late'));
    await wait;
  });

  it('works when the link is a parent of the manifests folder (/git/current/manifests)', async () => {
    const link = join(root, 'current');
    await worktree('rev-1', { 'manifests/a.yaml': manifest('a', 'rev: 1\n'), 'README.md': '#' });
    await symlink(join(root, 'rev-1'), link);
    source = await watchManifests({ path: join(link, 'manifests'), parser: fakeParser, resyncMs: 0 });
    const wait = nextSnapshot(source, (s) => textOf(s, 'a')?.includes('rev: 2') === true);
    await worktree('rev-2', { 'manifests/a.yaml': manifest('a', 'rev: 2\n') });
    await swapLink(link, join(root, 'rev-2'));
    await wait;
    assert.equal(source.stats().resolvedPath, join(root, 'rev-2', 'manifests'));
  });

  it('a swap of 1000 files gives one snapshot and re-parses only what changed', async () => {
    const files = (rev: number): Record<string, string> =>
      Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`m${i}.yaml`, manifest(`m${i}`, i === 7 ? `rev: ${rev}\n` : '')]));
    const link = join(root, 'current');
    await worktree('rev-1', files(1));
    await symlink(join(root, 'rev-1'), link);
    source = await watchManifests({ path: link, parser: fakeParser, resyncMs: 0 });
    const seen = record(source);
    const parsedBefore = source.stats().filesParsed;
    const wait = nextSnapshot(source, (s) => textOf(s, 'm7')?.includes('rev: 2') === true);
    await worktree('rev-2', files(2));
    await swapLink(link, join(root, 'rev-2'));
    assert.equal((await wait).manifests.length, 1000);
    await source.rescan();
    assert.equal(seen.length, 1);
    assert.equal(source.stats().filesParsed - parsedBefore, 1, 'same content hash: not parsed again');
  });
});

describe('the folder itself', () => {
  it('deleted: keeps the last snapshot with folderOk false; recreated: recovers', async () => {
    const dir = await worktree('m', { 'a.yaml': manifest('a') });
    source = await watchManifests({ path: dir, parser: fakeParser, resyncMs: 0 });
    let wait = nextSnapshot(source, (s) => !s.folderOk);
    await rm(dir, { recursive: true });
    let s = await wait;
    assert.deepEqual(names(s), ['a'], 'last desired state kept');
    assert.match(s.folderError ?? '', /ENOENT/);

    wait = nextSnapshot(source, (x) => x.folderOk);
    await worktree('m', { 'b.yaml': manifest('b') });
    s = await wait;
    assert.deepEqual(names(s), ['b']);

    // The watcher on the old (deleted) inode is dead; the new folder must be watched.
    wait = nextSnapshot(source, (x) => names(x).includes('c'));
    await writeFile(join(dir, 'c.yaml'), manifest('c'));
    await wait;
    assert.equal(source.stats().watcherStarts, 2);
  });

  it('replaced by a file: folderOk false, last state kept; back to a folder: recovers', async () => {
    const dir = await worktree('m', { 'a.yaml': manifest('a') });
    source = await watchManifests({ path: dir, parser: fakeParser, resyncMs: 0 });
    let wait = nextSnapshot(source, (s) => !s.folderOk);
    await rm(dir, { recursive: true });
    await writeFile(dir, 'not a folder');
    const s = await wait;
    assert.deepEqual(names(s), ['a']);
    assert.match(s.folderError ?? '', /not a directory|ENOENT/);
    if (/ENOENT/.test(s.folderError ?? '')) await nextSnapshot(source, (x) => /not a directory/.test(x.folderError ?? ''));

    wait = nextSnapshot(source, (x) => x.folderOk && names(x).includes('z'));
    await rm(dir);
    await worktree('m', { 'z.yaml': manifest('z') });
    await wait;
  });

  it('missing at start: starts with folderOk false, picks the folder up when it appears', async () => {
    const dir = join(root, 'later', 'manifests');
    source = await watchManifests({ path: dir, parser: fakeParser, resyncMs: 0 });
    assert.equal(source.current().folderOk, false);
    assert.deepEqual(source.current().manifests, []);
    const wait = nextSnapshot(source, (s) => s.folderOk && names(s).includes('a'));
    await mkdir(join(root, 'later'));
    await worktree('later/manifests', { 'a.yaml': manifest('a') });
    await wait;
  });

  it('the periodic relist is the backstop for missed events, and emits nothing when unchanged', async () => {
    const dir = await worktree('m', { 'a.yaml': manifest('a') });
    // Polling once an hour: the watchers will not notice anything during this test.
    source = await watchManifests({ path: dir, parser: fakeParser, resyncMs: 250, poll: true, pollIntervalMs: 3_600_000 });
    const wait = nextSnapshot(source, (s) => names(s).includes('b'));
    await writeFile(join(dir, 'b.yaml'), manifest('b'));
    await wait;
    const scans = source.stats().scans;
    await until(() => source!.stats().scans >= scans + 2, 3000);
    assert.ok(source.stats().scans >= scans + 2, 'relists keep running');
    assert.equal(source.stats().snapshotsEmitted, 1, 'relists without a change emit nothing');
  });
});

/** Waits (polling) for a condition, up to timeoutMs. */
async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

describe('bursts', () => {
  it('1000 files written at once (by another process) give exactly one snapshot', async () => {
    const dir = await worktree('m', {});
    // maxSettleMs well above the burst length even on a loaded machine: this checks coalescing.
    source = await watchManifests({ path: dir, parser: fakeParser, resyncMs: 0, maxSettleMs: 20_000 });
    const seen = record(source);
    const wait = nextSnapshot(source, (s) => s.manifests.length === 1000, 20_000);
    const t0 = performance.now();
    // The writer is another process, as git-sync, rsync or cp would be: chokidar's directory
    // re-reads in this process must not slow the writer down.
    const script = `const fs=require('fs'),p=require('path');for(let i=0;i<1000;i++)fs.writeFileSync(p.join(process.argv[1],'f'+i+'.yaml'),'name: f'+i+'\\n# end\\n')`;
    await new Promise<void>((done, fail) => execFile(process.execPath, ['-e', script, dir], (err) => (err ? fail(err) : done())));
    const wrote = performance.now() - t0;
    await wait;
    console.log(`# 1000 files: written in ${wrote.toFixed(0)} ms, snapshot after ${(performance.now() - t0).toFixed(0)} ms, last scan ${source.stats().lastScanMs.toFixed(1)} ms`);
    await source.rescan();
    assert.equal(seen.length, 1, JSON.stringify(seen.map((s) => s.manifests.length)));
  });
});
