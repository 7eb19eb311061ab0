/**
 * The one ajv instance: draft 2020-12, strict mode, allErrors, defaults filled in, our formats.
 * Compiled once at module load (a schema typo fails fast, at import).
 */
import { Ajv2020, type AnySchema, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { FORMATS } from './formats.ts';
import { problemsFromAjv, type Problem } from './messages.ts';
import { manifestSchema } from './schema.ts';
import type { Manifest } from './types.ts';

function createAjv(): Ajv2020 {
  // verbose: errors carry `data` and `parentSchema`, needed for "(got ...)" and `x-message`.
  // strictRequired is off: it rejects `oneOf: [{required: [container]}, ...]` branches whose
  // keys are declared in the parent's `properties`, which is exactly how "one of" is spelled.
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, useDefaults: true, verbose: true });
  addFormats.default(ajv, ['hostname']);
  for (const [name, rule] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate: rule.validate });
  // Annotations read by messages.ts; declared so strict mode accepts them.
  ajv.addVocabulary(['x-message', 'x-at']);
  return ajv;
}

const ajv = createAjv();

/** Compile a schema with the shared, configured ajv (also used for the policy file schema). */
export function compileSchema<T>(schema: AnySchema): ValidateFunction<T> {
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
