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
  ERROR_VMCOMPUTE_OPERATION_PENDING: 0xc0370103, // vmcompute.dll "completing asynchronously" (SDK winerror.h; hcsshim ErrVmcomputeOperationPending)
  ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS: 0xc0370104, // vmcompute.dll: notification queue full (SDK winerror.h)
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
  HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION: 0x80370120, // "not configured to perform the operation" (SDK 22621 winerror.h)
  HCS_E_OPERATION_ALREADY_CANCELLED: 0x80370121, // the operation was already cancelled (SDK 22621 winerror.h)
} as const;

/**
 * The Windows SDK names of the 0xC0370100..0xC0370113 codes vmcompute.dll returns (winerror.h,
 * as golang/sys zerrors_windows.go lists them: `ERROR_VMCOMPUTE_<suffix>`). computecore.dll
 * reports the same conditions as 0x8037xxxx `HCS_E_*` (fidelity audit D19).
 */
const VMCOMPUTE_SUFFIXES: readonly string[] = [
  'TERMINATED_DURING_START', 'IMAGE_MISMATCH', 'HYPERV_NOT_INSTALLED', 'OPERATION_PENDING', 'TOO_MANY_NOTIFICATIONS',
  'INVALID_STATE', 'UNEXPECTED_EXIT', 'TERMINATED', 'CONNECT_FAILED', 'TIMEOUT', 'CONNECTION_CLOSED', 'UNKNOWN_MESSAGE',
  'UNSUPPORTED_PROTOCOL_VERSION', 'INVALID_JSON', 'SYSTEM_NOT_FOUND', 'SYSTEM_ALREADY_EXISTS', 'SYSTEM_ALREADY_STOPPED',
  'PROTOCOL_ERROR', 'INVALID_LAYER', 'WINDOWS_INSIDER_REQUIRED',
];

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

/**
 * The symbolic name: the table's, else the SDK's `ERROR_VMCOMPUTE_*` name for 0xC0370100..0xC0370113,
 * else the `HCS_E_*` name of the 0x8037xxxx twin of another 0xC037xxxx code; undefined if unknown.
 */
export function hresultName(hr: number): string | undefined {
  const u = hr >>> 0;
  const direct = NAMES.get(u);
  if (direct) return direct;
  const low = u & 0xffff;
  if (u >>> 16 === 0xc037 && low >= 0x100 && low - 0x100 < VMCOMPUTE_SUFFIXES.length) {
    return `ERROR_VMCOMPUTE_${VMCOMPUTE_SUFFIXES[low - 0x100]}`;
  }
  if (facility(u) === 0x037) return NAMES.get((0x80370000 | low) >>> 0);
  return undefined;
}

/** The `HCS_E_*` name of the computecore twin of a 0xC037xxxx code, when it differs from {@link hresultName}. */
function computecoreTwin(hr: number): string | undefined {
  const u = hr >>> 0;
  if (u >>> 16 !== 0xc037) return undefined;
  const twin = NAMES.get((0x80370000 | (u & 0xffff)) >>> 0);
  return twin !== undefined && twin !== hresultName(u) ? twin : undefined;
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
    [H.ERROR_NOT_SUPPORTED, H.HCS_E_SYSTEM_NOT_CONFIGURED_FOR_OPERATION, H.HCS_E_HYPERV_NOT_INSTALLED, H.HCS_E_WINDOWS_INSIDER_REQUIRED, H.HCS_E_UNKNOWN_MESSAGE,
      H.HCS_E_UNSUPPORTED_PROTOCOL_VERSION, H.ERROR_INVALID_DATA, H.E_NOTIMPL],
  ],
  [
    'transient',
    [H.HCS_E_UNEXPECTED_EXIT, H.HCS_E_TERMINATED_DURING_START, H.HCS_E_TERMINATED, H.HCS_E_OPERATION_PENDING,
      H.ERROR_VMCOMPUTE_OPERATION_PENDING, H.ERROR_VMCOMPUTE_TOO_MANY_NOTIFICATIONS, H.HCS_E_OPERATION_ALREADY_CANCELLED, H.E_ABORT, H.HCS_E_GUEST_CRITICAL_ERROR, H.E_OUTOFMEMORY],
  ],
];

