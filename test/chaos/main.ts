/**
 * `npm run chaos -- [--seconds N] [--seed S] [--sequences N] [--from K]`
 *
 * Random (seeded) sequences of folder edits, controller kill -9, emulator crashes, service
 * restarts, injected faults/latency/hangs and foreign systems against the real CLI controller
 * (`hcs-reconciler run`, a child process) on a private emulator service. After each sequence: the
 * folder is repaired, faults are cleared, the controller must converge (quiesce), then every
 * invariant is checked from the emulator's call log and system list. Sequence k uses the PRNG seed
 * `<seed>:<k>`, so `--seed S --from k --sequences 1` replays its operations (timing is real, so
 * interleavings may differ). Exit 1 with the seed and the op list on the first violation.
 * `CHAOS_DEBUG=1` runs the controller at debug level and, on a failed quiesce, prints its whole log,
 * its last `/status` and the emulator's call log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../src/emulator/launcher.ts';
import { ensureEmulatorLibrary } from '../../src/emulator/native/build.mjs';
import type { EmulatorControl } from '../../src/emulator/control.ts';
import { parseSystemId } from '../../reconciler/identity.ts';
import { callEpoch, checkInvariants, ControllerChild, Folder, matchesDesired, Rng, sleep, waitFor, type Spec } from './lib.ts';

interface Args { seconds: number; seed: string; sequences: number; from: number; verbose: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { seconds: 60, seed: String(Math.floor(Math.random() * 2 ** 31)), sequences: Infinity, from: 0, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${f} needs a value`);
      return v;
    };
    if (f === '--seconds') a.seconds = Number(val());
    else if (f === '--seed') a.seed = val();
    else if (f === '--sequences') a.sequences = Number(val());
    else if (f === '--from') a.from = Number(val());
    else if (f === '--verbose') a.verbose = true;
    else throw new Error(`unknown flag ${f} (flags: --seconds N, --seed S, --sequences N, --from K, --verbose)`);
  }
  return a;
}

const NAMES = ['web', 'db', 'api', 'cache', 'queue', 'worker', 'web-0123456789ab'];
const FAULT_OPS = ['Create', 'Start', 'ShutDown', 'Terminate', 'Enumerate', 'Open', 'GetProperties'];
const TRANSIENT = ['HCS_E_OPERATION_TIMEOUT', 'E_FAIL', 'HCS_E_SERVICE_NOT_AVAILABLE', 'HCS_E_INVALID_STATE'];
const OP_WEIGHTS: Array<[string, number]> = [
  ['add', 8], ['edit', 10], ['relabel', 4], ['toggle', 4], ['delete', 5], ['corrupt', 8], ['rename', 4], ['swap', 5],
  ['hide', 4], ['kill', 6], ['killMidApply', 6], ['crash', 6], ['serviceRestart', 4], ['fault', 8], ['latency', 4], ['hang', 3], ['foreign', 5],
];

interface SequenceResult {
  ops: string[];
  kinds: Map<string, number>;
  checks: number;
  calls: number;
  violations: string[];
  log: string[];
  ms: number;
}

class Sequence {
  readonly ops: string[] = [];
  readonly kinds = new Map<string, number>();
  readonly foreignIds = new Set<string>();
  readonly pids = new Set<number>();
  readonly violations: string[] = [];
  child!: ControllerChild;
  folder: Folder;
  owner: string;
  #gen = 0;

  constructor(readonly k: number, readonly rng: Rng, readonly control: EmulatorControl, readonly socketPath: string, readonly base: string) {
    this.owner = `chaos-${k}`;
    this.folder = new Folder(join(base, `seq${k}`), this.owner);
  }

  log(kind: string, detail: string): void {
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    this.ops.push(`${kind} ${detail}`.trim());
  }

  spec(name: string): Spec {
    return { name, memoryMB: this.rng.pick([256, 512, 768, 1024]), state: this.rng.chance(0.85) ? 'Running' : 'Stopped', label: `g${++this.#gen}` };
  }

  async startController(): Promise<void> {
    this.child = await ControllerChild.start({ owner: this.owner, manifests: this.folder.link, socketPath: this.socketPath, extraArgs: process.env.CHAOS_DEBUG ? ['--log-level', 'debug'] : [] });
    this.pids.add(this.child.pid);
  }

  async restart(): Promise<void> {
    await this.child.kill9();
    if (this.rng.chance(0.5)) await sleep(this.rng.int(0, 800));
    await this.startController();
  }

  validFiles(): string[] {
    return [...this.folder.files.keys()].sort();
  }

  async ourLive(): Promise<string[]> {
    return (await this.control.list()).filter((s) => s.owner === this.owner && s.state !== 'Stopped').map((s) => s.id).sort();
  }

  async op(kind: string): Promise<void> {
    const r = this.rng;
    const files = this.validFiles();
    const anyFile = files.length > 0 ? r.pick(files) : undefined;
    switch (kind) {
      case 'add': {
        const used = new Set([...this.folder.files.values()].map((e) => e.spec.name));
        const free = NAMES.filter((n) => !used.has(n));
        if (free.length === 0) return this.op('edit');
        const name = r.pick(free);
        const file = `${name}.yaml`;
        this.folder.write(file, { ...this.spec(name), state: 'Running' });
        return this.log(kind, file);
      }
      case 'edit': case 'relabel': case 'toggle': {
        if (!anyFile) return this.op('add');
        const old = this.folder.files.get(anyFile)!.spec;
        const next: Spec = kind === 'edit' ? { ...old, memoryMB: old.memoryMB === 512 ? 1024 : 512, label: `g${++this.#gen}` }
          : kind === 'relabel' ? { ...old, label: `g${++this.#gen}` } : { ...old, state: old.state === 'Running' ? 'Stopped' : 'Running' };
        this.folder.write(anyFile, next);
        return this.log(kind, `${anyFile} ${kind === 'toggle' ? next.state : `memory ${next.memoryMB}`}`);
      }
      case 'delete':
        if (!anyFile) return this.op('add');
        this.folder.remove(anyFile);
        return this.log(kind, anyFile);
      case 'corrupt': {
        if (!anyFile) return this.op('add');
        const how = this.folder.corrupt(anyFile, r.int(0, 4));
        return this.log(kind, `${anyFile} (${how})`);
      }
      case 'rename': {
        if (!anyFile) return this.op('add');
        const to = anyFile.endsWith('.yaml') ? anyFile.replace(/\.yaml$/, '.yml') : anyFile.replace(/\.yml$/, '.yaml');
        this.folder.rename(anyFile, to);
        return this.log(kind, `${anyFile} -> ${to}`);
      }
      case 'swap': {
        const edit = anyFile && r.chance(0.6) ? { file: anyFile, spec: { ...this.folder.files.get(anyFile)!.spec, memoryMB: r.pick([256, 640, 2048]), label: `g${++this.#gen}` } } : undefined;
        this.folder.swap(edit);
        return this.log(kind, edit ? `with ${edit.file} memory ${edit.spec.memoryMB}` : 'unchanged');
      }
      case 'hide': {
        const how = r.chance(0.5) ? 'vanished' : 'empty';
        this.folder.hide(how);
        this.log(kind, how);
        await sleep(r.int(200, 1500));
        this.folder.repair();
        return this.log('restore', '');
      }
      case 'kill':
        this.log(kind, `pid ${this.child.pid}`);
        return this.restart();
      case 'killMidApply': {
        // Change something, then kill -9 as soon as the controller made its first HCS call for it.
        const before = (await this.control.callLog()).length;
        if (r.chance(0.5)) await this.control.latency({ op: r.pick(['Create', 'Start']), ms: r.int(100, 600) });
        if (anyFile && r.chance(0.7)) {
          const old = this.folder.files.get(anyFile)!.spec;
          this.folder.write(anyFile, { ...old, state: 'Running', memoryMB: old.memoryMB === 768 ? 256 : 768, label: `g${++this.#gen}` });
        } else await this.op('add');
        const nth = r.int(1, 3);
        const pid = this.child.pid;
        await waitFor(async () => (await this.control.callLog()).slice(before).filter((c) => c.clientPid === pid && c.op !== 'Enumerate').length >= nth, 'a call to kill at', 5000, 10).catch(() => undefined);
        this.log(kind, `after ${nth} call(s), pid ${pid}`);
        return this.restart();
      }
      case 'crash': {
        const live = await this.ourLive();
        if (live.length === 0) return this.op('add');
        const id = r.pick(live);
        await this.control.crash(id).catch(() => undefined);
        return this.log(kind, id);
      }
      case 'serviceRestart':
        await this.control.restartService({ keepSystems: true });
        return this.log(kind, '');
      case 'fault': {
        const op = r.pick(FAULT_OPS);
        const hresult = r.pick(TRANSIENT);
        const count = r.int(1, 3);
        await this.control.fault({ op, hresult, count });
        return this.log(kind, `${op} ${hresult} x${count}`);
      }
      case 'latency': {
        const op = r.pick([...FAULT_OPS, '*']);
        const ms = r.int(50, 1500);
        await this.control.latency({ op, ms });
        return this.log(kind, `${op} ${ms}ms`);
      }
      case 'hang': {
        const op = r.pick(['Create', 'Start', 'ShutDown', 'Open']);
        await this.control.hang({ op, count: 1 });
        return this.log(kind, op);
      }
      case 'foreign': {
        const name = r.pick(NAMES);
        const hex = Array.from({ length: 12 }, () => r.pick([...'0123456789abcdef'])).join('');
        const ownerKind = r.int(0, 3);
        const id = ownerKind === 3 ? `${name}-legacy` : r.pick([name, `${name}-${hex}`, `${name}-${hex}-uvm`]);
        const owner = ownerKind === 3 ? this.owner : r.pick(['docker', 'containerd-shim-runhcs-v1.exe', 'chaos-other']);
        if (parseSystemId(id) && owner === this.owner) return;
        const state = r.pick(['Running', 'Paused', 'Created'] as const);
        const ok = await this.control.createForeign({ id, owner, state, shouldTerminateOnLastHandleClosed: r.chance(0.3) }).then(() => true, () => false);
        if (ok) this.foreignIds.add(id);
        return this.log(kind, `${id} owner=${owner} ${state}`);
      }
    }
  }
}

function pickKind(r: Rng): string {
  const total = OP_WEIGHTS.reduce((s, [, w]) => s + w, 0);
  let x = r.next() * total;
  for (const [k, w] of OP_WEIGHTS) if ((x -= w) < 0) return k;
  return 'edit';
}

async function runSequence(k: number, seed: string, control: EmulatorControl, socketPath: string, base: string, verbose: boolean): Promise<SequenceResult> {
  const t0 = Date.now();
  const rng = new Rng(`${seed}:${k}`);
  await control.clearFaults();
  await control.reset();
  const s = new Sequence(k, rng, control, socketPath, base);
  const initial = rng.int(2, 4);
  for (let i = 0; i < initial; i++) await s.op('add');
  await s.startController();
  try {
    const n = rng.int(6, 14);
    for (let i = 0; i < n; i++) {
      const kind = pickKind(rng);
      await s.op(kind);
      if (verbose) process.stderr.write(`  [${k}] ${s.ops[s.ops.length - 1]}\n`);
      await sleep(rng.int(0, 400));
    }
    // Quiesce: folder repaired, faults cleared, the controller running; then it must converge.
    s.folder.repair();
    await control.clearFaults();
    if (!s.child.alive) await s.startController();
    const fingerprint = s.folder.fingerprint();
    const desired = s.folder.desired();
    const since = Date.now();
    s.child.hup();
    const converged = await waitFor(async () => {
      const st = await s.child.status().catch(() => undefined);
      if (!st?.converged || (st.lastPassAt ?? 0) < since || st.pruneHold) return false;
      return matchesDesired(await control.list(), s.owner, desired);
    }, 'convergence', 60_000, 100).then(() => true, (err: Error) => {
      s.violations.push(`quiesce: ${err.message}`);
      return false;
    });
    if (!converged && process.env.CHAOS_DEBUG) s.child.lines.push(`STATUS ${JSON.stringify(await s.child.status().catch((e) => String(e)))}`);
    if (converged) {
      // 6. one handle per running system of ours, nothing else (the runner holds none)
      const want = [...desired.values()].filter((d) => d.state === 'Running').length;
      const handles = await waitFor(async () => ((await control.status()).handles === want ? want : undefined), 'handles', 5000).catch(async () => (await control.status()).handles);
      if (handles !== want) s.violations.push(`inv6: service holds ${handles} handles with ${want} running system(s) of ours`);
      const st = await s.child.status();
      if (st.manifestErrors.length > 0) s.violations.push(`quiesce: manifest errors remain: ${JSON.stringify(st.manifestErrors)}`);
    }
    if (s.folder.fingerprint() !== fingerprint) s.violations.push('security: the manifests folder changed while only the controller ran');
    const systems = await control.list();
    const calls = await control.callLog();
    if (!converged && process.env.CHAOS_DEBUG) for (const c of calls) s.child.lines.push(`CALL ${JSON.stringify(c)}`);
    const epoch = await callEpoch(control);
    await s.child.stop();
    const after = await waitFor(async () => ((await control.status()).handles === 0 ? 0 : undefined), 'handles closed', 5000).catch(async () => (await control.status()).handles);
    if (after !== 0) s.violations.push(`inv6: ${after} handle(s) left after the controller exited`);
    const { violations, checks } = checkInvariants({
      owner: s.owner, controllerPids: s.pids, foreignIds: s.foreignIds, versions: s.folder.versions, desired, calls, systems, callEpoch: epoch,
      // 1 s minimum backoff after any failed step: ≤ 61 attempts per minute, each at most
      // Open + Create/Start/ShutDown/Terminate + GetProperties + CloseSystem (4 calls): 244.
      maxCallsPerIdPerMinute: 244,
      // ≤ 11 attempts per 10 s per name, a failed stop costs 2 failed calls (ShutDown, Terminate): 22.
      maxFailuresPerName10s: 22,
    });
    s.violations.push(...violations);
    return { ops: s.ops, kinds: s.kinds, checks: checks + 4, calls: calls.length, violations: s.violations, log: process.env.CHAOS_DEBUG ? s.child.lines.slice() : s.child.lines.slice(-60), ms: Date.now() - t0 };
  } finally {
    await s.child.kill9();
    s.folder.unlinkAll();
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  ensureEmulatorLibrary();
  const base = mkdtempSync(join(tmpdir(), 'hcs-chaos-'));
  const socketPath = join(base, 'emu.sock');
  const emu = await startEmulator({ socketPath });
  const started = Date.now();
  const totals = new Map<string, number>();
  let sequences = 0;
  let ops = 0;
  let checks = 0;
  let calls = 0;
  process.stdout.write(`chaos: seed ${args.seed}, ${args.seconds} s, from sequence ${args.from}\n`);
  try {
    for (let k = args.from; sequences < args.sequences && Date.now() - started < args.seconds * 1000; k++) {
      const r = await runSequence(k, args.seed, emu.control, socketPath, base, args.verbose);
      sequences++;
      ops += r.ops.length;
      checks += r.checks;
      calls += r.calls;
      for (const [kind, n] of r.kinds) totals.set(kind, (totals.get(kind) ?? 0) + n);
      const summary = [...r.kinds].sort().map(([kd, n]) => `${kd} ${n}`).join(', ');
      process.stdout.write(`seq ${k}: ${r.ops.length} ops (${summary}), ${r.calls} HCS calls, ${r.checks} checks, ${(r.ms / 1000).toFixed(1)} s: ${r.violations.length === 0 ? 'ok' : 'FAILED'}\n`);
      if (r.violations.length > 0) {
        process.stdout.write(`\nINVARIANT VIOLATION in sequence ${k} (seed ${args.seed})\n`);
        for (const v of r.violations) process.stdout.write(`  - ${v}\n`);
        process.stdout.write(`operations:\n${r.ops.map((o, i) => `  ${i + 1}. ${o}`).join('\n')}\n`);
        process.stdout.write(`controller log (last lines):\n${r.log.map((l) => `  ${l}`).join('\n')}\n`);
        process.stdout.write(`reproduce: npm run chaos -- --seed ${args.seed} --from ${k} --sequences 1\n`);
        return 1;
      }
    }
  } finally {
    await emu.stop();
    rmSync(base, { recursive: true, force: true });
  }
  const byKind = [...totals].sort().map(([k, n]) => `${k} ${n}`).join(', ');
  process.stdout.write(`\nchaos passed: seed ${args.seed}, ${sequences} sequences, ${ops} operations (${byKind}), ${calls} HCS calls, ${checks} invariant checks, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  return 0;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`chaos runner error: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
