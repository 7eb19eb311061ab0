/**
 * The linter runs with the tests (`npm test`): Biome's recommended rules, configured in
 * biome.json. Formatting is not checked here yet (see `npm run format`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const biome = join(root, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');

test('lint: biome reports no errors', { skip: existsSync(biome) ? false : 'biome is not installed (npm ci installs it)' }, () => {
  const r = spawnSync(process.execPath, [biome, 'lint', '--max-diagnostics=50', '.'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
});
