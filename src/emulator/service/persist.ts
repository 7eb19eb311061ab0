/**
 * Optional persistence of compute systems (`--state-dir`): `DIR/state.json`, written atomically
 * (temp file + rename) shortly after each change, so a restarted service process keeps its systems
 * the way real HCS systems outlive a controller. Handles and connections are never persisted.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SystemStore } from './state.ts';
import type { ProcessRecord, SystemRecord } from './types.ts';

const FILE = 'state.json';
const FORMAT = 1;
/** Coalesces bursts of changes (hundreds of calls) into one write. */
const DEBOUNCE_MS = 20;

type StoredProcess = Omit<ProcessRecord, 'handles' | 'timer' | 'pipes'>;
type StoredSystem = Omit<SystemRecord, 'handles' | 'pendingShutdowns' | 'processes'> & { processes: StoredProcess[] };

interface StateFile {
  format: number;
  nextPid: number;
  systems: StoredSystem[];
}

function toStored(sys: SystemRecord): StoredSystem {
  const { handles: _h, pendingShutdowns: _p, processes, ...rest } = sys;
  const procs = [...processes.values()].map(({ handles: _ph, timer: _t, pipes: _pp, ...p }) => p);
  return { ...rest, processes: procs };
}

function fromStored(s: StoredSystem): SystemRecord {
  const processes = new Map<number, ProcessRecord>();
  for (const p of s.processes) processes.set(p.pid, { ...p, handles: new Set() });
  return { ...s, processes, handles: new Set(), pendingShutdowns: [] };
}

/** Writes and reads the state file of one service. */
export class Persister {
  private timer?: NodeJS.Timeout;
  private store?: SystemStore;

  constructor(private readonly dir: string, private readonly log: (line: string) => void) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Attaches the store to save (the store is built with `schedule` as its change hook). */
  attach(store: SystemStore): void {
    this.store = store;
  }

  /** Requests a save soon. */
  schedule(): void {
    if (this.timer || !this.store) return;
    this.timer = setTimeout(() => this.flush(), DEBOUNCE_MS);
  }

  /** Saves now (also used at shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.store) return;
    const data: StateFile = { format: FORMAT, nextPid: this.store.pidCounter, systems: [...this.store.systems.values()].map(toStored) };
    const path = join(this.dir, FILE);
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(data), { mode: 0o600 });
      renameSync(tmp, path);
    } catch (err) {
      this.log(`cannot save ${path}: ${(err as Error).message}`);
    }
  }

  /** Loads the saved systems into the store; a missing or unreadable file means an empty start. */
  load(store: SystemStore): number {
    const path = join(this.dir, FILE);
    let data: StateFile;
    try {
      data = JSON.parse(readFileSync(path, 'utf8')) as StateFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`ignoring unreadable ${path}: ${(err as Error).message}`);
      return 0;
    }
    if (data.format !== FORMAT || !Array.isArray(data.systems)) {
      this.log(`ignoring ${path}: unknown format`);
      return 0;
    }
    store.restore(data.systems.map(fromStored), data.nextPid);
    return data.systems.length;
  }
}
