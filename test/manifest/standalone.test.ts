/**
 * The build-time (ajv standalone) validators behave exactly like the schemas compiled at run
 * time: same verdict, same errors (messages.ts reads `parentSchema`, so verbose data must survive),
 * same defaults filled in. Every fixture and example is run through both.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { FORMATS } from '../../src/manifest/formats.ts';
import { generateValidators } from '../../src/manifest/standalone.ts';
import { compileSchema, createAjv, formatDefinitions, schemaHash, STANDALONE_SCHEMAS } from '../../src/manifest/validate.ts';

const require = createRequire(import.meta.url);
const root = fileURLToPath(new URL('../..', import.meta.url));

function documents(): unknown[] {
  const out: unknown[] = [];
  for (const dir of ['test/fixtures/invalid', 'manifests']) {
    for (const f of readdirSync(join(root, dir)).filter((n) => /\.ya?ml$/.test(n))) {
      try {
        for (const d of parseAllDocuments(readFileSync(join(root, dir, f), 'utf8')) as { toJS(o: object): unknown }[]) out.push(d.toJS({ maxAliasCount: 10 }));
      } catch {
        // not YAML at all (binary garbage, alias bombs): nothing for a validator to see
      }
    }
  }
  return out;
}

test('generated validators match run-time compilation on every fixture and example', () => {
  // Inside node_modules, so the generated code's require('ajv/dist/runtime/...') resolves.
  const dir = mkdtempSync(join(root, 'node_modules', '.standalone-test-'));
  try {
    const file = join(dir, 'v.cjs');
    writeFileSync(file, generateValidators());
    const formats = formatDefinitions();
    assert.deepEqual(Object.keys(formats).sort(), ['hostname', ...Object.keys(FORMATS)].sort());
    const gen = (require(file) as (f: unknown) => { hashes: Record<string, string>; validators: Record<string, (d: unknown) => boolean> })(formats);
    assert.equal(gen.hashes.manifest, schemaHash(STANDALONE_SCHEMAS.manifest));
    const runtime = createAjv().compile(STANDALONE_SCHEMAS.manifest);
    const fast = gen.validators.manifest as unknown as typeof runtime;
    const docs = documents();
    assert.ok(docs.length > 50, `only ${docs.length} documents`);
    let invalid = 0;
    for (const doc of docs) {
      const a = structuredClone(doc);
      const b = structuredClone(doc);
      const ok = runtime(a);
      assert.equal(fast(b), ok);
      assert.deepEqual(b, a, 'defaults filled in identically');
      assert.deepEqual(fast.errors ?? null, runtime.errors ?? null);
      if (!ok) invalid++;
    }
    assert.ok(invalid > 30, `only ${invalid} invalid documents exercised`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a schema the generated file was not built from is compiled at run time', () => {
  const edited = { ...STANDALONE_SCHEMAS.policy, properties: { ...STANDALONE_SCHEMAS.policy.properties, extra: { type: 'boolean' } } };
  const v = compileSchema(edited);
  assert.equal(v({ apiVersion: 'hcs-reconciler/v1alpha1', kind: 'ManifestPolicy', extra: true }), true);
  assert.equal(compileSchema(STANDALONE_SCHEMAS.policy)({ apiVersion: 'hcs-reconciler/v1alpha1', kind: 'ManifestPolicy', extra: true }), false);
});
