/**
 * Restart backoff, kubelet's curve by default: the first restart is immediate, then 10 s doubling
 * up to 5 min; a system that ran for 10 min without exiting starts again from zero.
 */
import type { BackoffPolicy } from './ports.ts';

/** kubelet's defaults (pkg/kubelet: initial 10 s, max 300 s, reset after 2 × max). */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  resetAfterMs: 600_000,
};

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

/** Format a delay for causes and status (`40s`, `5m`, `1m30s`). */
export function formatDelay(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  return rest === 0 ? `${m}m` : `${m}m${rest}s`;
}
