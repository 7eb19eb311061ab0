/**
 * HRESULTs the emulated compute service returns. Values are the unsigned 0x8037xxxx forms that
 * computecore.dll returns (hcs-api.md §0.3). The binding in src/hcs keeps its own, fuller table.
 */
export const HR = {
  /** Success. */
  S_OK: 0,
  /** E_UNEXPECTED; an op handler threw (an emulator bug, logged). Win32 standard, not from hcs-api.md. */
  E_UNEXPECTED: 0x8000ffff,
  /** ERROR_INVALID_HANDLE as HRESULT; "operation on a closed handle" (hcs-api.md §4, hcsshim ErrInvalidHandle). */
  E_HANDLE: 0x80070006,
  /** E_ACCESSDENIED; a VM disk not granted with HcsGrantVmAccess (audit D3, reported at Start: UNVERIFIED). */
  E_ACCESSDENIED: 0x80070005,
  /** E_INVALIDARG; invalid compute system id or protocol misuse (emulator choice, hcs-api.md has no source). */
  E_INVALIDARG: 0x80070057,
  /** ERROR_NOT_SUPPORTED as HRESULT; pause of a process-isolated container (hcs-api.md §0.6, value UNVERIFIED). */
  ERROR_NOT_SUPPORTED: 0x80070032,
  /** ERROR_NOT_FOUND as HRESULT; OpenProcess with an unknown pid (hcs-api.md §4, hcsshim ErrElementNotFound). */
  ERROR_NOT_FOUND: 0x80070490,
  /** The operation is not valid in the system's current state (hcs-api.md §4 table). */
  HCS_E_INVALID_STATE: 0x80370105,
  /** "The virtual machine or container exited unexpectedly" (hcs-api.md §4 table). */
  HCS_E_UNEXPECTED_EXIT: 0x80370106,
  /** Unknown message; used for an unknown op code (hcs-api.md §4 table). */
  HCS_E_UNKNOWN_MESSAGE: 0x8037010b,
  /** Invalid JSON document (hcs-api.md §4 table). */
  HCS_E_INVALID_JSON: 0x8037010d,
  /** No compute system with that id (hcs-api.md §4 table). */
  HCS_E_SYSTEM_NOT_FOUND: 0x8037010e,
  /** A compute system with that id already exists (hcs-api.md §4 table). */
  HCS_E_SYSTEM_ALREADY_EXISTS: 0x8037010f,
  /** "is not running"; duplicate shutdown/terminate (hcs-api.md §1.2, §4 table). */
  HCS_E_SYSTEM_ALREADY_STOPPED: 0x80370110,
  /** The operation timed out (hcs-api.md §1.2, §4 table). */
  HCS_E_OPERATION_TIMEOUT: 0x80370118,
  /** The process has already exited (hcs-api.md §4 table). */
  HCS_E_PROCESS_ALREADY_STOPPED: 0x8037011f,
} as const;

/** A name in the HR table. */
export type HResultName = keyof typeof HR;

/** Formats an HRESULT as `0x80370105`. */
export function formatHResult(hr: number): string {
  return `0x${(hr >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** True for a failure HRESULT (severity bit set). */
export function failed(hr: number): boolean {
  return (hr >>> 0) >= 0x80000000;
}

/** The ResultError document HCS attaches to failures: `{Error, ErrorMessage}` with Error as int32. */
export function resultError(hr: number, message: string): string {
  return JSON.stringify({ Error: hr | 0, ErrorMessage: message });
}

/**
 * Every documented HCS HRESULT (hcs-api.md §4, [MSDOCS] HCSHResult.md) plus the Win32 ones above,
 * by name. Only used to turn symbolic names into numbers (CLI, control commands).
 */
export const KNOWN_HRESULTS: Readonly<Record<string, number>> = {
  ...HR,
  E_FAIL: 0x80004005,
  HCS_E_TERMINATED_DURING_START: 0x80370100,
  HCS_E_IMAGE_MISMATCH: 0x80370101,
  HCS_E_HYPERV_NOT_INSTALLED: 0x80370102,
  HCS_E_TERMINATED: 0x80370107,
  HCS_E_CONNECT_FAILED: 0x80370108,
  HCS_E_CONNECTION_TIMEOUT: 0x80370109,
  HCS_E_CONNECTION_CLOSED: 0x8037010a,
  HCS_E_UNSUPPORTED_PROTOCOL_VERSION: 0x8037010c,
  HCS_E_PROTOCOL_ERROR: 0x80370111,
  HCS_E_INVALID_LAYER: 0x80370112,
  HCS_E_WINDOWS_INSIDER_REQUIRED: 0x80370113,
  HCS_E_SERVICE_NOT_AVAILABLE: 0x80370114,
  HCS_E_OPERATION_NOT_STARTED: 0x80370115,
  HCS_E_OPERATION_ALREADY_STARTED: 0x80370116,
  HCS_E_OPERATION_PENDING: 0x80370117,
  HCS_E_OPERATION_SYSTEM_CALLBACK_ALREADY_SET: 0x80370119,
  HCS_E_OPERATION_RESULT_ALLOCATION_FAILED: 0x8037011a,
  HCS_E_ACCESS_DENIED: 0x8037011b,
  HCS_E_GUEST_CRITICAL_ERROR: 0x8037011c,
  HCS_E_PROCESS_INFO_NOT_AVAILABLE: 0x8037011d,
  HCS_E_SERVICE_DISCONNECT: 0x8037011e,
};

/**
 * Converts `0x80370105`, `2150039813`, `-2144927483` or a symbolic name (`HCS_E_INVALID_STATE`,
 * case-insensitive) to an unsigned HRESULT. Throws on anything else.
 */
export function parseHResult(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < -0x80000000 || value > 0xffffffff) throw new Error(`not an HRESULT: ${value}`);
    return value >>> 0;
  }
  const text = value.trim();
  if (/^0x[0-9a-f]{1,8}$/i.test(text)) return Number.parseInt(text.slice(2), 16) >>> 0;
  if (/^-?\d+$/.test(text)) return parseHResult(Number(text));
  const upper = text.toUpperCase();
  const found = Object.entries(KNOWN_HRESULTS).find(([name]) => name.toUpperCase() === upper);
  if (!found) throw new Error(`unknown HRESULT name: ${value}`);
  return found[1] >>> 0;
}
