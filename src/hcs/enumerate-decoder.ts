/**
 * The enumerate result document -> ObservedSystem[], with structural sharing between calls.
 *
 * The controller relists HCS every 30 s; with 1000 systems and nothing changed, decoding the
 * answer afresh (JSON.parse of the whole array, one ObservedSystem per entry) was most of the
 * garbage an idle controller makes, and gave the core new objects to compare every time. Here:
 * - the same document text as last time returns the very same (frozen) array: no allocation;
 * - otherwise each `{...}` entry of the array is located by a small scanner (offsets only) and an
 *   entry whose text equals the entry at the same position last time keeps its object; one whose
 *   text appeared elsewhere last time (HCS reordered) keeps its object too; only new or changed
 *   entries are parsed (documents.ts `toObservedSystem`, the one decoder of an entry);
 * - anything the scanner does not recognise as an array of objects is decoded the plain way
 *   (documents.ts `toObservedSystems`), so the result never differs from it.
 * Kept objects are frozen: the core reads them and compares them by identity.
 */
import type { ObservedSystem } from '../../reconciler/ports.ts';
import { toObservedSystem, toObservedSystems } from './documents.ts';

const EMPTY: readonly ObservedSystem[] = Object.freeze([]);

/** Decodes successive enumerate answers of one query, reusing what did not change. */
export class EnumerateDecoder {
  #doc: string | null = null;
  #systems: readonly ObservedSystem[] = EMPTY;
  /** Offsets of each entry of `#doc`: entry i is `#doc.slice(#starts[i], #ends[i])`. */
  #starts: number[] = [];
  #ends: number[] = [];
  /** Entries parsed since the decoder was made (a counter for tests and diagnostics). */
  parsedEntries = 0;

  /** The systems of `doc`; the same array when `doc` equals the previous document. */
  decode(doc: string | null): ObservedSystem[] {
    if (doc !== null && doc === this.#doc) return this.#systems as ObservedSystem[];
    const bounds = doc === null ? undefined : entryBounds(doc);
    if (!bounds) return this.#plain(doc);
    const [starts, ends] = bounds;
    const prevDoc = this.#doc ?? '';
    let byText: Map<string, ObservedSystem> | undefined;
    const out: ObservedSystem[] = new Array(starts.length);
    for (let i = 0; i < starts.length; i++) {
      const s = starts[i]!;
      const e = ends[i]!;
      if (i < this.#starts.length && sameText(doc!, s, e, prevDoc, this.#starts[i]!, this.#ends[i]!)) {
        out[i] = this.#systems[i]!;
        continue;
      }
      const text = doc!.slice(s, e);
      byText ??= this.#byText();
      out[i] = byText.get(text) ?? this.#parse(text);
    }
    this.#remember(doc, Object.freeze(out), starts, ends);
    return out;
  }

  #plain(doc: string | null): ObservedSystem[] {
    const systems = toObservedSystems(doc).map((s) => Object.freeze(s));
    this.parsedEntries += systems.length;
    this.#remember(null, Object.freeze(systems), [], []);
    return systems;
  }

  #parse(text: string): ObservedSystem {
    this.parsedEntries++;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw new Error(`hcs enumerate: result document is not JSON: ${text.slice(0, 200)}`, { cause: err });
    }
    return Object.freeze(toObservedSystem(v));
  }

  /** The previous entries by their text (built only when an entry moved or changed). */
  #byText(): Map<string, ObservedSystem> {
    const map = new Map<string, ObservedSystem>();
    const doc = this.#doc ?? '';
    for (let i = 0; i < this.#starts.length; i++) map.set(doc.slice(this.#starts[i], this.#ends[i]), this.#systems[i]!);
    return map;
  }

  #remember(doc: string | null, systems: readonly ObservedSystem[], starts: number[], ends: number[]): void {
    this.#doc = doc;
    this.#systems = systems;
    this.#starts = starts;
    this.#ends = ends;
  }
}

/** Whether a[as, ae) and b[bs, be) hold the same characters (no substring is made). */
function sameText(a: string, as: number, ae: number, b: string, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let i = 0; i < ae - as; i++) if (a.charCodeAt(as + i) !== b.charCodeAt(bs + i)) return false;
  return true;
}

const WS = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * Offsets of the top-level `{...}` entries of a JSON array, or undefined when the text is not a
 * JSON array of objects (then the caller decodes it the plain way). Entries are validated by
 * JSON.parse when they are parsed; what lies between them must be exactly whitespace and commas.
 */
export function entryBounds(doc: string): [number[], number[]] | undefined {
  const starts: number[] = [];
  const ends: number[] = [];
  let i = skipWs(doc, 0);
  if (doc.charCodeAt(i) !== 0x5b /* [ */) return undefined;
  i = skipWs(doc, i + 1);
  if (doc.charCodeAt(i) === 0x5d /* ] */) return skipWs(doc, i + 1) === doc.length ? [starts, ends] : undefined;
  for (;;) {
    if (doc.charCodeAt(i) !== 0x7b /* { */) return undefined;
    const end = objectEnd(doc, i);
    if (end < 0) return undefined;
    starts.push(i);
    ends.push(end);
    i = skipWs(doc, end);
    const c = doc.charCodeAt(i);
    if (c === 0x5d) return skipWs(doc, i + 1) === doc.length ? [starts, ends] : undefined;
    if (c !== 0x2c /* , */) return undefined;
    i = skipWs(doc, i + 1);
  }
}

function skipWs(doc: string, i: number): number {
  while (i < doc.length && WS(doc.charCodeAt(i))) i++;
  return i;
}

/** The offset just past the object starting at `i` (strings and nesting respected), or -1. */
function objectEnd(doc: string, i: number): number {
  let depth = 0;
  for (; i < doc.length; i++) {
    const c = doc.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < doc.length && doc.charCodeAt(i) !== 0x22; i++) if (doc.charCodeAt(i) === 0x5c /* \ */) i++;
      if (i >= doc.length) return -1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return c === 0x7d ? i + 1 : -1;
      if (depth < 0) return -1;
    }
  }
  return -1;
}
