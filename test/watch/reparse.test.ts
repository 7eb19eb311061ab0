/** ManifestSource.reparse: the parser's other inputs changed (the image store), so unchanged files are parsed again and published. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifestParserFor } from './reparse-helpers.ts';
import { watchManifests } from '../../src/watch/index.ts';

test('reparse re-reads unchanged files and emits the new result; rescan does not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcsr-reparse-'));
  writeFileSync(join(dir, 'a.yaml'), 'x');
  let generation = 1;
  const source = await watchManifests({ path: dir, parser: manifestParserFor(() => generation), settleMs: 0, resyncMs: 0, poll: true, pollIntervalMs: 60_000 });
  try {
    const seen: string[] = [];
    source.onSnapshot((s) => seen.push(s.errors.map((e) => e.message).join()));
    assert.equal(source.current().errors[0]?.message, 'generation 1');
    generation = 2;
    await source.rescan();
    assert.equal(source.current().errors[0]?.message, 'generation 1', 'rescan reuses the cached result of an unchanged file');
    await source.reparse!();
    assert.equal(source.current().errors[0]?.message, 'generation 2');
    assert.deepEqual(seen, ['generation 2']);
  } finally {
    await source.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
