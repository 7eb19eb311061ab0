/**
 * From a data path (ajv's `instancePath`, split) back to the YAML node it came from, so every
 * error points at a line and column. Also formats paths as users read them
 * (`spec.container.layers[0].id`).
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

/** A path into the manifest data: object keys and array indices. */
export type DataPath = ReadonlyArray<string | number>;

/** Split an ajv `instancePath` (JSON Pointer) into segments. */
export function splitPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `['spec','container','layers',0,'id']` → `spec.container.layers[0].id`. */
export function formatPath(path: DataPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number' || /^\d+$/.test(seg)) out += `[${seg}]`;
    else if (IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** The value node at `path` (or its map key with `key: true`); the deepest existing ancestor when absent. */
export function findNode(doc: Document, path: DataPath, key = false): Node | undefined {
  let node: unknown = doc.contents;
  for (const [i, seg] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return node;
      if (last && key && isScalar(pair.key)) return pair.key;
      // `key:` with no value: point at the key rather than at nothing.
      node = pair.value ?? pair.key;
    } else if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (item === undefined) return node;
      node = item;
    } else {
      return node as Node | undefined;
    }
  }
  return node as Node | undefined;
}

/** 1-based line/column of a node's start (1:1 when unknown). */
export function nodePosition(node: Node | undefined, lc: LineCounter): { line: number; col: number } {
  const offset = node?.range?.[0];
  return offset === undefined ? { line: 1, col: 1 } : lc.linePos(offset);
}