/** Kinds where retrying the same call cannot help. */
const PERMANENT_KINDS: ReadonlySet<HcsFailureKind> = new Set(['invalidConfig', 'notSupported', 'accessDenied']);

/** Ops whose E_ACCESSDENIED means "this caller may not do this": create and open (audit D10). */
const ACCESS_CHECKED_OPS: ReadonlySet<string> = new Set(['create', 'open']);

/**
 * Whether retrying cannot help, from the kind plus where the code came from (hcsshim's reading):
 *  - `HCS_E_ACCESS_DENIED` (the privilege check) is always permanent; plain `E_ACCESSDENIED` only
 *    from create/open. Elsewhere it is transient: hcsshim errors.go "can be encountered when
 *    enumerating compute systems in RS1/RS2 builds when the underlying silo might be in the process
 *    of terminating", and property queries on a Created container returned it (hcsshim PR #933).
 *  - `E_INVALIDARG` in an operation *result* is not permanent: WS2022 HcsCreateProcess can leave the
 *    operation spuriously failing with it although a valid process was created (hcsshim
 *    internal/hcs/v2/system.go, audit D6). From the call itself (a bad argument) it is.
 */
function isPermanent(kind: HcsFailureKind, hresult: number, op: string, fromResult: boolean): boolean {
  if (!PERMANENT_KINDS.has(kind)) return false;
  if (kind === 'accessDenied') return sameCode(hresult, H.HCS_E_ACCESS_DENIED) || ACCESS_CHECKED_OPS.has(op);
  if (fromResult && sameCode(hresult, H.E_INVALIDARG)) return false;
  return true;
}

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
  /** True when the code is the operation's *result*, not the return value of the call that started it. */
  fromResult?: boolean;
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
/** E_ACCESSDENIED from create is also what a VM disk without HcsGrantVmAccess produces (audit D3). */
const DISK_HINT = 'or a disk/folder the system uses was not granted to its VM account (HcsGrantVmAccess)';

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
  /** Symbolic name such as `HCS_E_INVALID_STATE` or `ERROR_VMCOMPUTE_OPERATION_PENDING`, or undefined if unknown. */
  readonly code?: string;
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
    const twin = computecoreTwin(hresult);
    const hex = twin ? `${formatHresult(hresult)} = ${twin}` : formatHresult(hresult);
    const what = code ? `${code} (${hex})` : `HRESULT ${hex}`;
    const target = init.systemId ? ` ${init.systemId}` : '';
    let message = `hcs ${init.op}${target}: ${what}`;
    if (errorMessage) message += `: ${errorMessage}`;
    if (kind === 'accessDenied' && process.platform === 'win32') {
      message += init.op === 'create' ? ` (${ACCESS_HINT}, ${DISK_HINT})` : ` (${ACCESS_HINT})`;
    }
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.op = init.op;
    this.systemId = init.systemId;
    this.hresult = hresult;
    this.code = code;
    this.resultDocument = init.resultDocument ?? undefined;
    this.errorMessage = errorMessage;
    this.kind = kind;
    this.permanent = isPermanent(kind, hresult, init.op, init.fromResult === true);
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

/**
 * A process that is gone, as hcsshim reads HcsTerminateProcess/HcsSignalProcess failures
 * (internal/hcs/v2/process.go, errors.go IsAlreadyStopped): HCS_E_PROCESS_ALREADY_STOPPED,
 * ERROR_NOT_FOUND (0x490), and ERROR_ACCESS_DENIED (5), which terminate returns after the
 * process exited ("safe to ignore"). Only for process operations (audit D9).
 */
export function isProcessGone(err: unknown): boolean {
  const hr = hresultOf(err);
  return hr !== undefined && (isAlreadyStopped(hr) || isNotFound(hr) || sameCode(hr, H.E_ACCESSDENIED));
}

/** Wraps exactly once: an HcsError is returned unchanged, anything else becomes one. */
export function toHcsError(err: unknown, init: Omit<HcsErrorInit, 'hresult' | 'cause'>): HcsError {
  if (err instanceof HcsError) return err;
  const hr = hresultOf(err) ?? H.E_FAIL;
  return new HcsError({ ...init, hresult: hr, cause: err });
}
