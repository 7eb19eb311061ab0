/**
 * YAML text → documents with node ranges. YAML 1.2 core schema (so `on`/`yes` stay strings and
 * the key `y` stays "y"), duplicate keys rejected, warnings (unknown tags) treated as errors,
 * nesting depth and alias expansion bounded.
 */
import { quote } from './formats.ts';
import { isCollection, isScalar, LineCounter, parseAllDocuments, visit, type Document, type Node } from 'yaml';

/** Deepest nesting accepted; manifests need about 8, so anything near this is garbage or an attack. */
export const MAX_DEPTH = 64;
/** Alias expansions allowed in one document (yaml's default; blocks "billion laughs"). */
export const MAX_ALIAS_COUNT = 100;

/** A YAML-level problem at a character offset. */
export interface YamlProblem {
  offset: number;
  message: string;
}

/** Parse every document in `text`. Never throws; problems are per document. */
export function parseYaml(text: string): { lineCounter: LineCounter; documents: Document[] } {
  const lineCounter = new LineCounter();
  // uniqueKeys is checked by duplicateKeys() below: yaml's own check compares every key with
  // every other one, and a 1 MB mapping of 40k keys took minutes.
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true, version: '1.2' });
  // An empty stream gives an EmptyStream (an array with no documents).
  return { lineCounter, documents: Array.isArray(documents) ? [...documents] : [documents] };
}

/** Syntax errors and warnings of one document, first line of each message only. */
export function yamlProblems(doc: Document, text = ''): YamlProblem[] {
  const problems = [...doc.errors, ...doc.warnings].map((e) => ({ offset: e.pos[0], message: yamlMessage(e.code, e.message, text.slice(e.pos[0], e.pos[0] + 256)) }));
  return [...problems, ...duplicateKeys(doc, text)].sort((a, b) => a.offset - b.offset);
}

/** A key that appears twice in one mapping (same scalar value), in linear time per mapping. */
function duplicateKeys(doc: Document, text: string): YamlProblem[] {
  const out: YamlProblem[] = [];
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          const offset = pair.key.range?.[0] ?? 0;
          out.push({ offset, message: yamlMessage('DUPLICATE_KEY', '', text.slice(offset, offset + 256)) });
        }
        seen.add(pair.key.value);
      }
    },
  });
  return out;
}

function yamlMessage(code: string, message: string, rest: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'DUPLICATE_KEY': {
      const key = /^[^:\s{}[\],]+/.exec(rest)?.[0];
      return `duplicate key${key ? ` ${quote(key)}` : ''} (a key may appear only once in a mapping)`;
    }
    case 'TAB_AS_INDENT':
      return 'tab used for indentation (YAML indents with spaces)';
    case 'TAG_RESOLVE_FAILED':
      return `${first} (custom tags are not supported)`;
    default:
      // yaml's composer recurses; a stack overflow means absurd nesting (thousands of levels).
      if (/call stack/i.test(first)) return `nested deeper than ${MAX_DEPTH} levels`;
      return `YAML syntax: ${first.charAt(0).toLowerCase()}${first.slice(1)}`;
  }
}

/** True for a document with no content (`---` alone, comments only, or a bare `null`). */
export function isEmptyDocument(doc: Document): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}

/** The first node nested deeper than MAX_DEPTH, if any. */
export function tooDeep(doc: Document): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Node(_key, node, path) {
      const depth = path.filter((p) => isCollection(p)).length;
      if (depth > MAX_DEPTH) {
        found = node;
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return found;
}

/** The document as plain data, or a problem (alias bomb, unresolved alias) at the first alias. */
export function toData(doc: Document): { data: unknown } | { problem: YamlProblem } {
  try {
    return { data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (err) {
    const offset = firstAliasOffset(doc);
    const text = err instanceof Error ? err.message : String(err);
    const message = /Excessive alias count/.test(text)
      ? `too many alias expansions (over ${MAX_ALIAS_COUNT}); YAML alias bombs are rejected`
      : `YAML alias: ${text}`;
    return { problem: { offset, message } };
  }
}

function firstAliasOffset(doc: Document): number {
  let offset = doc.contents?.range?.[0] ?? 0;
  visit(doc, {
    Alias(_key, node) {
      offset = node.range?.[0] ?? offset;
      return visit.BREAK;
    },
  });
  return offset;
}
