/**
 * The schema validators: draft 2020-12, strict mode, allErrors, defaults filled in, our formats.
 * At run time they come from the ajv standalone code generated at build time (standalone.ts):
 * loading it costs a few milliseconds, compiling the schemas with ajv ~100 ms. When the generated
 * file is missing or was generated from a different schema (edited since the last build), the
 * schema is compiled with ajv here instead: same options, same results, only slower to start.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv2020, AnySchema, ValidateFunction } from 'ajv/dist/2020.js';
import type { CodeOptions } from 'ajv/dist/core.js';
import { FORMATS } from './formats.ts';
import { problemsFromAjv, type Problem } from './messages.ts';
import { policySchema } from './policy.ts';
import { manifestSchema } from './schema.ts';
import type { Manifest } from './types.ts';

const require = createRequire(import.meta.url);

/** The generated module, next to this file (in src/ and in dist/). */
export const GENERATED_FILE = './validators.generated.cjs';

/** The schemas generated at build time, by name. */
export const STANDALONE_SCHEMAS = { manifest: manifestSchema, policy: policySchema } as const;

/** Formats taken from ajv-formats (the others are ours, in formats.ts). */
const AJV_FORMATS = ['hostname'];

/** Every format definition exactly as registered with ajv (the generated code calls these). */
export function formatDefinitions(): Record<string, unknown> {
  const { fullFormats } = require('ajv-formats/dist/formats.js') as { fullFormats: Record<string, unknown> };
  const defs: Record<string, unknown> = {};
  for (const name of AJV_FORMATS) defs[name] = fullFormats[name];
  for (const [name, rule] of Object.entries(FORMATS)) defs[name] = { type: 'string', validate: rule.validate };
  return defs;
}

/** The configured ajv (also used by standalone.ts with `code` options to generate the validators). */
export function createAjv(code?: CodeOptions): Ajv2020 {
  const { Ajv2020: AjvClass } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
  // verbose: errors carry `data` and `parentSchema`, needed for "(got ...)" and `x-message`.
  // strictRequired is off: it rejects `oneOf: [{required: [container]}, ...]` branches whose
  // keys are declared in the parent's `properties`, which is exactly how "one of" is spelled.
  const ajv = new AjvClass({ allErrors: true, strict: true, strictRequired: false, useDefaults: true, verbose: true, ...(code ? { code } : {}) });
  // The same definitions the generated code receives: one list, so the two cannot drift apart.
  for (const [name, def] of Object.entries(formatDefinitions())) ajv.addFormat(name, def as RegExp);
  // Annotations read by messages.ts; declared so strict mode accepts them.
  ajv.addVocabulary(['x-message', 'x-at']);
  return ajv;
}

/** A stable fingerprint of a schema (what the generated code was built from). */
export function schemaHash(schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex').slice(0, 16);
}

interface Generated {
  hashes: Record<string, string>;
  validators: Record<string, ValidateFunction>;
}

let generated: Generated | null | undefined;
function loadGenerated(): Generated | null {
  if (generated !== undefined) return generated;
  try {
    const create = require(GENERATED_FILE) as (formats: Record<string, unknown>) => Generated;
    generated = create(formatDefinitions());
  } catch {
    generated = null;
  }
  return generated;
}

let ajv: Ajv2020 | undefined;

/**
 * A validator for a schema: the build-time code when it was generated from this very schema
 * (matched by `$id` and hash), else compiled with the shared, configured ajv.
 */
export function compileSchema<T>(schema: AnySchema): ValidateFunction<T> {
  const id = typeof schema === 'object' ? (schema as { $id?: string }).$id : undefined;
  const name = Object.entries(STANDALONE_SCHEMAS).find(([, s]) => s.$id === id)?.[0];
  const pre = name ? loadGenerated() : null;
  if (name && pre?.validators[name] && pre.hashes[name] === schemaHash(schema)) return pre.validators[name] as ValidateFunction<T>;
  ajv ??= createAjv();
  return ajv.compile<T>(schema);
}

const validateManifest = compileSchema<Manifest>(manifestSchema);

/**
 * Validate (and fill defaults into) one parsed document. Mutates `data` (ajv useDefaults).
 * Returns the typed manifest, or the problems found.
 */
export function validateDocument(data: unknown): { manifest: Manifest } | { problems: Problem[] } {
  if (validateManifest(data)) return { manifest: data };
  return { problems: problemsFromAjv(validateManifest.errors ?? []) };
}
