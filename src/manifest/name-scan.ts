/**
 * A cheap scan of a file that cannot be parsed (UTF-16, a YAML syntax error, binary junk) for
 * the names it could declare: every `name: <dns-label>` line, at any indentation. The core
 * holds the pruning of exactly these names while the file stays broken, instead of holding all
 * pruning (issue 12, finding 12). Over-matching (a `name:` that is not `metadata.name`) only
 * holds more; it never lets a system go.
 */
import { NAME_PATTERN } from '../../reconciler/identity.ts';

/** Most names taken from one file's scan. */
export const MAX_SCANNED_NAMES = 20;

const NAME_LINE = /^[ \t-]*name[ \t]*:[ \t]*["']?([^"'\s#]+)["']?[ \t]*(?:#.*)?$/gm;

/** The text of `bytes`, however it is encoded, good enough to find ASCII names. */
function looseText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  // UTF-16 without a BOM: every other byte of ASCII text is NUL.
  if (bytes.length > 3 && bytes[1] === 0 && bytes[3] === 0) return new TextDecoder('utf-16le').decode(bytes);
  return new TextDecoder('latin1').decode(bytes);
}

/** Valid manifest names found on `name:` lines, in order, without duplicates. */
export function scanNames(bytes: Uint8Array): string[] {
  const names = new Set<string>();
  for (const m of looseText(bytes).replace(/\r/g, '').matchAll(NAME_LINE)) {
    if (NAME_PATTERN.test(m[1]!)) names.add(m[1]!);
    if (names.size >= MAX_SCANNED_NAMES) break;
  }
  return [...names];
}
