/**
 * Generates the artifacts derived from schema.ts: `schema.json` (for editors) and the field
 * table in src/manifest/README.md and the top-level README.md (between the `<!-- fields -->` markers). Run after changing the schema:
 *   node --import tsx src/manifest/docgen.ts
 * test/manifest/docs.test.ts fails when either is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { manifestSchema } from './schema.ts';

type SchemaNode = Record<string, unknown> & { properties?: Record<string, SchemaNode>; items?: SchemaNode };

/** One row per schema property: path, type, default, description. */
export function fieldRows(node: SchemaNode = manifestSchema as unknown as SchemaNode, prefix = ''): string[] {
  const rows: string[] = [];
  const required = new Set((node.required as string[] | undefined) ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    const dflt = child.default === undefined ? (required.has(key) ? 'required' : '') : `\`${String(child.default)}\``;
    rows.push(`| \`${path}\` | ${typeOf(child)} | ${dflt} | ${String(child.description ?? '').replace(/\|/g, '\\|')} |`);
    const inner = child.type === 'array' ? child.items : child;
    if (inner?.properties) rows.push(...fieldRows(inner, child.type === 'array' ? `${path}[]` : path));
  }
  return rows;
}

function typeOf(s: SchemaNode): string {
  if (Array.isArray(s.enum)) return (s.enum as string[]).map((v) => `\`${v}\``).join(' \\| ');
  if (s.const !== undefined) return `\`${String(s.const)}\``;
  if (s.not !== undefined) return 'not allowed';
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return 'map of string';
  if (typeof s.format === 'string') return `string (${s.format})`;
  return String(s.type ?? 'any');
}

/** The README field table (markdown). */
export function fieldTable(): string {
  return ['| Field | Type | Default | Meaning |', '| --- | --- | --- | --- |', ...fieldRows()].join('\n');
}

/** schema.json content. */
export function schemaJson(): string {
  return `${JSON.stringify(manifestSchema, null, 2)}\n`;
}

/** README with the field table between the markers replaced. */
export function readmeWithTable(readme: string): string {
  return readme.replace(/<!-- fields -->[\s\S]*<!-- \/fields -->/, `<!-- fields -->\n${fieldTable()}\n<!-- /fields -->`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = new URL('.', import.meta.url);
  writeFileSync(new URL('schema.json', dir), schemaJson());
  for (const readme of [new URL('README.md', dir), new URL('../../README.md', dir)]) {
    writeFileSync(readme, readmeWithTable(readFileSync(readme, 'utf8')));
  }
}
