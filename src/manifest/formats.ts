/**
 * String formats used by the manifest schema, each with a validator (registered with ajv) and an
 * explanation (used for the error message). Keeping both side by side means the message always
 * describes exactly the rule that failed.
 */
import { MAX_NAME_LENGTH, NAME_PATTERN } from '../../reconciler/identity.ts';
import { parseDuration } from './duration.ts';

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/** `\\?\Volume{GUID}\`: the scratch form hcsshim validates for Storage.Path (internal/hcsoci/hcsdoc_wcow.go). */
const VOLUME_GUID_PATH = /^\\\\\?\\Volume\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}\\$/;
const DRIVE_ABSOLUTE = /^[A-Za-z]:\\/;
const INVALID_PATH_CHARS = /[<>:"|?*\u0000-\u001f]/;
const LABEL_KEY = /^(?:[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const MAC_ADDRESS = /^[0-9A-F]{2}(?:-[0-9A-F]{2}){5}$/;
const ENV_NAME = /^[^=\u0000]+$/;

/** Shortest restart backoff a manifest may ask for. */
export const MIN_BACKOFF_MS = 1000;

/** Why `value` is not an absolute Windows drive path, or undefined when it is one. */
export function explainDrivePath(value: string): string | undefined {
  if (value.startsWith('\\\\?\\') || value.startsWith('\\\\.\\')) {
    return `must be an absolute drive path like C:\\data; device paths (\\\\?\\, \\\\.\\) are not allowed (got ${quote(value)})`;
  }
  if (value.startsWith('\\\\')) return `must be an absolute drive path like C:\\data; UNC paths (\\\\server\\share) are not allowed (got ${quote(value)})`;
  if (value.includes('/')) return `must use backslashes, like C:\\data (got ${quote(value)})`;
  if (!DRIVE_ABSOLUTE.test(value)) return `must be an absolute drive path like C:\\data (got ${quote(value)})`;
  if (value.split('\\').some((seg) => seg === '..' || seg === '.')) {
    return `must not contain "." or ".." segments (got ${quote(value)})`;
  }
  if (value.includes('..')) return `must not contain ".." (got ${quote(value)})`;
  if (value.slice(2).includes(':')) return `must not contain ":" after the drive (alternate data streams are not allowed) (got ${quote(value)})`;
  if (INVALID_PATH_CHARS.test(value.slice(2))) return `must not contain any of < > : " | ? * or control characters (got ${quote(value)})`;
  return segmentProblem(value);
}

/**
 * Windows path rules that make two different strings name the same file, or a file name a
 * device (Microsoft, "Naming Files, Paths, and Namespaces",
 * https://learn.microsoft.com/en-us/windows/win32/fileio/naming-a-file):
 * - "Do not end a file or directory name with a space or a period": Win32 path normalisation
 *   strips them, so `D:\data\.. ` is `D:\data\..` and `D:\data\x.` is `D:\data\x`.
 * - Reserved device names CON, PRN, AUX, NUL, COM0-9, LPT0-9 (and the superscript-digit forms
 *   the page lists), "also avoid these names followed immediately by an extension" (NUL.txt is
 *   the NUL device on older Windows); CONIN$/CONOUT$ are the console (CreateFile, Consoles).
 * - 8.3 short names (`PROGRA~1`) are a second spelling of a long name: a prefix comparison on
 *   them means nothing, so they are refused and the long name must be written.
 * - Empty segments (`C:\\data`) are collapsed by normalisation: refused too.
 */
function segmentProblem(value: string): string | undefined {
  const segments = value.slice(3).split('\\');
  if (segments.at(-1) === '') segments.pop(); // a trailing backslash: C:\data\ is C:\data
  for (const seg of segments) {
    if (seg === '') return `must not contain empty segments (\\\\) (got ${quote(value)})`;
    if (/[. ]$/.test(seg)) return `must not have a segment ending with a dot or a space (Windows strips them: ${quote(seg)}) (got ${quote(value)})`;
    if (RESERVED_DEVICE.test(seg.split('.')[0]!.trimEnd())) return `must not use the reserved device name ${quote(seg)} (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with or without an extension) (got ${quote(value)})`;
    if (/~\d/.test(seg)) return `must not use an 8.3 short name (${quote(seg)}); write the long name (got ${quote(value)})`;
  }
  return undefined;
}

/** DOS device names, matched on the part of a segment before its first dot (see segmentProblem). */
const RESERVED_DEVICE = /^(?:CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|COM[0-9\u00b9\u00b2\u00b3]|LPT[0-9\u00b9\u00b2\u00b3])$/i;

/** Why `value` is not a valid scratch path: a drive path, or a volume GUID path as hcsshim uses. */
function explainScratchPath(value: string): string | undefined {
  if (VOLUME_GUID_PATH.test(value)) return undefined;
  if (value.startsWith('\\\\?\\Volume')) return `must be a volume GUID path like \\\\?\\Volume{GUID}\\ with the trailing backslash (got ${quote(value)})`;
  const drive = explainDrivePath(value);
  // A drive path's own rule (trailing dots, device names...) says more than the generic message.
  if (drive && !value.startsWith('\\\\') && DRIVE_ABSOLUTE.test(value)) return drive;
  return drive && `must be an absolute drive path or a volume GUID path \\\\?\\Volume{GUID}\\ (got ${quote(value)})`;
}

function explainName(value: string): string | undefined {
  if (value.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters (got ${value.length})`;
  if (NAME_PATTERN.test(value)) return undefined;
  return `must be a lowercase DNS label: a-z, 0-9 and "-", starting and ending with a letter or digit (got ${quote(value)})`;
}

/** A format: its validator and the message for a value that fails it. */
interface FormatRule {
  validate(value: string): boolean;
  explain(value: string): string;
}

function fromExplainer(explain: (v: string) => string | undefined): FormatRule {
  return { validate: (v) => explain(v) === undefined, explain: (v) => explain(v) ?? 'is valid' };
}

function fromPattern(pattern: RegExp, what: string): FormatRule {
  return { validate: (v) => pattern.test(v), explain: (v) => `must be ${what} (got ${quote(v)})` };
}

/** Every custom format the schema uses, by name. */
export const FORMATS: Record<string, FormatRule> = {
  'hcs-name': fromExplainer(explainName),
  guid: fromPattern(GUID, 'a GUID like 0e6e1d3a-3b27-4f29-9c6f-5a1f4a3c2b10'),
  duration: {
    validate: (v) => parseDuration(v) !== undefined,
    explain: (v) => `must be a duration like 30s, 5m, 1h30m or 500ms (got ${quote(v)})`,
  },
  // A floor under restart delays: a zero backoff restarted a crashing entrypoint 1707 times in 8 s.
  'backoff-duration': {
    validate: (v) => (parseDuration(v) ?? -1) >= MIN_BACKOFF_MS,
    explain: (v) => parseDuration(v) === undefined
      ? `must be a duration like 30s, 5m, 1h30m or 500ms (got ${quote(v)})`
      : `must be at least 1s: a shorter restart delay makes a crashing workload restart in a tight loop (got ${quote(v)})`,
  },
  'drive-path': fromExplainer(explainDrivePath),
  'scratch-path': fromExplainer(explainScratchPath),
  'label-key': fromPattern(LABEL_KEY, 'a label key like app or example.com/tier'),
  'mac-address': fromPattern(MAC_ADDRESS, 'a MAC address like 00-15-5D-01-02-03 (upper-case hex, dashes)'),
  'env-name': fromPattern(ENV_NAME, 'an environment variable name without "="'),
};

/** The message for `value` failing `format` (ajv-formats' formats get a generic one). */
export function explainFormat(format: string, value: unknown): string {
  const rule = FORMATS[format];
  if (rule && typeof value === 'string') return rule.explain(value);
  if (format === 'hostname') return `must be a host name like web-1 (got ${quote(value)})`;
  return `must match format "${format}" (got ${quote(value)})`;
}

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const INVISIBLE_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const escapeChar = (c: string): string => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`;

/** JSON-quote a value for a message, truncating long strings so one error stays one line. */
export function quote(value: unknown): string {
  // Plain strings are shown as typed (Windows paths keep single backslashes); others as JSON.
  // Invisible and bidi-control characters (U+202E would reverse the rest of the terminal line)
  // are escaped too, so an error message shows what the file really contains.
  const plain = typeof value === 'string' && !/["\u0000-\u001f]/.test(value) && !INVISIBLE.test(value);
  const text = plain ? `"${value}"` : (JSON.stringify(value)?.replace(INVISIBLE_ALL, escapeChar) ?? String(value));
  // Short on purpose: a message may end up in logs and in the unauthenticated /status, and a
  // file's keys or values can be secrets (a link to /etc/shadow, a token pasted in a manifest).
  return text.length > MAX_QUOTE ? `${text.slice(0, MAX_QUOTE - 3)}...` : text;
}

/** Longest quoted excerpt of a key or value in a message (quotes included). */
export const MAX_QUOTE = 64;
