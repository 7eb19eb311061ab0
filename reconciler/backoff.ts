/**
 * Restart backoff, kubelet's curve by default: the first restart is immediate, then 10 s doubling
 * up to 5 min; a system that ran for 10 min without exiting starts again from zero. This is the
 * one backoff rule of the controller: runtime.ts applies it to exits and to failed steps, and the
 * planner is the only place that enforces the window (a wait node with reason `backoff`).
 */
import type { BackoffPolicy } from './ports.ts';

/** kubelet's defaults (pkg/kubelet: initial 10 s, max 300 s, reset after 2 × max). */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  resetAfterMs: 600_000,
};

/** A failed HCS call is never retried sooner than this (an immediate retry would hot-loop). */
export const RETRY_FLOOR_MS = 1000;

/**
 * Delay before restart number `restart` (1-based): 0 for the first, then initial × 2^(n-2),
 * capped at max.
 */
export function backoffDelay(restart: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (restart <= 1) return 0;
  const exp = Math.min(restart - 2, 30);
  return Math.min(policy.initialMs * 2 ** exp, policy.maxMs);
}

/** Whether a run that lasted `ranMs` is long enough to forget earlier restarts. */
export function shouldResetBackoff(ranMs: number, policy: BackoffPolicy = DEFAULT_BACKOFF): boolean {
  return ranMs >= policy.resetAfterMs;
}

/**
 * The rule: after `restarts` earlier restarts, the next one is number `restarts + 1` (counted from
 * zero again when the run lasted `ranMs` >= resetAfter) and waits `backoffDelay`, at least `floorMs`.
 */
export function nextRetryAt(
  restarts: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  at: { at: number; ranMs?: number; floorMs?: number },
): { restarts: number; nextRetryAt: number } {
  const base = at.ranMs !== undefined && shouldResetBackoff(at.ranMs, policy) ? 0 : restarts;
  const next = base + 1;
  return { restarts: next, nextRetryAt: at.at + Math.max(backoffDelay(next, policy), at.floorMs ?? 0) };
}

/** Format a delay for causes and status (`40s`, `5m`, `1m30s`). */
export function formatDelay(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return rest === 0 ? `${m}m` : `${m}m${rest}s`;
}
