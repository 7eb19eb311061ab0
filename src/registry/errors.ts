/**
 * Registry errors: one class, classified by `kind`; callers use the predicates, never string matching.
 * `permanent` says whether retrying the same pull can help (a wrong digest or platform cannot).
 */

/** What went wrong, for classification and for the manifest status. */
export type RegistryErrorKind =
  | 'reference' // the reference text is malformed
  | 'auth' // 401/403 after the challenge was answered
  | 'not-found' // 404 for the manifest or a blob (MANIFEST_UNKNOWN, BLOB_UNKNOWN, NAME_UNKNOWN)
  | 'digest' // content does not hash to its digest (manifest, config, blob or diff_id)
  | 'platform' // no manifest for this host's os/architecture/os.version
  | 'insecure' // plain HTTP to a host that is neither loopback nor --insecure-registry
  | 'protocol' // unexpected status, content type, size or JSON shape
  | 'network'; // connection errors, resets, truncated bodies, timeouts

const PERMANENT: ReadonlySet<RegistryErrorKind> = new Set(['reference', 'digest', 'platform', 'insecure']);

/** An error from the registry client; `message` is one line and carries the registry's own error text. */
export class RegistryError extends Error {
  readonly kind: RegistryErrorKind;
  /** HTTP status when the registry answered, else undefined. */
  readonly status: number | undefined;
  constructor(kind: RegistryErrorKind, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'RegistryError';
    this.kind = kind;
    this.status = opts.status;
  }
  /** True when a retry of the same request cannot succeed. */
  get permanent(): boolean {
    return PERMANENT.has(this.kind);
  }
}

/** The content did not match its digest. */
export const isDigestMismatch = (e: unknown): boolean => e instanceof RegistryError && e.kind === 'digest';
/** The manifest, repository or blob does not exist. */
export const isNotFound = (e: unknown): boolean => e instanceof RegistryError && e.kind === 'not-found';
/** No image for this host platform. */
export const isPlatformMismatch = (e: unknown): boolean => e instanceof RegistryError && e.kind === 'platform';
/** Credentials missing or refused. */
export const isUnauthorized = (e: unknown): boolean => e instanceof RegistryError && e.kind === 'auth';
/** A transient failure worth a retry with backoff. */
export const isRetryable = (e: unknown): boolean => e instanceof RegistryError && !e.permanent && e.kind !== 'auth';

/**
 * The one-line text of a distribution-spec error body `{"errors":[{"code","message","detail"}]}`,
 * or the start of the body when it is not that shape.
 */
export function registryErrorText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
      return parsed.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
    }
  } catch {
    // not JSON: fall through
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, 200);
}
