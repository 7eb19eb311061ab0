/**
 * One actor per managed system. It runs the plan steps of its name in order: create → start →
 * entrypoint, pause/resume, and stop as "graceful shutdown, then terminate once stopTimeout has
 * passed". A failed step either parks the system (`failed`, permanent errors: shown in status, not
 * retried until the spec changes) or backs off (`backoff`, kubelet's curve) before the controller
 * plans again. Timers are xstate `after` delays, so tests drive them with a SimulatedClock.
 */
import { assign, fromPromise, setup } from 'xstate';
import type { FailureOutcome, StepExecutor } from './executor.ts';
import type { PlanAction } from './plan.ts';

type StepAction = Exclude<PlanAction, { kind: 'wait' | 'stop' }>;
type StopAction = Extract<PlanAction, { kind: 'stop' }>;

/** Input of a system actor. */
export interface SystemInput {
  name: string;
  executor: StepExecutor;
  /** Steps to run right away (the plan that made the controller spawn this actor). */
  initial?: PlanAction[];
  /** Called whenever the actor settles (idle, backoff over, failed). */
  onSettled?(name: string): void;
}

interface SystemContext {
  name: string;
  executor: StepExecutor;
  onSettled?: (name: string) => void;
  queue: PlanAction[];
  index: number;
  failure?: FailureOutcome;
}

/** Events a system actor accepts. */
export type SystemMachineEvent = { type: 'apply'; actions: PlanAction[] };

/** Event the controller machine receives whenever a system actor settles (idle, backoff over, failed). */
export interface SystemSettledEvent {
  type: 'system.settled';
  name: string;
}

function current(context: SystemContext): PlanAction | undefined {
  return context.queue[context.index];
}

function currentStop(context: SystemContext): StopAction {
  const action = current(context);
  if (action?.kind !== 'stop') throw new Error(`internal: expected a stop step for ${context.name}`);
  return action;
}

/** The per-system state machine. */
export const systemMachine = setup({
  types: {
    context: {} as SystemContext,
    input: {} as SystemInput,
    events: {} as SystemMachineEvent,
  },
  actors: {
    runStep: fromPromise<void, { executor: StepExecutor; action: StepAction }>(({ input, signal }) => input.executor.run(input.action, signal)),
    shutdown: fromPromise<void, { executor: StepExecutor; action: StopAction }>(({ input, signal }) => input.executor.shutdown(input.action, signal)),
    terminate: fromPromise<void, { executor: StepExecutor; action: StopAction }>(({ input, signal }) => input.executor.terminate(input.action, signal)),
  },
  delays: {
    stopTimeout: ({ context }) => currentStop(context).stopTimeoutMs,
    retryDelay: ({ context }) => context.failure?.delayMs ?? 1000,
  },
  guards: {
    hasQueue: ({ context }) => context.index < context.queue.length,
    queueDone: ({ context }) => context.index >= context.queue.length,
    currentIsStop: ({ context }) => current(context)?.kind === 'stop',
    currentIsWait: ({ context }) => current(context)?.kind === 'wait',
    permanent: ({ context }) => context.failure?.permanent === true,
    retryNow: ({ context }) => context.failure?.delayMs === 0,
  },
  actions: {
    settled: ({ context }) => context.onSettled?.(context.name),
    advance: assign({ index: ({ context }) => context.index + 1 }),
    load: assign(({ event }) => ({ queue: event.actions.filter((a) => a.kind !== 'wait'), index: 0, failure: undefined })),
    recordFailure: assign({
      failure: ({ context, event }) => context.executor.onFailure(current(context)!, (event as { error?: unknown }).error),
    }),
  },
}).createMachine({
  id: 'system',
  context: ({ input }) => ({
    name: input.name,
    executor: input.executor,
    onSettled: input.onSettled,
    queue: (input.initial ?? []).filter((a) => a.kind !== 'wait'),
    index: 0,
  }),
  initial: 'idle',
  states: {
    idle: {
      always: { guard: 'hasQueue', target: 'working' },
      entry: 'settled',
      on: { apply: { target: 'working', actions: 'load' } },
    },
    working: {
      initial: 'next',
      states: {
        next: {
          always: [
            { guard: 'queueDone', target: '#system.idle' },
            { guard: 'currentIsWait', target: 'next', actions: 'advance', reenter: true },
            { guard: 'currentIsStop', target: 'shuttingDown' },
            { target: 'calling' },
          ],
        },
        calling: {
          invoke: {
            src: 'runStep',
            input: ({ context }) => ({ executor: context.executor, action: current(context) as StepAction }),
            onDone: { target: 'next', actions: 'advance' },
            onError: { target: '#system.failing', actions: 'recordFailure' },
          },
        },
        shuttingDown: {
          invoke: {
            src: 'shutdown',
            input: ({ context }) => ({ executor: context.executor, action: currentStop(context) }),
            onDone: { target: 'next', actions: 'advance' },
            onError: { target: 'terminating' },
          },
          after: { stopTimeout: { target: 'terminating' } },
        },
        terminating: {
          invoke: {
            src: 'terminate',
            input: ({ context }) => ({ executor: context.executor, action: currentStop(context) }),
            onDone: { target: 'next', actions: 'advance' },
            onError: { target: '#system.failing', actions: 'recordFailure' },
          },
        },
      },
    },
    failing: {
      // A zero delay goes straight back to idle: a timer (even of 0 ms) would wait for an injected
      // clock to advance.
      always: [
        { guard: 'permanent', target: 'failed' },
        { guard: 'retryNow', target: 'idle', actions: assign({ queue: [], index: 0 }) },
        { target: 'backoff' },
      ],
    },
    backoff: {
      after: { retryDelay: { target: 'idle', actions: assign({ queue: [], index: 0 }) } },
    },
    failed: {
      entry: [assign({ queue: [], index: 0 }), 'settled'],
      on: { apply: { target: 'working', actions: 'load' } },
    },
  },
});
