/**
 * Durations as users write them in manifests: `500ms`, `30s`, `5m`, `1h30m`, `2h`.
 *
 * Units must appear largest first and at most once (`1h30m`, not `30m1h` or `1m1m`), so every
 * duration has one spelling and a typo like `5mm` is an error instead of a surprise.
 */

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
const DURATION_PATTERN = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Longest duration accepted (about 24 days): keeps timers inside setTimeout's 32-bit range. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/** Parse `30s`, `5m`, `1h30m`, `500ms` into milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  if (!m || text === '') return undefined;
  const [, h, min, s, ms] = m;
  const total =
    Number(h ?? 0) * UNIT_MS.h + Number(min ?? 0) * UNIT_MS.m + Number(s ?? 0) * UNIT_MS.s + Number(ms ?? 0);
  return Number.isSafeInteger(total) && total <= MAX_DURATION_MS ? total : undefined;
}
