/**
 * The per-system actors, kept in a Map rather than as xstate children of the controller machine.
 * xstate copies a machine's `children` object on every spawn and stop (and on every invoke the
 * controller starts or ends), so with thousands of systems the first dispatch and the shutdown
 * were quadratic: 1000 systems cost ~300 ms before the first Create and ~1.2 s to dispose, 5000
 * systems several seconds and tens of seconds. Here a spawn, a send and a stop are O(1).
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import type { ActionNode, NodeResult, PlanNode } from './graph.ts';
import type { Clock } from './ports.ts';
import { systemMachine, type RunNodesInput } from './system-machine.ts';

/** What the registry needs. */
export interface SystemActorsOptions {
  /** Run one name's nodes (graph order, bounded concurrency); resolves when all are done or skipped. */
  runNodes(name: string, nodes: ActionNode[], signal: AbortSignal): Promise<NodeResult<ActionNode>[]>;
  /** The controller's clock (a SimulatedClock in tests drives the actors' timers too). */
  clock: Clock;
  /** A system actor settled: the controller plans again. */
  onSettled(name: string): void;
}

/** One actor per managed system name, created on first dispatch. */
export class SystemActors {
  readonly #actors = new Map<string, Actor<typeof systemMachine>>();
  readonly #machine;

  constructor(private readonly opts: SystemActorsOptions) {
    this.#machine = systemMachine.provide({
      actors: { runNodes: fromPromise<NodeResult<ActionNode>[], RunNodesInput>(({ input, signal }) => opts.runNodes(input.name, input.nodes, signal)) },
      actions: { settled: (_args, params) => opts.onSettled(params.name) },
    });
  }

  /** Hand a name's nodes to its actor, creating the actor on first use. */
  dispatch(name: string, nodes: PlanNode[]): void {
    const existing = this.#actors.get(name);
    if (existing) {
      existing.send({ type: 'apply', nodes });
      return;
    }
    const actor = createActor(this.#machine, { clock: this.opts.clock, input: { name, initial: nodes } });
    this.#actors.set(name, actor);
    actor.start();
  }

  /** Whether the actor of this name is running nodes now. */
  working(name: string): boolean {
    return this.#actors.get(name)?.getSnapshot().value === 'working';
  }

  /** Stop every actor (in-flight nodes are aborted through their signals). */
  stopAll(): void {
    for (const actor of this.#actors.values()) actor.stop();
    this.#actors.clear();
  }
}
