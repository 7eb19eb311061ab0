/**
 * HRESULTs, the HcsError class and the predicates that classify HCS failures.
 *
 * HCS reports the same condition in two severities: computecore.dll returns 0x8037xxxx, the older
 * vmcompute paths 0xC037xxxx (hcs-api.md §0.3). Predicates therefore compare facility 0x037 plus
 * the low 16 bits; Win32-facility codes also match their bare Win32 value (hcsshim strips them).
 * Callers classify with predicates or `kind`, never by comparing codes.
 */
import type { HcsFailure, HcsFailureKind } from '../../reconciler/ports.ts';

/** Named HRESULTs (unsigned form). Sources: hcs-api.md §4 ([MSDOCS] HCSHResult.md, hcsshim errors.go). */
export const HRESULTS = {
  S_OK: 0x00000000, // success
  E_NOTIMPL: 0x80004001, // not implemented (HcsCancelOperation, per the docs)
  E_POINTER: 0x80004003, // a required out-pointer was NULL
  E_ABORT: 0x80004004, // the caller aborted the call (AbortSignal)
  E_FAIL: 0x80004005, // unspecified failure
  E_ACCESSDENIED: 0x80070005, // Win32 ERROR_ACCESS_DENIED: not Administrator / Hyper-V Administrators
  E_HANDLE: 0x80070006, // Win32 ERROR_INVALID_HANDLE: closed handle, or invalidated by a service disconnect
  ERROR_INVALID_DATA: 0x8007000d, // Win32 ERROR_INVALID_DATA (hcsshim IsNotSupported)
  E_OUTOFMEMORY: 0x8007000e, // allocation failed
  ERROR_NOT_SUPPORTED: 0x80070032, // Win32 ERROR_NOT_SUPPORTED, e.g. pausing a process-isolated container
  E_INVALIDARG: 0x80070057, // an argument was missing or malformed
  ERROR_NOT_FOUND: 0x80070490, // Win32 ERROR_NOT_FOUND (hcsshim IsNotExist / IsAlreadyStopped)
  RPC_S_SERVER_UNAVAILABLE: 0x800706ba, // no compute service, or the connection to it dropped
  HCS_E_TERMINATED_DURING_START: 0x80370100, // the system exited while starting
  HCS_E_IMAGE_MISMATCH: 0x80370101, // container image does not match the host OS
  HCS_E_HYPERV_NOT_INSTALLED: 0x80370102, // the Hyper-V feature is not installed
  HCS_E_OPERATION_PENDING_LEGACY: 0xc0370103, // vmcompute "completing asynchronously" (not in the docs table)
  HCS_E_INVALID_STATE: 0x80370105, // call not valid in the system's current state
  HCS_E_UNEXPECTED_EXIT: 0x80370106, // the system exited unexpectedly
  HCS_E_TERMINATED: 0x80370107, // the system was forcefully terminated
  HCS_E_CONNECT_FAILED: 0x80370108, // could not connect to the guest
  HCS_E_CONNECTION_TIMEOUT: 0x80370109, // connecting to the guest timed out
  HCS_E_CONNECTION_CLOSED: 0x8037010a, // the guest connection closed
  HCS_E_UNKNOWN_MESSAGE: 0x8037010b, // the request was not understood
  HCS_E_UNSUPPORTED_PROTOCOL_VERSION: 0x8037010c, // protocol version not supported
  HCS_E_INVALID_JSON: 0x8037010d, // a JSON document was invalid
  HCS_E_SYSTEM_NOT_FOUND: 0x8037010e, // no compute system with that id
  HCS_E_SYSTEM_ALREADY_EXISTS: 0x8037010f, // a compute system with that id exists
  HCS_E_SYSTEM_ALREADY_STOPPED: 0x80370110, // the system is not running (duplicate shutdown/terminate)
  HCS_E_PROTOCOL_ERROR: 0x80370111, // protocol error with the guest
  HCS_E_INVALID_LAYER: 0x80370112, // a container layer is invalid
  HCS_E_WINDOWS_INSIDER_REQUIRED: 0x80370113, // the feature needs an Insider build
  HCS_E_SERVICE_NOT_AVAILABLE: 0x80370114, // the compute service is not available
  HCS_E_OPERATION_NOT_STARTED: 0x80370115, // the operation handle was not used in a call yet
  HCS_E_OPERATION_ALREADY_STARTED: 0x80370116, // the operation handle is still in use
  HCS_E_OPERATION_PENDING: 0x80370117, // the operation has not completed yet
  HCS_E_OPERATION_TIMEOUT: 0x80370118, // waiting for the operation timed out
  HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET: 0x80370119, // system has operation callbacks enabled
  HCS_E_OPERATION_RESULT_ALLOCATION_FAILED: 0x8037011a, // the result document could not be allocated
  HCS_E_ACCESS_DENIED: 0x8037011b, // caller is not Administrator / Hyper-V Administrators
  HCS_E_GUEST_CRITICAL_ERROR: 0x8037011c, // the guest reported a critical error
  HCS_E_PROCESS_INFO_NOT_AVAILABLE: 0x8037011d, // process information is not available
  HCS_E_SERVICE_DISCONNECT: 0x8037011e, // the client lost its connection to the service
  HCS_E_PROCESS_ALREADY_STOPPED: 0x8037011f, // the process has already exited
} as const;

