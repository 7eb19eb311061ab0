#!/usr/bin/env node
// Runs the whole test suite with Node's built-in runner.
// Node 20's `--test` neither expands quoted globs nor discovers .ts files on its own (it would
// run nothing and exit 0), so this script lists the files itself and fails when it finds none.
// Usage: node test/run.mjs [substring ...]   (only files whose path contains one of the substrings)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const skipDirs = new Set(['fixtures', 'bench', 'chaos', 'node_modules']);

function collect(dir, out) {
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) {
      if (!skipDirs.has(entry)) collect(full, out);
    } else if (entry.endsWith('.test.ts')) {
      out.push(relative(root, full));
    }
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect(join(root, 'test'), [])
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`test/run.mjs: no test files matched ${filters.join(' ') || 'test/**/*.test.ts'}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=120000', `--test-concurrency=${process.env.HCS_TEST_CONCURRENCY ?? '3'}`, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16' } },
);
process.exit(result.status ?? 1);
