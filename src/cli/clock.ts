/** The real clock for the controller (tests inject xstate's SimulatedClock instead). */
import type { Clock } from '../../reconciler/ports.ts';

/** Wall-clock time and Node's timers. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};
