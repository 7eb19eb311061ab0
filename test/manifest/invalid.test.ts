/**
 * The bad-input corpus: every file under test/fixtures/invalid/ is parsed (then combined as a
 * one-file snapshot, for duplicate/dependsOn/cycle checks) and its errors must equal the
 * `file:line:col path: message` lines in the sidecar `<name>.expected`, exactly and in order.
 * Regenerate after a deliberate message change with UPDATE_EXPECTED=1, then review the diff.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combineSnapshot, formatError, parseManifestFile } from '../../src/manifest/index.ts';

const dir = 'test/fixtures/invalid';
const cases = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

test('the corpus has at least 35 cases', () => {
  assert.ok(cases.length >= 35, `only ${cases.length} cases`);
});

for (const name of cases) {
  test(`invalid/${name}`, () => {
    const file = `${dir}/${name}`;
    const snapshot = combineSnapshot([parseManifestFile(file, readFileSync(file))]);
    const actual = snapshot.errors.map(formatError);
    const expectedFile = file.replace(/\.yaml$/, '.expected');
    if (process.env.UPDATE_EXPECTED) writeFileSync(expectedFile, `${actual.join('\n')}\n`);
    const expected = readFileSync(expectedFile, 'utf8').trimEnd().split('\n');
    assert.ok(actual.length > 0, 'expected at least one error');
    assert.deepEqual(actual, expected);
    for (const e of snapshot.errors) assert.ok(e.line >= 1 && e.col >= 1, 'every error has a location');
  });
}
