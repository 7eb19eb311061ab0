/**
 * The manifest source's scheduling state, as one explicit value changed only by the pure
 * functions below (source.ts holds it and performs what they decide: arm a timer, scan,
 * publish). Time comes from the one injected clock, passed in as `now`.
 *
 * - A watcher hint (re)starts the settle window (coalescing bursts), never postponing a scan past
 *   maxSettleMs after the first hint of a burst; hints about noisy files postpone nothing.
 * - A scan that found unsettled files asks for a follow-up scan.
 * - Publication is held while some unsettled file is *young* (unstable for less than
 *   `noisyAfterMs`): files written together (a `cp -r`, a git-sync swap) are published together.
 *   A file that keeps changing for longer is *noisy*: it keeps its last-known-good result and no
 *   longer holds the others back, so one file rewritten every 50 ms cannot delay everyone
 *   (issue 12, finding 9). Holding never lasts more than maxSettleMs either way.
 */

/** Settings the scheduling uses. */
export interface ScheduleSettings {
  settleMs: number;
  maxSettleMs: number;
}

/** What the source is doing, as a value. */
export interface ScheduleState {
  /** `starting` until start() is done (the initial scan repeats itself instead of timers). */
  phase: 'starting' | 'running' | 'disposed';
  /** A scan timer is armed (its handle lives in source.ts). */
  timerArmed: boolean;
  /** Clock time of the first hint of the current burst (bounds how long hints may postpone). */
  burstSince?: number;
  /** Clock time since which publication has been held for young unsettled files. */
  heldSince?: number;
  /** From the last scan: some file had not settled, scan again after this many ms. */
  retryInMs?: number;
}

/** The initial state. */
export function initialSchedule(): ScheduleState {
  return { phase: 'starting', timerArmed: false };
}

/**
 * A watcher event: (re)start the settle window, never postponing a scan past maxSettleMs after
 * the first event of a burst. An event about a *noisy* file does not push an armed timer back:
 * one file written every 50 ms used to postpone every scan (finding 9); it only arms a timer
 * when none is armed.
 */
export function onHint(s: ScheduleState, now: number, cfg: ScheduleSettings, fromNoisyFile = false): { state: ScheduleState; delayMs?: number } {
  if (s.phase === 'disposed' || (fromNoisyFile && s.timerArmed)) return { state: s };
  const burstSince = s.burstSince ?? now;
  const delayMs = Math.min(cfg.settleMs, Math.max(0, burstSince + cfg.maxSettleMs - now));
  return { state: { ...s, burstSince, timerArmed: true }, delayMs };
}

/** A follow-up scan is wanted in `ms`: arm a timer unless one is armed (or before start). */
export function onFollowUp(s: ScheduleState, ms: number): { state: ScheduleState; delayMs?: number } {
  if (s.phase !== 'running' || s.timerArmed) return { state: s };
  return { state: { ...s, timerArmed: true }, delayMs: ms };
}

/** The scan timer fired: a scan is requested now. */
export function onTimerFired(s: ScheduleState): ScheduleState {
  return { ...s, timerArmed: false, burstSince: undefined };
}

/** What a scan reported about settling. */
export interface ScanSettling {
  /** Some file had not settled: scan again after this many ms. */
  retryInMs?: number;
  /** Some unsettled file is young (not noisy): publishing now could split a set of files. */
  holdPublish: boolean;
}

/** After a scan: whether to publish it now, and the follow-up wanted. */
export function onScanned(s: ScheduleState, scan: ScanSettling, now: number, cfg: ScheduleSettings): { state: ScheduleState; publish: boolean } {
  const base = { ...s, retryInMs: scan.retryInMs };
  if (!scan.holdPublish) return { state: { ...base, heldSince: undefined }, publish: true };
  const heldSince = s.heldSince ?? now;
  if (now - heldSince < cfg.maxSettleMs) return { state: { ...base, heldSince }, publish: false };
  return { state: { ...base, heldSince: undefined }, publish: true };
}

/** start() is done: timers take over from the initial scan loop. */
export function onStarted(s: ScheduleState): ScheduleState {
  return s.phase === 'starting' ? { ...s, phase: 'running' } : s;
}

/** dispose(): nothing is scheduled any more. */
export function onDisposed(_s: ScheduleState): ScheduleState {
  return { phase: 'disposed', timerArmed: false };
}

/** Whether the initial scan must look again (a file is still being written). */
export function initialScanPending(s: ScheduleState): boolean {
  return s.phase === 'starting' && s.heldSince !== undefined;
}
