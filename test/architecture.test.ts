/**
 * The module boundaries, enforced: one module per external boundary, and a core that imports
 * nothing from the adapters. Scans import/export-from statements of every source file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir))) {
    const rel = join(dir, entry);
    if (statSync(join(root, rel)).isDirectory()) {
      if (entry !== 'node_modules' && entry !== 'build') out.push(...sources(rel));
    } else if (/\.(ts|mts|mjs)$/.test(entry) && !entry.endsWith('.d.mts')) {
      out.push(rel.split(sep).join('/'));
    }
  }
  return out;
}

/** Module specifiers imported (statically or dynamically) by a file. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
    specs.push((m[1] ?? m[2] ?? m[3])!);
  }
  return specs;
}

const files = [...sources('src'), ...sources('reconciler')];

/** Packages that only one folder may import. */
const owners: Record<string, string[]> = {
  koffi: ['src/hcs/'],
  chokidar: ['src/watch/'],
  yaml: ['src/manifest/'],
  ajv: ['src/manifest/'],
  'ajv-formats': ['src/manifest/'],
  'prom-client': ['src/cli/'],
  commander: ['src/cli/'],
  xstate: ['reconciler/'],
};

test('each external boundary has exactly one importer', () => {
  const violations: string[] = [];
  for (const file of files) {
    for (const spec of importsOf(file)) {
      const pkg = spec.startsWith('.') || spec.startsWith('node:') ? undefined : spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
      const allowed = pkg ? owners[pkg] : undefined;
      if (allowed && !allowed.some((prefix) => file.startsWith(prefix))) violations.push(`${file} imports ${spec} (only ${allowed.join(', ')} may)`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the core imports nothing from src/; adapters do not import each other (only the CLI wires them)', () => {
  const violations: string[] = [];
  const adapters = ['src/hcs/', 'src/manifest/', 'src/watch/'];
  for (const file of files) {
    for (const spec of importsOf(file).filter((s) => s.startsWith('.'))) {
      const target = relative(root, join(root, file, '..', spec)).split(sep).join('/');
      if (file.startsWith('reconciler/') && target.startsWith('src/')) violations.push(`${file} → ${target}`);
      const from = adapters.find((a) => file.startsWith(a));
      const to = adapters.find((a) => target.startsWith(a));
      if (from && to && from !== to) violations.push(`${file} → ${target}`);
      if (from && target.startsWith('src/cli/')) violations.push(`${file} → ${target}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('adapters import only types from the core, except its pure identity helpers', () => {
  const violations: string[] = [];
  for (const file of files.filter((f) => /^src\/(hcs|watch)\//.test(f))) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/^import\s+(type\s+)?[^'"]*from\s+['"]([^'"]*reconciler\/[^'"]+)['"]/gm)) {
      if (!m[1]) violations.push(`${file} imports values from ${m[2]}`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the scanner sees the imports it polices (guards against a regex that matches nothing)', () => {
  assert.ok(importsOf('src/hcs/ffi.ts').includes('koffi'));
  assert.ok(importsOf('src/watch/watchers.ts').includes('chokidar'));
  assert.ok(importsOf('reconciler/controller.ts').some((s) => s === 'xstate'));
  assert.ok(importsOf('src/cli/main.ts').includes('commander'));
});
