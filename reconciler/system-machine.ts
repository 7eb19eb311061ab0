/**
 * One runner per managed system name. It runs the action nodes of its name (a subgraph of the
 * plan) through the provided `runNodes` and reports when it settles, so that the controller plans
 * again. What a run changed is not kept here: the executor returns outcomes and the controller
 * folds them into the runtime state (runtime.ts), which is also where backoff and permanent
 * failures live (the planner then answers with wait nodes).
 *
 * No `apply` is dropped: one that arrives while the runner works is remembered (the latest wins)
 * and, when the run ends, turned into a request for a fresh plan (`settled` with `replan`), not
 * executed: it was planned while the earlier nodes were still in flight, so it is stale.
 *
 * The machine is two states, changed only by the pure {@link systemStep}; {@link SystemRunner}
 * performs what a step decides (start a run, report a settle). It used to be an xstate machine
 * with an invoked promise actor: two xstate actors per system and dispatch, about a fifth of the
 * JS thread's work in a cold converge of 1000 systems, on the path of every HCS completion. The
 * controller's own machine (controller-machine.ts) stays xstate.
 */
import type { ActionNode, NodeResult, PlanNode } from './graph.ts';

/** A system runner's state, as one value. */
export interface SystemState {
  /** `working` while a run of `nodes` is in flight. */
  phase: 'idle' | 'working';
  nodes: ActionNode[];
  /** Nodes of an `apply` that arrived while working. */
  pending?: ActionNode[];
}

/** Events a system runner accepts: a plan's nodes for it, or the end of its run. */
export type SystemMachineEvent = { type: 'apply'; nodes: readonly PlanNode[] } | { type: 'done' };

/** Event the controller machine receives whenever a system runner settles. */
export interface SystemSettledEvent {
  type: 'system.settled';
  name: string;
}

/** What a step decided: the next state, a run to start, a settle to report. */
export interface SystemStep {
  state: SystemState;
  run?: ActionNode[];
  /** The runner has nothing to do now (`replan`: an apply arrived while it worked). */
  settled?: { replan: boolean };
}

function actionable(nodes: readonly PlanNode[]): ActionNode[] {
  return nodes.filter((n): n is ActionNode => n.op !== 'wait');
}

/** The first step: run the nodes it was made with (waits filtered out), else settle at once. */
export function initialStep(initial: readonly PlanNode[] = []): SystemStep {
  const nodes = actionable(initial);
  if (nodes.length > 0) return { state: { phase: 'working', nodes }, run: nodes };
  return { state: { phase: 'idle', nodes: [] }, settled: { replan: false } };
}

/** The transition function, the only place a runner's state changes. */
export function systemStep(s: SystemState, e: SystemMachineEvent): SystemStep {
  if (e.type === 'apply') {
    const nodes = actionable(e.nodes);
    if (s.phase === 'working') return { state: { ...s, pending: nodes } };
    return { state: { phase: 'working', nodes }, run: nodes };
  }
  if (s.phase !== 'working') return { state: s };
  return { state: { phase: 'idle', nodes: [] }, settled: { replan: s.pending !== undefined } };
}

/** What a runner needs. */
export interface SystemRunnerDeps {
  /** Run one name's nodes; a rejection ends the run like a resolution (the outcomes are the executor's). */
  runNodes(name: string, nodes: ActionNode[], signal: AbortSignal): Promise<NodeResult<ActionNode>[]>;
  /** The runner settled. */
  settled(name: string, replan: boolean): void;
}

/** Performs the steps of one system's machine. */
export class SystemRunner {
  #state: SystemState = { phase: 'idle', nodes: [] };
  #stopped = false;
  /** Counts runs, so the end of a run can be told from a later one's. */
  #run = 0;
  /** Aborts the run in flight on stop (one per run, as each HCS call listens on it). */
  #abort?: AbortController;

  constructor(readonly name: string, private readonly deps: SystemRunnerDeps) {}

  /** The current state (read-only). */
  get state(): Readonly<SystemState> {
    return this.#state;
  }

  /** Starts with the nodes of the plan that made the runner. */
  start(initial?: readonly PlanNode[]): void {
    this.#perform(initialStep(initial));
  }

  send(event: SystemMachineEvent): void {
    if (!this.#stopped) this.#perform(systemStep(this.#state, event));
  }

  /** No step is taken after this; a run in flight is aborted. */
  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }

  #perform(step: SystemStep): void {
    this.#state = step.state;
    if (step.run) this.#start(step.run);
    if (step.settled) this.deps.settled(this.name, step.settled.replan);
  }

  #start(nodes: ActionNode[]): void {
    const run = ++this.#run;
    const abort = (this.#abort = new AbortController());
    const done = (): void => {
      if (run !== this.#run) return;
      this.#abort = undefined;
      this.send({ type: 'done' });
    };
    let p: Promise<unknown>;
    try {
      p = this.deps.runNodes(this.name, nodes, abort.signal);
    } catch {
      p = Promise.resolve();
    }
    p.then(done, done);
  }
}
