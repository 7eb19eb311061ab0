/**
 * Named timeouts per HCS operation type (ms). Overridable as a whole by the composition root.
 * Defaults are generous: HCS calls on a loaded host can take tens of seconds (hcsshim uses
 * minutes for create/start), and a timeout that fires early leaves an operation running in HCS.
 */
export interface OperationTimeouts {
  enumerate: number;
  create: number;
  start: number;
  terminate: number;
  pause: number;
  resume: number;
  properties: number;
  process: number;
}

/** Default timeouts; shutdown uses each manifest's `stopTimeout` instead. */
export const DEFAULT_TIMEOUTS: OperationTimeouts = {
  // Short: a hung enumerate freezes every pass; status then says HCS is not answering.
  enumerate: 10_000,
  create: 240_000,
  start: 240_000,
  terminate: 60_000,
  pause: 60_000,
  resume: 60_000,
  properties: 30_000,
  process: 60_000,
};
