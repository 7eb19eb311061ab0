/**
 * The per-system actors, kept in a Map rather than as xstate children of the controller machine.
 * xstate copies a machine's `children` object on every spawn and stop (and on every invoke the
 * controller starts or ends), so with thousands of systems the first dispatch and the shutdown
 * were quadratic: 1000 systems cost ~300 ms before the first Create and ~1.2 s to dispose, 5000
 * systems several seconds and tens of seconds. Here a spawn, a send and a stop are O(1).
 */
import { createActor, type Actor } from 'xstate';
import type { StepExecutor } from './executor.ts';
import type { PlanAction } from './plan.ts';
import type { Clock } from './ports.ts';
import { systemMachine } from './system-machine.ts';

/** What the registry needs. */
export interface SystemActorsOptions {
  executor: StepExecutor;
  /** The controller's clock (a SimulatedClock in tests drives the actors' timers too). */
  clock: Clock;
  /** A system actor settled (idle, backoff over, failed): the controller plans again. */
  onSettled(name: string): void;
}

/** One actor per managed system name, created on first dispatch. */
export class SystemActors {
  readonly #actors = new Map<string, Actor<typeof systemMachine>>();

  constructor(private readonly opts: SystemActorsOptions) {}

  /** Hand a name's actions to its actor, creating the actor on first use. */
  dispatch(name: string, actions: PlanAction[]): void {
    const existing = this.#actors.get(name);
    if (existing) {
      existing.send({ type: 'apply', actions });
      return;
    }
    const { executor, clock, onSettled } = this.opts;
    const actor = createActor(systemMachine, { clock, input: { name, executor, initial: actions, onSettled } });
    this.#actors.set(name, actor);
    actor.start();
  }

  /** The actor's state value (`idle`, `{working: 'calling'}`, `backoff`, ...), undefined if none. */
  phase(name: string): unknown {
    return this.#actors.get(name)?.getSnapshot().value;
  }

  /** Stop every actor (in-flight steps are aborted through their signals). */
  stopAll(): void {
    for (const actor of this.#actors.values()) actor.stop();
    this.#actors.clear();
  }
}
