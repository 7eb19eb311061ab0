/**
 * Bytes → text for one manifest file: size limit, UTF-8 (BOM stripped), no NUL bytes.
 * Each failure carries a 1-based line/column so it reads like any other manifest error.
 */

/** Default per-file size limit: 1 MiB. */
export const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

/** A decode failure at a 1-based position. */
export interface DecodeProblem {
  line: number;
  col: number;
  message: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decode `content` or explain why it is not a manifest file. */
export function decodeManifestText(content: Uint8Array, maxBytes: number): { text: string } | { problem: DecodeProblem } {
  if (content.length > maxBytes) return { problem: sizeProblem(content.length, maxBytes) };
  if (content[0] === 0xff && content[1] === 0xfe) return { problem: utf16Problem('FF FE') };
  if (content[0] === 0xfe && content[1] === 0xff) return { problem: utf16Problem('FE FF') };
  let text: string;
  try {
    text = decoder.decode(content);
  } catch {
    const offset = firstInvalidUtf8(content);
    return { problem: { ...positionOfByte(content, offset), message: `is not valid UTF-8 (bad byte 0x${hex(content[offset])}); save the file as UTF-8` } };
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) return { problem: { ...positionOfChar(text, nul), message: 'contains a NUL byte; binary files are not manifests' } };
  return { text };
}

/** The error for a file over the size limit (also used by the loader, which does not read such files). */
export function sizeProblem(size: number, maxBytes: number): DecodeProblem {
  return { line: 1, col: 1, message: `file is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit (maxFileBytes)` };
}

function utf16Problem(bom: string): DecodeProblem {
  return { line: 1, col: 1, message: `looks like UTF-16 (byte order mark ${bom}); save the file as UTF-8` };
}

/** Offset of the first byte that breaks UTF-8 (structure only; the decoder already said it is bad). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (len === 0) return i;
    const chunk = bytes.subarray(i, i + len);
    if (chunk.length < len) return i;
    try {
      decoder.decode(chunk);
    } catch {
      return i;
    }
    i += len;
  }
  return Math.max(0, bytes.length - 1);
}

function positionOfByte(bytes: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      start = i + 1;
    }
  }
  // Column counts characters, so decode the (valid) part of the line before the bad byte.
  const col = new TextDecoder().decode(bytes.subarray(start, offset)).length + 1;
  return { line, col };
}

function positionOfChar(text: string, index: number): { line: number; col: number } {
  const before = text.slice(0, index);
  const line = before.split('\n').length;
  return { line, col: index - before.lastIndexOf('\n') };
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).toUpperCase().padStart(2, '0');
}

function formatBytes(n: number): string {
  // Exact bytes for small sizes, so a test limit of 100 bytes reads sensibly next to 1044 bytes.
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 10 * 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
