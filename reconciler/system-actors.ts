/**
 * The per-system runners (system-machine.ts), kept in a Map rather than as xstate children of the
 * controller machine. xstate copies a machine's `children` object on every spawn and stop (and on
 * every invoke the controller starts or ends), so with thousands of systems the first dispatch
 * and the shutdown were quadratic: 1000 systems cost ~300 ms before the first Create and ~1.2 s
 * to dispose, 5000 systems several seconds and tens of seconds. Here a spawn, a send and a stop
 * are O(1), and a runner ("actor") lives only while its system has work (see `#retire`).
 *
 * At most `window` actors work at once; further names wait here as plain (name, nodes) entries,
 * in dispatch order, and a later dispatch replaces a waiting name's nodes (the latest plan wins).
 * The executor's limiter bounds HCS calls anyway (16 by default), so a window of a few times that
 * keeps every slot busy, while a cold start of 1000 systems no longer holds 1000 actors, graphs
 * and pending calls (~9 KB each) for the whole burst: that garbage, promoted to the old
 * generation, was most of the controller's RSS right after converging. While names wait, a
 * settling actor does not make the controller plan again (the waiting names already have their
 * nodes, and a pass per settle would replan 1000 systems every few ms); nor while other actors
 * still work, at most {@link SETTLE_HOLD_MS}: the settle is reported once nothing waits and no
 * actor works. HCS events still start passes at once.
 */
import type { ActionNode, NodeResult, PlanNode } from './graph.ts';
import type { Clock } from './ports.ts';
import { SystemRunner } from './system-machine.ts';

/** What the registry needs. */
export interface SystemActorsOptions {
  /** Run one name's nodes (graph order, bounded concurrency); resolves when all are done or skipped. */
  runNodes(name: string, nodes: ActionNode[], signal: AbortSignal): Promise<NodeResult<ActionNode>[]>;
  /** The controller's clock (the runners keep no timers: backoff lives in the planner; the settle hold does). */
  clock: Clock;
  /** A system actor settled: the controller plans again. */
  onSettled(name: string): void;
  /** Actors working at once (default 64); further names wait in dispatch order. */
  window?: number;
  /** Longest a settle is held back while other actors still work (default {@link SETTLE_HOLD_MS}). */
  settleHoldMs?: number;
}

/**
 * A settle while other actors still work is reported when the last of them settles, or after this
 * long, whichever is first. A pass plans every system in one synchronous stretch (tens of ms for
 * 1000), and each one started in the tail of a burst held back every HCS completion in flight; the
 * settled system's follow-up (a backoff wait, a retry) waits at most this long for it.
 */
export const SETTLE_HOLD_MS = 1_000;

/** One actor per managed system name, created on first dispatch. */
export class SystemActors {
  readonly #actors = new Map<string, SystemRunner>();
  /** Names waiting for a place in the window, with their latest nodes (Map order = dispatch order). */
  readonly #waiting = new Map<string, PlanNode[]>();
  /** The latest settle not yet reported (names waited or other actors worked): see {@link #release}. */
  #held: string | undefined;
  /** Ends the hold of {@link #held} at the latest {@link SETTLE_HOLD_MS} after it began. */
  #holdTimer: unknown;
  readonly #window: number;
  readonly #deps;

  constructor(private readonly opts: SystemActorsOptions) {
    this.#window = Math.max(1, opts.window ?? 64);
    this.#deps = {
      runNodes: opts.runNodes,
      settled: (name: string) => {
        this.#held = name;
        this.#release();
        queueMicrotask(() => this.#retire(name));
      },
    };
  }

  /** Whether an actor runs nodes now (the one settling is already idle; at most `window` to look at). */
  #anyWorking(): boolean {
    for (const actor of this.#actors.values()) if (actor.state.phase === 'working') return true;
    return false;
  }

