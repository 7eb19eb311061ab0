/**
 * The controller machine: idle → listing → planning → applying → idle. Triggers: a snapshot or
 * HCS event (`reconcile`), a child that settled, and the periodic resync (`after`). Triggers that
 * arrive while a pass runs set `dirty`, so a burst of them costs one extra pass, not one each.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { PlanNode } from './graph.ts';
import type { Plan } from './plan.ts';
import type { ObservedState } from './observed.ts';
import type { SystemSettledEvent } from './system-machine.ts';

/** What the machine needs from the controller facade. */
export interface ControllerMachineDeps {
  /** Enumerate HCS (ours only), adopt and detect missed exits. */
  list(): Promise<ObservedState>;
  /** Plan from the current desired state, runtime and clock. */
  plan(observed: ObservedState): Plan;
  /** Hand one name's actions to its system actor (created on first use). */
  dispatch(name: string, nodes: PlanNode[]): void;
  resyncMs: number;
  /** Delay until the next pass when nothing happens: the resync period, or sooner when a backoff ends. */
  nextWakeMs(): number;
  listRetryMs: number;
  /** Called after each pass with its plan. */
  onPass(plan: Plan, observed: ObservedState): void;
  onListError(err: unknown): void;
}

interface ControllerContext {
  deps: ControllerMachineDeps;
  observed?: ObservedState;
  plan?: Plan;
  dirty: boolean;
  passes: number;
}

/** Events the controller machine accepts. */
export type ControllerEvent = { type: 'reconcile' } | { type: 'snapshot' } | SystemSettledEvent;

/** The controller machine. */
export const controllerMachine = setup({
  types: {
    context: {} as ControllerContext,
    input: {} as { deps: ControllerMachineDeps },
    events: {} as ControllerEvent,
  },
  actors: {
    list: fromPromise<ObservedState, { deps: ControllerMachineDeps }>(({ input }) => input.deps.list()),
  },
  delays: {
    wake: ({ context }) => context.deps.nextWakeMs(),
    listRetry: ({ context }) => context.deps.listRetryMs,
  },
  guards: {
    dirty: ({ context }) => context.dirty,
  },
  actions: {
    markDirty: assign({ dirty: true }),
    // System actors live outside the machine's children (see system-actors.ts: xstate copies the
    // children object on every spawn/stop, which made large dispatches quadratic).
    dispatch: ({ context }) => {
      const plan = context.plan;
      if (!plan) return;
      for (const [name, nodes] of groupByName(plan.nodes)) {
        if (nodes.every((n) => n.op === 'wait')) continue;
        context.deps.dispatch(name, nodes);
      }
    },
  },
}).createMachine({
  id: 'controller',
  context: ({ input }) => ({ deps: input.deps, dirty: false, passes: 0 }),
  // Nothing is planned before the first snapshot: with an empty desired state the first pass
  // would prune every running system of ours (a restarted controller must adopt, not kill).
  initial: 'awaitingSnapshot',
  states: {
    awaitingSnapshot: {
      on: { snapshot: 'listing' },
    },
    idle: {
      on: { reconcile: 'listing', snapshot: 'listing', 'system.settled': 'listing' },
      after: { wake: { target: 'listing' } },
    },
    listing: {
      entry: assign({ dirty: false }),
      on: { reconcile: { actions: 'markDirty' }, snapshot: { actions: 'markDirty' }, 'system.settled': { actions: 'markDirty' } },
      invoke: {
        src: 'list',
        input: ({ context }) => ({ deps: context.deps }),
        onDone: { target: 'planning', actions: assign({ observed: ({ event }) => event.output }) },
        onError: { target: 'listFailed', actions: ({ context, event }) => context.deps.onListError(event.error) },
      },
    },
    planning: {
      entry: assign({
        plan: ({ context }) => context.deps.plan(context.observed!),
        passes: ({ context }) => context.passes + 1,
      }),
      always: 'applying',
    },
    applying: {
      entry: ['dispatch', ({ context }) => context.deps.onPass(context.plan!, context.observed!)],
      always: [{ guard: 'dirty', target: 'listing' }, { target: 'idle' }],
    },
    listFailed: {
      on: { reconcile: 'listing', snapshot: 'listing' },
      after: { listRetry: 'listing' },
    },
  },
});

function groupByName(nodes: readonly PlanNode[]): Map<string, PlanNode[]> {
  const out = new Map<string, PlanNode[]>();
  for (const n of nodes) {
    const list = out.get(n.resource.name);
    if (list) list.push(n);
    else out.set(n.resource.name, [n]);
  }
  return out;
}