/** A symbolic HRESULT name. */
export type HresultName = keyof typeof HRESULTS;

const H = HRESULTS;
const NAMES = new Map<number, HresultName>(
  (Object.entries(HRESULTS) as [HresultName, number][]).map(([name, value]) => [value, name]),
);

/** `0x80370105` (upper-case hex, 8 digits). */
export function formatHresult(hr: number): string {
  return `0x${(hr >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** True when the HRESULT has the failure bit set. */
export function failed(hr: number): boolean {
  return hr < 0 || hr >>> 0 >= 0x80000000;
}

/** The symbolic name, accepting the 0xC037xxxx form for HCS codes; undefined if unknown. */
export function hresultName(hr: number): HresultName | undefined {
  const u = hr >>> 0;
  const direct = NAMES.get(u);
  if (direct) return direct;
  if (facility(u) === 0x037) return NAMES.get((0x80370000 | (u & 0xffff)) >>> 0);
  return undefined;
}

function facility(hr: number): number {
  return (hr >>> 16) & 0x7ff;
}

/** Same condition: equal, or both HCS facility with equal low bits, or a Win32 HRESULT vs its bare code. */
function sameCode(hr: number, code: number): boolean {
  const a = hr >>> 0;
  const b = code >>> 0;
  if (a === b) return true;
  if (facility(b) === 0x037) return facility(a) === 0x037 && failed(a) && (a & 0xffff) === (b & 0xffff);
  if (facility(b) === 7) return a === (b & 0xffff); // bare Win32 code, as hcsshim reports it
  return false;
}

/** Which codes make up each kind (first match wins). */
const KIND_CODES: ReadonlyArray<[HcsFailureKind, readonly number[]]> = [
  ['notFound', [H.HCS_E_SYSTEM_NOT_FOUND, H.ERROR_NOT_FOUND]],
  ['alreadyExists', [H.HCS_E_SYSTEM_ALREADY_EXISTS]],
  ['alreadyStopped', [H.HCS_E_SYSTEM_ALREADY_STOPPED, H.HCS_E_PROCESS_ALREADY_STOPPED]],
  ['invalidState', [H.HCS_E_INVALID_STATE]],
  ['accessDenied', [H.HCS_E_ACCESS_DENIED, H.E_ACCESSDENIED]],
  ['timeout', [H.HCS_E_OPERATION_TIMEOUT, H.HCS_E_CONNECTION_TIMEOUT]],
  [
    'disconnected',
    [H.RPC_S_SERVER_UNAVAILABLE, H.HCS_E_SERVICE_DISCONNECT, H.HCS_E_SERVICE_NOT_AVAILABLE, H.E_HANDLE,
      H.HCS_E_CONNECTION_CLOSED, H.HCS_E_CONNECT_FAILED],
  ],
  ['invalidConfig', [H.HCS_E_INVALID_JSON, H.HCS_E_INVALID_LAYER, H.HCS_E_IMAGE_MISMATCH, H.E_INVALIDARG]],
  [
    'notSupported',
    [H.ERROR_NOT_SUPPORTED, H.HCS_E_HYPERV_NOT_INSTALLED, H.HCS_E_WINDOWS_INSIDER_REQUIRED, H.HCS_E_UNKNOWN_MESSAGE,
      H.HCS_E_UNSUPPORTED_PROTOCOL_VERSION, H.ERROR_INVALID_DATA, H.E_NOTIMPL],
  ],
  [
    'transient',
    [H.HCS_E_UNEXPECTED_EXIT, H.HCS_E_TERMINATED_DURING_START, H.HCS_E_TERMINATED, H.HCS_E_OPERATION_PENDING,
      H.HCS_E_OPERATION_PENDING_LEGACY, H.E_ABORT, H.HCS_E_GUEST_CRITICAL_ERROR, H.E_OUTOFMEMORY],
  ],
];

/** Kinds where retrying the same call cannot help. */
const PERMANENT_KINDS: ReadonlySet<HcsFailureKind> = new Set(['invalidConfig', 'notSupported', 'accessDenied']);

/** Classifies an HRESULT into the kind the reconciler core reads. */
export function classifyHresult(hr: number): HcsFailureKind {
  for (const [kind, codes] of KIND_CODES) if (codes.some((c) => sameCode(hr, c))) return kind;
  return 'unknown';
}

/** What to pass to {@link HcsError}. */
export interface HcsErrorInit {
  /** Short operation name: `start`, `create`, `enumerate`, `process.terminate`, ... */
  op: string;
  systemId?: string;
  hresult: number;
  /** The operation's result document (a ResultError JSON on failure), if any. */
  resultDocument?: string | null;
  cause?: unknown;
}

/** The `ErrorMessage` of a ResultError document, if the document is one. */
function errorMessageOf(doc: string | null | undefined): string | undefined {
  if (!doc) return undefined;
  try {
    const parsed: unknown = JSON.parse(doc);
    const msg = (parsed as { ErrorMessage?: unknown } | null)?.ErrorMessage;
    return typeof msg === 'string' && msg !== '' ? msg : undefined;
  } catch {
    return undefined;
  }
}

const ACCESS_HINT =
  'HCS requires running as Administrator or as a member of the "Hyper-V Administrators" group';

/**
 * A failed HCS call. Message format: `hcs start web: HCS_E_INVALID_STATE (0x80370105)`, followed by
 * `: <ErrorMessage>` from the result document when it has one.
 */
export class HcsError extends Error implements HcsFailure {
  override readonly name = 'HcsError';
  readonly op: string;
  readonly systemId?: string;
  /** Unsigned HRESULT (e.g. 0x80370105). */
  readonly hresult: number;
  /** Symbolic name such as `HCS_E_INVALID_STATE`, or undefined if unknown. */
  readonly code?: HresultName;
  readonly resultDocument?: string;
  /** The `ErrorMessage` HCS put in the result document. */
  readonly errorMessage?: string;
  readonly kind: HcsFailureKind;
  readonly permanent: boolean;

  constructor(init: HcsErrorInit) {
    const hresult = init.hresult >>> 0;
    const code = hresultName(hresult);
    const kind = classifyHresult(hresult);
    const errorMessage = errorMessageOf(init.resultDocument);
    const what = code ? `${code} (${formatHresult(hresult)})` : `HRESULT ${formatHresult(hresult)}`;
    const target = init.systemId ? ` ${init.systemId}` : '';
    let message = `hcs ${init.op}${target}: ${what}`;
    if (errorMessage) message += `: ${errorMessage}`;
    if (kind === 'accessDenied' && process.platform === 'win32') message += ` (${ACCESS_HINT})`;
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.op = init.op;
    this.systemId = init.systemId;
    this.hresult = hresult;
    this.code = code;
    this.resultDocument = init.resultDocument ?? undefined;
    this.errorMessage = errorMessage;
    this.kind = kind;
    this.permanent = PERMANENT_KINDS.has(kind);
  }
}

/** The HRESULT of an error (HcsError or anything with a numeric `hresult`), or of a bare number. */
function hresultOf(err: unknown): number | undefined {
  if (typeof err === 'number') return err;
  const hr = (err as { hresult?: unknown } | null | undefined)?.hresult;
  return typeof hr === 'number' ? hr : undefined;
}

function isKind(err: unknown, kind: HcsFailureKind): boolean {
  const hr = hresultOf(err);
  return hr !== undefined && classifyHresult(hr) === kind;
}

/** No such compute system / process (HCS_E_SYSTEM_NOT_FOUND, ERROR_NOT_FOUND). Accepts an error or an HRESULT. */
export const isNotFound = (err: unknown): boolean => isKind(err, 'notFound');
/** Already stopped (HCS_E_SYSTEM_ALREADY_STOPPED, HCS_E_PROCESS_ALREADY_STOPPED). */
export const isAlreadyStopped = (err: unknown): boolean => isKind(err, 'alreadyStopped');
/** A system with that id exists (HCS_E_SYSTEM_ALREADY_EXISTS). */
export const isAlreadyExists = (err: unknown): boolean => isKind(err, 'alreadyExists');
/** Not valid in the current state (HCS_E_INVALID_STATE). */
export const isInvalidState = (err: unknown): boolean => isKind(err, 'invalidState');
/** Not Administrator / Hyper-V Administrators (HCS_E_ACCESS_DENIED, E_ACCESSDENIED). */
export const isAccessDenied = (err: unknown): boolean => isKind(err, 'accessDenied');
/** Timed out (HCS_E_OPERATION_TIMEOUT, or our own timeoutMs). */
export const isTimeout = (err: unknown): boolean => isKind(err, 'timeout');
/** Lost the compute service or the handle became invalid (RPC_S_SERVER_UNAVAILABLE, E_HANDLE, ...). */
export const isDisconnected = (err: unknown): boolean => isKind(err, 'disconnected');
/** The document was rejected (HCS_E_INVALID_JSON, HCS_E_INVALID_LAYER, E_INVALIDARG, ...). */
export const isInvalidConfig = (err: unknown): boolean => isKind(err, 'invalidConfig');
/** Not supported here (ERROR_NOT_SUPPORTED, HCS_E_HYPERV_NOT_INSTALLED, ...). */
export const isNotSupported = (err: unknown): boolean => isKind(err, 'notSupported');

/** Wraps exactly once: an HcsError is returned unchanged, anything else becomes one. */
export function toHcsError(err: unknown, init: Omit<HcsErrorInit, 'hresult' | 'cause'>): HcsError {
  if (err instanceof HcsError) return err;
  const hr = hresultOf(err) ?? H.E_FAIL;
  return new HcsError({ ...init, hresult: hr, cause: err });
}