  /** Start the hold's time limit (once nothing waits: waiting names are planned already). */
  #limitHold(): void {
    if (this.#holdTimer !== undefined) return;
    this.#holdTimer = this.opts.clock.setTimeout(() => {
      this.#holdTimer = undefined;
      if (this.#held !== undefined) this.#report(this.#held);
    }, this.opts.settleHoldMs ?? SETTLE_HOLD_MS);
  }

  /** Report a settle now; one that was held is reported with it, and its hold ends. */
  #report(name: string): void {
    this.#held = undefined;
    if (this.#holdTimer !== undefined) this.opts.clock.clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.opts.onSettled(name);
  }

  /**
   * The held settle is reported once no name waits and no actor works; while names wait it stays
   * held (their nodes are planned already), while only actors work it is held at most the limit.
   */
  #release(): void {
    const held = this.#held;
    if (held === undefined || this.#waiting.size > 0) return;
    if (this.#anyWorking()) this.#limitHold();
    else this.#report(held);
  }

  /**
   * Hand a plan to the actors: each name with something to run gets its nodes; a waiting name the
   * plan no longer gives anything to run stops waiting (nothing of it had started).
   */
  dispatchPlan(byName: ReadonlyMap<string, PlanNode[]>): void {
    const runs = (nodes: PlanNode[] | undefined) => nodes?.some((n) => n.op !== 'wait') === true;
    for (const name of this.#waiting.keys()) if (!runs(byName.get(name))) this.#waiting.delete(name);
    for (const [name, nodes] of byName) if (runs(nodes)) this.dispatch(name, nodes);
    this.#admit();
  }

  /** Hand a name's nodes to its actor, creating the actor on first use. */
  dispatch(name: string, nodes: PlanNode[]): void {
    const existing = this.#actors.get(name);
    if (existing) {
      existing.send({ type: 'apply', nodes });
      return;
    }
    if (this.#waiting.has(name) || this.#actors.size >= this.#window) {
      this.#waiting.set(name, nodes);
      return;
    }
    this.#spawn(name, nodes);
  }

  #spawn(name: string, nodes: readonly PlanNode[]): void {
    const actor = new SystemRunner(name, this.#deps);
    this.#actors.set(name, actor);
    actor.start(nodes);
  }

  /** Give freed places of the window to waiting names; report a held-back settle once none waits. */
  #admit(): void {
    for (const [name, nodes] of this.#waiting) {
      if (this.#actors.size >= this.#window) return;
      this.#waiting.delete(name);
      this.#spawn(name, nodes);
    }
    this.#release();
  }

  /** Actors alive now (working, or settled and about to be retired), and names waiting for one. */
  get size(): { actors: number; waiting: number } {
    return { actors: this.#actors.size, waiting: this.#waiting.size };
  }

  /**
   * An idle actor holds nothing the next dispatch needs (no nodes, no timers: backoff lives in
   * the planner), so it is stopped and dropped once it settled; the next dispatch makes a new
   * one. A converged controller then keeps no actor per system: each xstate root actor carries
   * its own actor system, mailbox, scheduler and snapshot (~3 KB), 3 MB of heap for 1000 systems.
   */
  #retire(name: string): void {
    const actor = this.#actors.get(name);
    if (!actor) return;
    const s = actor.state;
    if (s.phase !== 'idle' || s.nodes.length > 0 || s.pending !== undefined) return;
    actor.stop();
    this.#actors.delete(name);
    this.#admit();
  }

  /** Whether the actor of this name is running nodes now. */
  working(name: string): boolean {
    return this.#waiting.has(name) || this.#actors.get(name)?.state.phase === 'working';
  }

  /** Stop every actor (in-flight nodes are aborted through their signals). */
  stopAll(): void {
    this.#waiting.clear();
    this.#held = undefined;
    if (this.#holdTimer !== undefined) this.opts.clock.clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    for (const actor of this.#actors.values()) actor.stop();
    this.#actors.clear();
  }
}
