/**
 * Text order for sorting names, ids, files and timestamps: UTF-16 code units, the same on every
 * host. `localeCompare` follows the process locale (an operator's machine and the service account
 * can differ) and pulls ICU's collation data into memory (~2.6 MB resident, measured).
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
