/**
 * The config hash: SHA-256 over canonical JSON (object keys sorted, no whitespace) of exactly
 * what HCS receives, so a re-create happens when and only when HCS would see something
 * different. Stable across key order in the YAML and across yaml/ajv versions.
 */
import { createHash } from 'node:crypto';
import { compareText } from '../../reconciler/order.ts';

/** JSON with object keys sorted recursively; `undefined` members dropped like JSON.stringify. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareText(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Hex SHA-256 of the canonical JSON of `value`. */
export function sha256Canonical(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
