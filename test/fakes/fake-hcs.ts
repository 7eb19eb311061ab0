/**
 * In-memory fake of the HcsClient port for fast, deterministic reconciler tests. Completions are
 * asynchronous (next macrotask), events are delivered like HCS callbacks, faults can be injected.
 * Integration tests use the real koffi binding against the emulator instead.
 */
import { imageNameOf } from '../../reconciler/entrypoint-identity.ts';
import type {
  CallOptions, Disposable, EnumerateQuery, ExitType, HcsClient, HcsFailure, HcsFailureKind, HcsProcess, HcsState,
  HcsSystem, ObservedSystem, ProcessEvent, SystemEvent, SystemProperties,
} from '../../reconciler/ports.ts';

interface FakeProcess { pid: number; commandLine: string; exited: boolean; exitCode?: number }
interface FakeSystem {
  id: string; owner: string; systemType: string; state: HcsState; document: Record<string, unknown>;
  processes: FakeProcess[]; ignoreShutdown: boolean;
}

/** An error shaped like the binding's HcsError. */
export class FakeHcsError extends Error implements HcsFailure {
  constructor(public op: string, public systemId: string | undefined, public kind: HcsFailureKind, public hresult = 0x80370105 | 0, public permanent = false) {
    super(`hcs ${op} ${systemId ?? ''}: ${kind}`);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The fake compute service plus its client. */
export class FakeHcs implements HcsClient {
  readonly systems = new Map<string, FakeSystem>();
  readonly calls: string[] = [];
  readonly #listeners = new Map<string, Set<(e: SystemEvent) => void>>();
  readonly #procListeners = new Map<string, Set<(e: ProcessEvent) => void>>();
  readonly #faults: Array<{ op: string; id?: string; kind: HcsFailureKind; permanent: boolean; count: number }> = [];
  #pid = 1000;
  openHandles = 0;
  /** Open system handles per id (for {@link keepStoppedWhileOpen}). */
  readonly #handlesOf = new Map<string, number>();
  /**
   * As HCS does: a stopped system, and its id, stay (listed as Stopped, openable) while any handle
   * to it is open, and go with the last close. Off by default: the fake then drops it at once.
   */
  keepStoppedWhileOpen = false;

  /** Fail the next `count` calls of `op` (optionally for one id). */
  failNext(op: string, kind: HcsFailureKind, opts: { count?: number; id?: string; permanent?: boolean } = {}): void {
    this.#faults.push({ op, kind, count: opts.count ?? 1, permanent: opts.permanent ?? false, ...(opts.id ? { id: opts.id } : {}) });
  }

  /** A system owned by someone else, created outside the controller. */
  addForeign(id: string, owner: string, state: HcsState = 'Running'): void {
    this.systems.set(id, { id, owner, systemType: 'Container', state, document: {}, processes: [], ignoreShutdown: false });
  }

  /** Make a running system exit (unexpectedly by default). */
  crash(id: string, exitType: ExitType = 'UnexpectedExit'): void {
    this.#stop(id, exitType);
  }

  /** Make enumerate calls hang until the returned function is called (an HCS that stops answering). */
  hangEnumerate(): () => void {
    let release!: () => void;
    this.#enumerateGate = new Promise<void>((r) => (release = r));
    return () => {
      this.#enumerateGate = undefined;
      release();
    };
  }

  /**
   * The next enumerate takes its answer when it is called but returns it only when the returned
   * function is called: an answer that was right when HCS made it and is stale when it arrives
   * (HCS completes calls on its thread pool, so events that happened later can arrive first).
   */
  staleEnumerate(): () => void {
    let release!: () => void;
    this.#staleGate = new Promise<void>((r) => (release = r));
    return release;
  }
  #staleGate: Promise<void> | undefined;

  /** Make the first live process of a system exit with a code. */
  exitProcess(id: string, exitCode: number): void {
    const s = this.systems.get(id);
    const p = s?.processes.find((x) => !x.exited);
    if (!s || !p) throw new Error(`no live process in ${id}`);
    p.exited = true;
    p.exitCode = exitCode;
    for (const l of this.#procListeners.get(`${id}/${p.pid}`) ?? []) l({ type: 'ProcessExited', systemId: id, processId: p.pid, exitCode });
  }

  /** Deliver ServiceDisconnect to every subscribed handle. */
  disconnect(): void {
    for (const [id, set] of this.#listeners) for (const l of set) l({ type: 'ServiceDisconnect', systemId: id });
  }

  live(owner?: string): FakeSystem[] {
    return [...this.systems.values()].filter((s) => s.state !== 'Stopped' && (!owner || s.owner === owner));
  }

  #enumerateGate: Promise<void> | undefined;

  async enumerate(query: EnumerateQuery = {}): Promise<ObservedSystem[]> {
    await this.#call('enumerate');
    await this.#enumerateGate;
    const answer = [...this.systems.values()]
      .filter((s) => !query.owners || query.owners.includes(s.owner))
      .map((s) => ({ id: s.id, systemType: s.systemType, owner: s.owner, state: s.state }));
    const stale = this.#staleGate;
    this.#staleGate = undefined;
    if (stale) await stale;
    return answer;
  }

  async create(id: string, document: Record<string, unknown>): Promise<HcsSystem> {
    await this.#call('create', id);
    if (this.systems.has(id)) throw new FakeHcsError('create', id, 'alreadyExists', 0x8037010f | 0);
    const systemType = 'VirtualMachine' in document ? 'VirtualMachine' : 'Container';
    this.systems.set(id, { id, owner: String(document.Owner ?? ''), systemType, state: 'Created', document, processes: [], ignoreShutdown: false });
    return this.#handle(id);
  }

  async open(id: string): Promise<HcsSystem> {
    await this.#call('open', id);
    if (!this.systems.has(id)) throw new FakeHcsError('open', id, 'notFound', 0x8037010e | 0);
    return this.#handle(id);
  }

  async close(): Promise<void> {}

  async #call(op: string, id?: string): Promise<void> {
    this.calls.push(id ? `${op} ${id}` : op);
    await tick();
    const i = this.#faults.findIndex((f) => f.op === op && (!f.id || f.id === id));
    if (i < 0) return;
    const f = this.#faults[i]!;
    if (--f.count <= 0) this.#faults.splice(i, 1);
    throw new FakeHcsError(op, id, f.kind, 0x80370105 | 0, f.permanent);
  }

  #get(op: string, id: string): FakeSystem {
    const s = this.systems.get(id);
    if (!s) throw new FakeHcsError(op, id, 'notFound', 0x8037010e | 0);
    return s;
  }

  #stop(id: string, exitType: ExitType): void {
    const s = this.systems.get(id);
    if (!s || s.state === 'Stopped') return;
    s.state = 'Stopped';
    for (const p of s.processes) p.exited = true;
    if (!this.keepStoppedWhileOpen || !this.#handlesOf.get(id)) this.systems.delete(id);
    for (const l of this.#listeners.get(id) ?? []) l({ type: 'SystemExited', systemId: id, status: 0, exitType });
  }

  #transition(op: string, id: string, from: HcsState[], to: HcsState): void {
    const s = this.#get(op, id);
    if (!from.includes(s.state)) throw new FakeHcsError(op, id, 'invalidState');
    s.state = to;
  }

  #handle(id: string): HcsSystem {
    this.openHandles++;
    this.#handlesOf.set(id, (this.#handlesOf.get(id) ?? 0) + 1);
    let closed = false;
    const self = this;
    const sub = <T>(map: Map<string, Set<(e: T) => void>>, key: string, l: (e: T) => void): Disposable => {
      const set = map.get(key) ?? new Set();
      set.add(l);
      map.set(key, set);
      return { dispose: () => void set.delete(l) };
    };
    return {
      id,
      ready: () => Promise.resolve(),
      async start() { await self.#call('start', id); self.#transition('start', id, ['Created'], 'Running'); },
      async pause() { await self.#call('pause', id); self.#transition('pause', id, ['Running'], 'Paused'); },
      async resume() { await self.#call('resume', id); self.#transition('resume', id, ['Paused'], 'Running'); },
      async shutdown(opts?: CallOptions) {
        await self.#call('shutdown', id);
        const s = self.systems.get(id);
        if (s?.ignoreShutdown) return new Promise<void>((_, reject) => opts?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
        self.#stop(id, 'GracefulExit');
      },
      async terminate() { await self.#call('terminate', id); self.#stop(id, 'ForcedExit'); },
      async properties(): Promise<SystemProperties> {
        await self.#call('properties', id);
        const s = self.#get('properties', id);
        return { id, state: s.state, raw: {}, processList: s.processes.filter((p) => !p.exited).map((p) => ({ processId: p.pid, imageName: imageNameOf(p.commandLine) })) };
      },
      async modify() { await self.#call('modify', id); },
      async createProcess(parameters: Record<string, unknown>): Promise<HcsProcess> {
        await self.#call('createProcess', id);
        const s = self.#get('createProcess', id);
        if (s.state !== 'Running') throw new FakeHcsError('createProcess', id, 'invalidState');
        const p = { pid: ++self.#pid, commandLine: String(parameters.CommandLine), exited: false };
        s.processes.push(p);
        return self.#process(id, p.pid, sub);
      },
      async openProcess(pid: number): Promise<HcsProcess> {
        await self.#call('openProcess', id);
        return self.#process(id, pid, sub);
      },
      onEvent: (l) => sub(self.#listeners, id, l),
      async close() {
        if (closed) return;
        closed = true;
        if (self.keepStoppedWhileOpen) for (let i = 0; i < 3; i++) await tick(); // a close is a round trip to the service too (slower than an open here)
        self.openHandles--;
        const left = (self.#handlesOf.get(id) ?? 1) - 1;
        self.#handlesOf.set(id, left);
        if (self.keepStoppedWhileOpen && left === 0 && self.systems.get(id)?.state === 'Stopped') self.systems.delete(id);
      },
    };
  }

  #process(id: string, pid: number, sub: <T>(m: Map<string, Set<(e: T) => void>>, k: string, l: (e: T) => void) => Disposable): HcsProcess {
    this.openHandles++;
    let closed = false;
    return {
      systemId: id,
      processId: pid,
      properties: async () => ({ exited: false, raw: {} }),
      terminate: async () => {},
      onExit: (l) => sub(this.#procListeners, `${id}/${pid}`, l),
      close: async () => { if (!closed) { closed = true; this.openHandles--; } },
    };
  }
}
