/**
 * How a failed enumerate is shown. A timeout means HCS is not answering (a hung service, or
 * a host too loaded to list its systems): status says so in those words, because the rows it
 * still shows are the last ones seen, not current ones (issue 12, finding 11).
 */
import type { HcsFailure } from './ports.ts';

/** The status text of an enumerate failure. */
export function describeListError(err: unknown, timeoutMs: number): string {
  const message = err instanceof Error ? err.message : String(err);
  if ((err as Partial<HcsFailure> | undefined)?.kind === 'timeout') {
    return `HCS is not answering: enumerate timed out after ${timeoutMs >= 1000 ? `${Math.round(timeoutMs / 1000)}s` : `${timeoutMs}ms`}; the systems shown are the last ones seen (${message})`;
  }
  return message;
}

/**
 * The error of a list that found every HCS slot taken by calls that have not returned for the
 * whole enumerate timeout: shown like an enumerate timeout, because HCS is not answering either way.
 */
export function slotWaitTimeout(timeoutMs: number): HcsFailure {
  const err = new Error(`enumerate waited ${timeoutMs} ms for a free HCS slot: every slot is held by a call that has not returned`);
  return Object.assign(err, { op: 'enumerate', hresult: 0, kind: 'timeout' as const, permanent: false });
}
