/**
 * ajv errors → one clear message per problem: what is wrong, what is allowed, what we got.
 *
 * Composite rules (oneOf, anyOf, if/then) produce a cascade of sub-errors in ajv; the schema marks
 * them with `x-message` (and `x-at`, the field to point at) and we show that single message instead.
 */
import type { ErrorObject } from 'ajv';
import { explainFormat, quote } from './formats.ts';
import { splitPointer, type DataPath } from './locate.ts';

/** One schema problem: where (data path; `key` = point at the map key itself) and what. */
export interface Problem {
  path: DataPath;
  key: boolean;
  message: string;
}

const COMPOSITE = new Set(['oneOf', 'anyOf', 'if', 'not']);

/** Turn ajv's errors (validated with `verbose: true`) into problems, composites collapsed. */
export function problemsFromAjv(errors: readonly ErrorObject[]): Problem[] {
  const composites = errors.filter((e) => COMPOSITE.has(e.keyword));
  const typeErrorAt = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const suggested = new Set(errors.flatMap((e) => suggestionFor(e)));
  const hidden = (e: ErrorObject) =>
    isPropertyNameError(e) ||
    // A value of the wrong type fails every other rule at that path too: report the type only.
    (e.keyword !== 'type' && typeErrorAt.has(e.instancePath)) ||
    // `knd:` instead of `kind:` is one problem: the unknown-field message already suggests "kind".
    (e.keyword === 'required' && suggested.has(`${e.instancePath}/${String((e.params as { missingProperty?: string }).missingProperty)}`)) ||
    composites.some((c) => c !== e && e.schemaPath.startsWith(compositePrefix(c)));
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (hidden(e)) continue;
    const p = toProblem(e, errors);
    const id = `${p.path.join('/')}|${p.message}`;
    if (!seen.has(id)) problems.push(p);
    seen.add(id);
  }
  return problems;
}

/** For an unknown-field error whose closest allowed key is missing: that key's pointer. */
function suggestionFor(e: ErrorObject): string[] {
  if (e.keyword !== 'additionalProperties') return [];
  const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const guess = closest(String((e.params as { additionalProperty?: string }).additionalProperty), Object.keys(props));
  const data = e.data as Record<string, unknown> | undefined;
  return guess && data && !(guess in data) ? [`${e.instancePath}/${guess}`] : [];
}

/** Schema path prefix that every sub-error of a composite error starts with. */
function compositePrefix(e: ErrorObject): string {
  // An `if` error's sub-errors come from the sibling `then`/`else`: hide the whole rule object.
  return e.keyword === 'if' ? e.schemaPath.slice(0, -'if'.length) : `${e.schemaPath}/`;
}

function toProblem(e: ErrorObject, all: readonly ErrorObject[]): Problem {
  const path = splitPointer(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return unknownField(path, String(p.additionalProperty), e.parentSchema);
    case 'required':
      return { path: [...path, String(p.missingProperty)], key: false, message: 'is required' };
    case 'propertyNames':
      return { path: [...path, String(p.propertyName)], key: true, message: keyMessage(e, all) };
    default:
      if (COMPOSITE.has(e.keyword)) return composite(e, path);
      return { path, key: false, message: valueMessage(e) };
  }
}

/** Sub-errors of `propertyNames`: ajv reports them at the map's path; we report them at the key. */
function isPropertyNameError(e: ErrorObject): boolean {
  return e.schemaPath.includes('/propertyNames/');
}

/** The message of the key's own failure (format, length), found among the hidden sub-errors. */
function keyMessage(e: ErrorObject, all: readonly ErrorObject[]): string {
  const name = (e.params as { propertyName?: string }).propertyName;
  const sub = all.find(
    (s) => isPropertyNameError(s) && s.instancePath === e.instancePath && (s as { propertyName?: string }).propertyName === name,
  );
  return sub ? valueMessage({ ...sub, data: name }) : `invalid key ${quote(name)}`;
}

