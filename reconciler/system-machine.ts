/**
 * One actor per managed system name. It runs the action nodes of its name (a subgraph of the
 * plan) through the provided `runNodes` actor and reports when it settles, so that the controller
 * plans again. Its dependencies come in through `.provide()` (see system-actors.ts), so a test can
 * run the machine alone with fakes. What a run changed is not kept here: the executor returns
 * outcomes and the controller folds them into the runtime state (runtime.ts), which is also where
 * backoff and permanent failures live (the planner then answers with wait nodes).
 *
 * No `apply` is dropped: one that arrives while the actor works is remembered (the latest wins)
 * and, when the run ends, turned into a request for a fresh plan (`settled` with `replan`), not
 * executed: it was planned while the earlier nodes were still in flight, so it is stale.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { ActionNode, NodeResult, PlanNode } from './graph.ts';

/** Input of a system actor. */
export interface SystemInput {
  name: string;
  /** Nodes to run right away (the plan that made the controller spawn this actor). */
  initial?: readonly PlanNode[];
}

interface SystemContext {
  name: string;
  nodes: ActionNode[];
  /** Nodes of an `apply` that arrived while working. */
  pending?: ActionNode[];
  /** Whether the run that just ended missed an apply (the controller must plan again). */
  replan: boolean;
}

/** Events a system actor accepts. */
export type SystemMachineEvent = { type: 'apply'; nodes: readonly PlanNode[] };

/** Event the controller machine receives whenever a system actor settles. */
export interface SystemSettledEvent {
  type: 'system.settled';
  name: string;
}

/** Input of the `runNodes` actor the composition provides. */
export interface RunNodesInput {
  name: string;
  nodes: ActionNode[];
}

function actionable(nodes: readonly PlanNode[]): ActionNode[] {
  return nodes.filter((n): n is ActionNode => n.op !== 'wait');
}

/** The per-system state machine; provide `runNodes` and `settled` before use. */
export const systemMachine = setup({
  types: {
    context: {} as SystemContext,
    input: {} as SystemInput,
    events: {} as SystemMachineEvent,
  },
  actors: {
    runNodes: fromPromise<NodeResult<ActionNode>[], RunNodesInput>(async () => {
      throw new Error('system machine: runNodes was not provided');
    }),
  },
  actions: {
    /** The actor has nothing to do now (`replan`: an apply arrived while it worked). */
    settled: (_args, _params: { name: string; replan: boolean }) => {},
  },
  guards: {
    hasNodes: ({ context }) => context.nodes.length > 0,
  },
}).createMachine({
  id: 'system',
  context: ({ input }) => ({ name: input.name, nodes: actionable(input.initial ?? []), replan: false }),
  initial: 'idle',
  states: {
    idle: {
      always: { guard: 'hasNodes', target: 'working' },
      entry: [
        { type: 'settled', params: ({ context }) => ({ name: context.name, replan: context.replan }) },
        assign({ replan: false }),
      ],
      on: { apply: { target: 'working', actions: assign({ nodes: ({ event }) => actionable(event.nodes) }) } },
    },
    working: {
      on: { apply: { actions: assign({ pending: ({ event }) => actionable(event.nodes) }) } },
      invoke: {
        src: 'runNodes',
        input: ({ context }) => ({ name: context.name, nodes: context.nodes }),
        onDone: { target: 'idle', actions: assign(({ context }) => ({ nodes: [], pending: undefined, replan: context.pending !== undefined })) },
        onError: { target: 'idle', actions: assign(({ context }) => ({ nodes: [], pending: undefined, replan: context.pending !== undefined })) },
      },
    },
  },
});
