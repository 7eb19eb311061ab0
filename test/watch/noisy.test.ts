/**
 * Issue 12, finding 9: settling is per file. A file rewritten every 30 ms keeps its
 * last-known-good result while another file's edit is published; before, the whole snapshot
 * waited for every file to settle (up to maxSettleMs, here a minute). Timing targets live in the
 * `noisy` bench scenario; this test only asserts that the edit is published while the noise goes
 * on, and what the snapshot holds for the noisy file.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { watchManifests } from '../../src/watch/index.ts';
import { fakeParser, manifest, nextSnapshot, tempDir, textOf } from './helpers.ts';

it('a noisy file keeps its last-known-good while another file is published', async () => {
  const { dir, cleanup } = await tempDir();
  await writeFile(join(dir, 'noisy.yaml'), manifest('noisy', 'v: 0\n'));
  await writeFile(join(dir, 'quiet.yaml'), manifest('quiet', 'v: 0\n'));
  const source = await watchManifests({ path: dir, parser: fakeParser, settleMs: 100, maxSettleMs: 60_000, resyncMs: 0 });
  let n = 0;
  const noise = setInterval(() => writeFileSync(join(dir, 'noisy.yaml'), manifest('noisy', `v: ${++n}\n`)), 30);
  try {
    // Let the noise run past the point where it holds others back (noisyAfterMs, 500 ms here).
    await new Promise((r) => setTimeout(r, 800));
    const wait = nextSnapshot(source, (s) => textOf(s, 'quiet')?.includes('v: 1') === true, 10_000);
    await writeFile(join(dir, 'quiet.yaml'), manifest('quiet', 'v: 1\n'));
    const s = await wait;
    assert.equal(textOf(s, 'noisy'), manifest('noisy', 'v: 0\n'), 'the noisy file is still on its last settled version');
    assert.deepEqual(s.errors, []);
  } finally {
    clearInterval(noise);
    await source.dispose();
    await cleanup();
  }
});

it('files written together are still published together (a young unsettled file holds the others)', async () => {
  const { dir, cleanup } = await tempDir();
  await writeFile(join(dir, 'a.yaml'), manifest('a', 'v: 0\n'));
  const source = await watchManifests({ path: dir, parser: fakeParser, settleMs: 150, resyncMs: 0 });
  const seen: string[] = [];
  source.onSnapshot((s) => seen.push(`${textOf(s, 'a')?.includes('v: 1') ? 'a1' : 'a0'}${textOf(s, 'b') ? '+b' : ''}`));
  try {
    const wait = nextSnapshot(source, (s) => textOf(s, 'b') !== undefined && textOf(s, 'a')?.includes('v: 1') === true, 10_000);
    await writeFile(join(dir, 'a.yaml'), manifest('a', 'v: 1\n'));
    await new Promise((r) => setTimeout(r, 60));
    await writeFile(join(dir, 'b.yaml'), manifest('b'));
    await wait;
    assert.deepEqual(seen, ['a1+b'], 'one snapshot with both files');
  } finally {
    await source.dispose();
    await cleanup();
  }
});
