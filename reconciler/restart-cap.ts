/**
 * A hard cap on restarts per system per minute, whatever the backoff settings say. The schema
 * puts a floor under `backoff` (1 s), but the cap does not rely on it: an entrypoint that exits
 * after 1 ms with a zero backoff once gave 1707 restarts and 5124 passes in 8 s at 80% CPU.
 * A system over the cap is *parked*: recorded as failed for its config hash (so status shows
 * why and it is not restarted until its manifest changes).
 *
 * Pure functions over a small record per system; the controller keeps one map of them.
 */

/** Most restarts of one system within {@link RESTART_WINDOW_MS}. */
export const RESTART_CAP = 10;
/** The window of the cap. */
export const RESTART_WINDOW_MS = 60_000;

/** Recent restarts of one system (for one config hash). */
export interface RestartWindow {
  hash: string;
  /** Clock times of the restarts still inside the window, oldest first. */
  at: number[];
}

/** The outcome of counting one restart. */
export interface CapDecision {
  window: RestartWindow;
  /** Set when this restart goes over the cap: the message to park the system with. */
  parked?: string;
}

/** Counts a restart at `now` for config `hash`; over the cap, says why the system is parked. */
export function countRestart(prev: RestartWindow | undefined, hash: string, now: number, cap = RESTART_CAP, windowMs = RESTART_WINDOW_MS): CapDecision {
  const kept = prev && prev.hash === hash ? prev.at.filter((t) => now - t < windowMs) : [];
  const window = { hash, at: [...kept, now] };
  if (window.at.length <= cap) return { window };
  const secs = Math.round(windowMs / 1000);
  return {
    window,
    parked: `parked: exited ${window.at.length} times within ${secs}s (at most ${cap} restarts per ${secs}s, whatever the backoff); not restarted until its manifest changes`,
  };
}
