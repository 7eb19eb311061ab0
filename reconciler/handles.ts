/**
 * The open HCS handles of the controller: one per managed system it watches (for SystemExited)
 * and one per tracked entrypoint process (for ProcessExited). Every handle is opened at most once
 * and closed exactly once. Only ids that the caller has checked to be ours ever reach `get`.
 */
import type { CallOptions, Disposable, HcsClient, HcsProcess, HcsSystem, ProcessEvent, SystemEvent } from './ports.ts';

interface SystemEntry {
  system: Promise<HcsSystem>;
  /** Set once the create/open resolved: a pending entry is not an open handle yet. */
  open?: boolean;
  subscription?: Disposable;
}

interface ProcessEntry {
  process: HcsProcess;
  subscription: Disposable;
}

/** Listener signatures the controller provides. */
export interface HandleListeners {
  onSystemEvent(id: string, event: SystemEvent): void;
  onProcessExit(systemId: string, event: ProcessEvent): void;
}

/** Owns the controller's open handles. */
export class HandleRegistry {
  #systems = new Map<string, SystemEntry>();
  #processes = new Map<string, ProcessEntry>();
  /** Closes in progress: a create of the same id must wait for them (HCS keeps a stopped id while a handle is open). */
  #closing = new Map<string, Promise<void>>();

  constructor(
    private readonly hcs: HcsClient,
    private readonly listeners: HandleListeners,
  ) {}

  /** Number of open system and process handles (a create or open still in flight is not counted). */
  get size(): number {
    let systems = 0;
    for (const e of this.#systems.values()) if (e.open) systems++;
    return systems + this.#processes.size;
  }

  /** Whether a handle to this system is open (or opening). */
  has(id: string): boolean {
    return this.#systems.has(id);
  }

  /**
   * Create a compute system and keep its handle (for SystemExited). The entry is recorded before
   * the create is issued, so a get() of the same id while the create is in flight (a create takes
   * seconds on Windows, and the client awaits a state query after it, audit D8) waits for this
   * handle instead of opening a second one. An older handle to the id is closed first: HCS keeps a
   * stopped id while a handle to it is open.
   */
  async create(id: string, document: Record<string, unknown>, opts?: CallOptions): Promise<HcsSystem> {
    await this.#closing.get(id);
    await this.release(id);
    return this.#track(id, this.hcs.create(id, document, opts));
  }

  /** The handle for a system of ours, opening it on first use. */
  async get(id: string): Promise<HcsSystem> {
    const existing = this.#systems.get(id);
    if (existing) return existing.system;
    // An open racing our own close of the id would get a handle to the dying system (HCS keeps it
    // while any handle is open): let the close finish first, as create does.
    const closing = this.#closing.get(id);
    if (closing) {
      await closing.catch(() => undefined);
      const meanwhile = this.#systems.get(id);
      if (meanwhile) return meanwhile.system;
    }
    return this.#track(id, this.hcs.open(id));
  }

  /** Records a handle being created or opened, and subscribes to its events once it is there. */
  async #track(id: string, pending: Promise<HcsSystem>): Promise<HcsSystem> {
    const entry: SystemEntry = { system: pending };
    this.#systems.set(id, entry);
    try {
      const system = await entry.system;
      // Released while the call was in flight: release() closes it; nothing to subscribe.
      if (this.#systems.get(id) === entry) {
        entry.open = true;
        entry.subscription = system.onEvent((e) => this.listeners.onSystemEvent(id, e));
      }
      return system;
    } catch (err) {
      if (this.#systems.get(id) === entry) this.#systems.delete(id);
      throw err;
    }
  }

  /** Track the entrypoint process of a system (replaces and closes an older one). */
  async trackProcess(process: HcsProcess): Promise<void> {
    await this.releaseProcess(process.systemId);
    const subscription = process.onExit((e) => this.listeners.onProcessExit(process.systemId, e));
    this.#processes.set(process.systemId, { process, subscription });
  }

  /** Whether the entrypoint of this system is tracked. */
  hasProcess(systemId: string): boolean {
    return this.#processes.has(systemId);
  }

  /** Close the process handle of a system, if any. */
  async releaseProcess(systemId: string): Promise<void> {
    const entry = this.#processes.get(systemId);
    if (!entry) return;
    this.#processes.delete(systemId);
    await entry.subscription.dispose();
    await entry.process.close();
  }

  /** Close the handle of a system (and its process handle). Never stops the system. */
  async release(id: string): Promise<void> {
    const entry = this.#systems.get(id);
    if (!entry) return this.#closing.get(id);
    this.#systems.delete(id);
    const closing = (async () => {
      await this.releaseProcess(id);
      await entry.subscription?.dispose();
      const system = await entry.system.catch(() => undefined);
      await system?.close();
    })().finally(() => {
      if (this.#closing.get(id) === closing) this.#closing.delete(id);
    });
    this.#closing.set(id, closing);
    return closing;
  }

  /** Whether a handle to this system is open or still closing. */
  holds(id: string): boolean {
    return this.#systems.has(id) || this.#closing.has(id);
  }

  /** Close every handle (shutdown, or after a ServiceDisconnect made them all invalid). */
  async releaseAll(): Promise<void> {
    const ids = [...new Set([...this.#systems.keys(), ...this.#processes.keys()])];
    await Promise.all(ids.map((id) => this.release(id).catch(() => undefined)));
  }
}