function composite(e: ErrorObject, path: string[]): Problem {
  const annotated = e.parentSchema as Record<string, unknown> | undefined;
  const message = annotated?.['x-message'];
  const at = annotated?.['x-at'];
  // A rule about a whole object points at the object's key (`spec:`), not at its first child.
  if (typeof message !== 'string') return { path, key: path.length > 0, message: 'must match one of the allowed shapes' };
  return { path: typeof at === 'string' ? [...path, at] : path, key: typeof at !== 'string' && path.length > 0, message: message + tooMany(e) };
}

/** For a oneOf of `required` branches that matched more than once: which ones, e.g. " (got container and document)". */
function tooMany(e: ErrorObject): string {
  const passing = (e.params as { passingSchemas?: unknown }).passingSchemas;
  if (e.keyword !== 'oneOf' || !Array.isArray(passing) || !Array.isArray(e.schema)) return '';
  const branches = e.schema as Array<{ required?: string[] }>;
  const names = passing.map((i: number) => branches[i]?.required?.[0] ?? `#${i}`);
  return ` (got ${names.join(' and ')})`;
}

function unknownField(path: string[], field: string, parentSchema: unknown): Problem {
  // yaml 1.2 (our schema) has no merge keys: `<<: *base` is a key named "<<".
  if (field === '<<') return { path: [...path, field], key: true, message: 'YAML merge keys (<<) are not supported; write the keys out in full (anchors and aliases of whole values work)' };
  const props = (parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const allowed = Object.keys(props);
  const guess = closest(field, allowed);
  const hint = guess ? `did you mean "${guess}"? ` : '';
  return { path: [...path, field], key: true, message: `unknown field ${keyExcerpt(field)} (${hint}allowed: ${allowed.join(', ')})` };
}

/**
 * A key as shown in a message. A key that does not look like a field name (a line of some other
 * file, a pasted secret) is cut to a few characters: enough to find it, too little to leak it.
 */
function keyExcerpt(key: string): string {
  if (/^[A-Za-z0-9_./-]{1,30}$/.test(key)) return quote(key);
  const cut = [...key].slice(0, 8).join('');
  return `${quote(cut).slice(0, -1)}..." (${[...key].length} characters, not a field name)`;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

function valueMessage(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const got = describe(e.data);
  switch (e.keyword) {
    case 'type': {
      const want = String(p.type).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ');
      return `must be ${want} (got ${got})`;
    }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return `must be ${p.comparison} ${p.limit} (got ${got})`;
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).join(', ')} (got ${got})`;
    case 'const':
      return `must be ${quote(p.allowedValue)} (got ${got})`;
    case 'format':
      return explainFormat(String(p.format), e.data);
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${p.limit} characters (got ${lengthOf(e.data)})`;
    case 'maxLength':
      return `must be at most ${p.limit} characters (got ${lengthOf(e.data)})`;
    case 'minItems':
      return `must have at least ${p.limit} item${p.limit === 1 ? '' : 's'} (got ${lengthOf(e.data)})`;
    case 'maxItems':
      return `must have at most ${p.limit} items (got ${lengthOf(e.data)})`;
    case 'minProperties':
      return `must not be empty (allowed: ${Object.keys((e.parentSchema as { properties?: object })?.properties ?? {}).join(', ')})`;
    case 'uniqueItems':
      return `must not contain duplicates (${describe((e.data as unknown[])[Number(p.i)])} appears more than once)`;
    default:
      return e.message ?? 'is invalid';
  }
}

function lengthOf(data: unknown): number {
  return Array.isArray(data) || typeof data === 'string' ? data.length : 0;
}

/** Short description of a value for "(got ...)". */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return quote(value);
}

/** The allowed word nearest to `word` (edit distance ≤ 2 or case-only), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** Damerau-Levenshtein (optimal string alignment): a swapped pair like "memroy" costs 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
