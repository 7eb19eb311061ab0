/**
 * src/watch periodic relists: light (one stat per folder) while no folder changed since the last
 * full scan, full (a stat per file) every `fullResyncMs`, and always full for a watcher hint or
 * rescan(). The watchers are made blind (polling once an hour) and the periodic timer is driven
 * by the test, so every scan here is one the test asked for.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { watchManifests, type ManifestSource, type Timers } from '../../src/watch/index.ts';
import { fakeParser, manifest, names, record, tempDir, textOf } from './helpers.ts';

let root: string;
let cleanup: () => Promise<void>;
let source: ManifestSource | undefined;

beforeEach(async () => ({ dir: root, cleanup } = await tempDir()));
afterEach(async () => {
  await source?.dispose();
  source = undefined;
  await cleanup();
});

/** An hour ago: older than any racy-stamp margin. */
const past = new Date(Date.now() - 3_600_000);

/** Real timeouts and clock; the periodic timer fires only when the test calls `tick`. */
function drivenTimers(): { timers: Timers; tick: () => void } {
  let periodic: (() => void) | undefined;
  return {
    timers: {
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
      setInterval: (fn) => {
        periodic = fn;
        return 'periodic';
      },
      clearInterval: () => (periodic = undefined),
    },
    tick: () => periodic?.(),
  };
}

/** A folder a.yaml, b.yaml, g/c.yaml, all (folders too) last changed an hour ago. */
async function quietFolder(): Promise<string> {
  const dir = join(root, 'm');
  await mkdir(join(dir, 'g'), { recursive: true });
  for (const [file, name] of [['a.yaml', 'a'], ['b.yaml', 'b'], ['g/c.yaml', 'c']] as const) {
    await writeFile(join(dir, file), manifest(name));
    await utimes(join(dir, file), past, past);
  }
  await age(dir, join(dir, 'g'));
  return dir;
}

async function age(...paths: string[]): Promise<void> {
  for (const p of paths) await utimes(p, past, past);
}

async function start(dir: string, extra: { fullResyncMs?: number } = {}): Promise<{ tick: () => Promise<void> }> {
  const t = drivenTimers();
  source = await watchManifests({ path: dir, parser: fakeParser, settleMs: 0, resyncMs: 30_000, poll: true, pollIntervalMs: 3_600_000, timers: t.timers, fullResyncMs: 3_600_000, ...extra });
  const s = source;
  return {
    /** One periodic relist, resolved when it is done (the timer's scan is the only one asked for). */
    tick: async () => {
      const scans = s.stats().scans;
      t.tick();
      const deadline = Date.now() + 5000;
      while (s.stats().scans === scans && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      assert.equal(s.stats().scans, scans + 1, 'the periodic relist ran');
    },
  };
}

describe('periodic relists', () => {
  it('an unchanged folder is relisted with one stat per folder, and emits nothing', async () => {
    const dir = await quietFolder();
    const { tick } = await start(dir);
    const seen = record(source!);
    const before = source!.stats();
    await tick();
    await tick();
    const after = source!.stats();
    assert.equal(after.lightScans, before.lightScans + 2);
    assert.equal(after.filesSkippedUnchanged, before.filesSkippedUnchanged, 'no file was looked at');
    assert.equal(seen.length, 0);
  });

  it('a file added, deleted or renamed changes its folder: the relist scans fully and sees it', async () => {
    const dir = await quietFolder();
    const { tick } = await start(dir);
    const seen = record(source!);
    await writeFile(join(dir, 'g', 'd.yaml'), manifest('d'));
    await tick();
    assert.deepEqual(names(seen.at(-1)!), ['a', 'b', 'c', 'd']);
    assert.equal(source!.stats().lightScans, 0);
    // The folder just changed: its stamp is not trusted yet (same-tick changes), so the next
    // relists are full until a full scan finds every folder old enough again.
    await tick();
    assert.equal(source!.stats().lightScans, 0);
    await age(join(dir, 'g'));
    await tick(); // full: records the proof
    await tick(); // light
    assert.equal(source!.stats().lightScans, 1);
    assert.equal(seen.length, 1);
  });

  it('a file rewritten in place is left to its event, rescan() or the full relist every fullResyncMs', async () => {
    const dir = await quietFolder();
    const { tick } = await start(dir, { fullResyncMs: 200 });
    const seen = record(source!);
    await writeFile(join(dir, 'a.yaml'), manifest('a', 'v: 2\n')); // same inode, folder unchanged
    await tick();
    assert.equal(seen.length, 0, 'a light relist cannot see an in-place rewrite');
    assert.equal(source!.stats().lightScans, 1);
    await new Promise((r) => setTimeout(r, 250));
    await tick(); // the last full scan is older than fullResyncMs: this one is full
    assert.equal(source!.stats().lightScans, 1);
    assert.equal(seen.length, 1);
    assert.match(textOf(seen[0]!, 'a') ?? '', /v: 2/);
  });

  it('rescan() and hints are full scans, also when they share a relist the timer queued', async () => {
    const dir = await quietFolder();
    const t = drivenTimers();
    source = await watchManifests({ path: dir, parser: fakeParser, settleMs: 0, poll: true, pollIntervalMs: 3_600_000, timers: t.timers, fullResyncMs: 3_600_000 });
    const seen = record(source);
    await writeFile(join(dir, 'b.yaml'), manifest('b', 'v: 2\n'));
    t.tick(); // queued, not started yet
    await source.rescan(); // shares it, and makes it full
    assert.equal(source.stats().lightScans, 0);
    assert.match(textOf(seen.at(-1)!, 'b') ?? '', /v: 2/);
  });

  it('a folder holding a symlink is always relisted fully (a link target changes without its folder)', async () => {
    const dir = await quietFolder();
    await symlink(join(dir, 'b.yaml'), join(dir, 'g', 'link.yaml'));
    await age(dir, join(dir, 'g'));
    const { tick } = await start(dir);
    await tick();
    await tick();
    assert.equal(source!.stats().lightScans, 0);
  });
});
