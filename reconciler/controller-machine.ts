/**
 * The controller machine: idle → passing (list HCS, then plan) → applying → idle. Triggers: a
 * snapshot or HCS event (`reconcile`), a system actor that settled, and the periodic resync
 * (`after`). Triggers that arrive while a pass runs set `dirty`, so a burst of them costs one
 * extra pass, not one each. Its dependencies (the pass, dispatch, the wake delays) come in through
 * `.provide()` (see controller.ts), so it can be tested alone.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { PlanNode } from './graph.ts';
import type { ObservedState } from './observed.ts';
import type { Plan } from './plan.ts';
import type { SystemSettledEvent } from './system-machine.ts';

/** What one pass produced: the observation and the plan made from it. */
export interface PassResult {
  observed: ObservedState;
  plan: Plan;
}

interface ControllerContext {
  result?: PassResult;
  dirty: boolean;
  passes: number;
}

/** Events the controller machine accepts. */
export type ControllerEvent = { type: 'reconcile' } | { type: 'snapshot' } | SystemSettledEvent;

/** The controller machine; provide `pass`, `dispatch`, `passDone`, `listFailed`, `wake` and `listRetry`. */
export const controllerMachine = setup({
  types: {
    context: {} as ControllerContext,
    events: {} as ControllerEvent,
  },
  actors: {
    /** Enumerate HCS (ours only), adopt, detect missed exits, then plan. */
    pass: fromPromise<PassResult>(async () => {
      throw new Error('controller machine: pass was not provided');
    }),
  },
  actions: {
    /** Hand each name's nodes to its system actor (names with only waits are skipped). */
    dispatch: (_args, _params: { plan: Plan }) => {},
    /** A pass completed with this result. */
    passDone: (_args, _params: PassResult) => {},
    /** The listing failed. */
    listFailed: (_args, _params: { error: unknown }) => {},
  },
  delays: {
    /** Delay until the next pass when nothing happens: the resync period, or sooner when a backoff ends. */
    wake: 30_000,
    listRetry: 2_000,
  },
  guards: {
    dirty: ({ context }) => context.dirty,
  },
}).createMachine({
  id: 'controller',
  context: { dirty: false, passes: 0 },
  // Nothing is planned before the first snapshot: with an empty desired state the first pass
  // would prune every running system of ours (a restarted controller must adopt, not kill).
  // A reconcile or settle before it needs no memory: the snapshot starts a full pass anyway.
  initial: 'awaitingSnapshot',
  states: {
    awaitingSnapshot: {
      on: { snapshot: 'passing' },
    },
    idle: {
      on: { reconcile: 'passing', snapshot: 'passing', 'system.settled': 'passing' },
      after: { wake: { target: 'passing' } },
    },
    passing: {
      entry: assign({ dirty: false }),
      on: { reconcile: { actions: assign({ dirty: true }) }, snapshot: { actions: assign({ dirty: true }) }, 'system.settled': { actions: assign({ dirty: true }) } },
      invoke: {
        src: 'pass',
        onDone: { target: 'applying', actions: assign(({ context, event }) => ({ result: event.output, passes: context.passes + 1 })) },
        onError: { target: 'listFailed', actions: { type: 'listFailed', params: ({ event }) => ({ error: event.error }) } },
      },
    },
    applying: {
      entry: [
        { type: 'dispatch', params: ({ context }) => ({ plan: context.result!.plan }) },
        { type: 'passDone', params: ({ context }) => context.result! },
      ],
      always: [{ guard: 'dirty', target: 'passing' }, { target: 'idle' }],
    },
    listFailed: {
      on: { reconcile: 'passing', snapshot: 'passing', 'system.settled': 'passing' },
      after: { listRetry: 'passing' },
    },
  },
});

/** Group a plan's nodes by manifest name, for dispatch. */
export function nodesByName(nodes: readonly PlanNode[]): Map<string, PlanNode[]> {
  const out = new Map<string, PlanNode[]>();
  for (const n of nodes) {
    const list = out.get(n.resource.name);
    if (list) list.push(n);
    else out.set(n.resource.name, [n]);
  }
  return out;
}
