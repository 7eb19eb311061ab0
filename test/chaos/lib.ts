/**
 * Shared by the chaos runner (test/chaos/main.ts) and the deterministic invariant tests
 * (test/invariants/): a seeded PRNG, the real CLI controller as a child process, a model of the
 * manifests folder (what a correct controller must want), and the invariant checks, which read
 * the emulator's call log and system list rather than anything the controller says about itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmulatorCall, EmulatorControl, EmulatorSystemInfo } from '../../src/emulator/control.ts';
import { parseManifestFile } from '../../src/manifest/index.ts';
import { parseSystemId } from '../../reconciler/identity.ts';
import type { ControllerStatus } from '../../reconciler/index.ts';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const bin = join(root, 'src/cli/bin.mjs');

// ---------------------------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------------------------

/** mulberry32: small, fast, good enough for choosing operations; same seed, same choices. */
export class Rng {
  #s: number;
  constructor(seed: string | number) {
    this.#s = typeof seed === 'number' ? seed >>> 0 : createHash('sha256').update(seed).digest().readUInt32LE(0);
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------------------------

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a truthy value or the deadline passes (then throw `what`). */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The controller under test: `hcs-reconciler run` as a child process
// ---------------------------------------------------------------------------------------------

export interface ChildOptions {
  owner: string;
  manifests: string;
  socketPath: string;
  allowEmpty?: boolean;
  resync?: string;
  extraArgs?: string[];
}

/** One `run` process. kill -9 is a real SIGKILL: no cleanup, handles dropped with the socket. */
export class ControllerChild {
  readonly pid: number;
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  #child: ChildProcess;
  #alive = true;

  private constructor(child: ChildProcess, readonly port: number) {
    this.#child = child;
    this.pid = child.pid!;
    let buf = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      buf += c;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const l of parts) {
        this.lines.push(l);
        if (this.lines.length > (process.env.CHAOS_DEBUG ? 20000 : 400)) this.lines.shift();
      }
    });
    child.stdout!.resume();
    this.exited = new Promise((resolve) => child.once('exit', (code) => {
      this.#alive = false;
      resolve(code);
    }));
  }

  static async start(o: ChildOptions): Promise<ControllerChild> {
    const port = await freePort();
    const args = [bin, '--owner', o.owner, '--log-format', 'json', '--emulator-socket', o.socketPath, 'run', '--manifests', o.manifests,
      '--listen', `127.0.0.1:${port}`, '--resync', o.resync ?? '5s', '--settle', '50ms', ...(o.allowEmpty ? ['--allow-empty'] : []), ...(o.extraArgs ?? [])];
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, HCS_EMULATOR_SOCKET: o.socketPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    const c = new ControllerChild(child, port);
    await waitFor(async () => (await c.status().catch(() => undefined)) ?? (!c.alive && Promise.reject(new Error(`controller exited early:\n${c.lines.join('\n')}`))), 'controller endpoint', 30_000, 50);
    return c;
  }

  get alive(): boolean {
    return this.#alive;
  }

  async status(): Promise<ControllerStatus> {
    const res = await fetch(`http://127.0.0.1:${this.port}/status`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as ControllerStatus;
  }

  async kill9(): Promise<void> {
    if (!this.#alive) return;
    this.#child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGHUP: rescan the folder and reconcile now. */
  hup(): void {
    if (this.#alive) this.#child.kill('SIGHUP');
  }

  /** SIGTERM: the controller closes its handles; workloads keep running. */
  async stop(): Promise<number | null> {
    if (!this.#alive) return this.exited;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 15_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

// ---------------------------------------------------------------------------------------------
// Manifests
// ---------------------------------------------------------------------------------------------

export interface Spec {
  name: string;
  memoryMB: number;
  state: 'Running' | 'Stopped';
  label: string;
}

/** A small process-isolated container with a short restart backoff (keeps sequences short). */
export function manifestYaml(s: Spec): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${s.name}
  labels: { chaos: "${s.label}" }
spec:
  state: ${s.state}
  stopTimeout: 2s
  backoff: { initial: 1s, max: 2s, resetAfter: 10m }
  container:
    layers:
      - id: aa54c278-e19b-5a7c-bbf7-91e0123aa69a
        path: 'C:\\layers\\base'
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
    memoryMB: ${s.memoryMB}
`;
}

/** The HCS id the controller of `owner` must use for this spec (rendered by src/manifest). */
export function idFor(s: Spec, owner: string): string {
  const r = parseManifestFile(`${s.name}.yaml`, Buffer.from(manifestYaml(s)), { owner });
  const m = r.manifests[0];
  if (!m || r.errors.length > 0) throw new Error(`internal: chaos manifest invalid: ${JSON.stringify(r.errors)}`);
  return m.parts[0]!.id;
}

/** What the desired state is at one moment: name → { id, state }. */
export type DesiredModel = Map<string, { id: string; state: 'Running' | 'Stopped' }>;

/** One version of the model, stamped with the wall clock (the emulator's call log uses it too). */
export interface ModelVersion {
  at: number;
  desired: DesiredModel;
}

// ---------------------------------------------------------------------------------------------
// The folder: DIR/current is a symlink to DIR/v<N> (git-sync layout); writes go to the target
// ---------------------------------------------------------------------------------------------

interface FileEntry {
  spec: Spec;
  /** Content is currently garbage/invalid; the spec above is the last valid one. */
  corrupt: boolean;
}

/** The manifests folder and the model of what it declares. */
export class Folder {
  readonly link: string;
  readonly versions: ModelVersion[] = [];
  readonly files = new Map<string, FileEntry>();
  #gen = 0;
  #target: string;
  /** The link points nowhere or to an empty folder (restored before quiescing). */
  hidden: 'vanished' | 'empty' | undefined;

  constructor(readonly dir: string, readonly owner: string) {
    mkdirSync(dir, { recursive: true });
    this.#target = this.#newTarget();
    this.link = join(dir, 'current');
    symlinkSync(this.#target, this.link);
    this.#record();
  }

  #newTarget(): string {
    const t = join(this.dir, `v${++this.#gen}`);
    mkdirSync(t);
    return t;
  }

  /** The model now: every file's last valid spec (an invalid file keeps its last valid one). */
  desired(): DesiredModel {
    const m: DesiredModel = new Map();
    for (const f of this.files.values()) m.set(f.spec.name, { id: idFor(f.spec, this.owner), state: f.spec.state });
    return m;
  }

  #record(): void {
    this.versions.push({ at: Date.now(), desired: this.desired() });
  }

  fileFor(name: string): string | undefined {
    for (const [file, e] of this.files) if (e.spec.name === name) return file;
    return undefined;
  }

  /** Write a valid manifest (plain writeFileSync: truncate, then write, as editors do). */
  write(file: string, spec: Spec): void {
    this.files.set(file, { spec, corrupt: false });
    this.#record();
    writeFileSync(join(this.#target, file), manifestYaml(spec));
  }

  remove(file: string): void {
    this.files.delete(file);
    this.#record();
    rmSync(join(this.#target, file), { force: true });
  }

  rename(from: string, to: string): void {
    const e = this.files.get(from)!;
    this.files.delete(from);
    this.files.set(to, e);
    renameSync(join(this.#target, from), join(this.#target, to));
  }

  /** Make a file invalid in one of several ways; the model keeps its last valid spec. */
  corrupt(file: string, how: number): string {
    const e = this.files.get(file)!;
    e.corrupt = true;
    const good = manifestYaml(e.spec);
    const kinds: Array<[string, string | Buffer]> = [
      ['half-written', good.slice(0, Math.floor(good.length / 2))],
      ['bad field', good.replace(/memoryMB: \d+/, 'memoryMB: 0')],
      ['garbage', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0x13])],
      ['empty', ''],
      ['yaml error', `${good}  : [unclosed\n`],
    ];
    const [what, content] = kinds[how % kinds.length]!;
    writeFileSync(join(this.#target, file), content);
    return what;
  }

  /** git-sync style: build a new folder and atomically repoint the link (optionally editing one spec). */
  swap(edit?: { file: string; spec: Spec }): void {
    const next = this.#newTarget();
    for (const [file, e] of this.files) writeFileSync(join(next, file), e.corrupt ? readFileSync(join(this.#target, file)) : manifestYaml(e.spec));
    if (edit) {
      this.files.set(edit.file, { spec: edit.spec, corrupt: false });
      writeFileSync(join(next, edit.file), manifestYaml(edit.spec));
    }
    this.#repoint(next);
    const old = this.#target;
    this.#target = next;
    this.#record();
    rmSync(old, { recursive: true, force: true });
  }

  #repoint(target: string): void {
    const tmp = join(this.dir, `.tmp-link-${this.#gen}`);
    symlinkSync(target, tmp);
    renameSync(tmp, this.link);
  }

  /** The folder vanishes (dangling link) or becomes empty (link to an empty folder); the model does not change. */
  hide(how: 'vanished' | 'empty'): void {
    this.hidden = how;
    if (how === 'vanished') this.#repoint(join(this.dir, 'does-not-exist'));
    else this.#repoint(this.#newTarget());
  }

  /** Undo hide() and rewrite every corrupt file with its last valid content. */
  repair(): void {
    if (this.hidden) this.#repoint(this.#target);
    this.hidden = undefined;
    for (const [file, e] of this.files) {
      if (!e.corrupt) continue;
      e.corrupt = false;
      writeFileSync(join(this.#target, file), manifestYaml(e.spec));
    }
  }

  /** name, size, mtime, inode of every entry below dir: the controller must never change them. */
  fingerprint(): string {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d).sort()) {
        const p = join(d, e);
        const st = lstatSync(p);
        out.push(`${p} ${st.mode} ${st.size} ${st.mtimeMs} ${st.ino}${st.isSymbolicLink() ? ` -> ${readlinkSync(p)}` : ''}`);
        if (st.isDirectory()) walk(p);
      }
    };
    walk(this.dir);
    return out.join('\n');
  }

  exists(): boolean {
    try {
      return statSync(this.link).isDirectory();
    } catch {
      return false;
    }
  }

  unlinkAll(): void {
    try {
      unlinkSync(this.link);
    } catch { /* gone */ }
  }
}

// ---------------------------------------------------------------------------------------------
// Invariants (from the emulator's call log and system list)
// ---------------------------------------------------------------------------------------------

/** Ops that act on an existing system (Create and Enumerate do not). */
export const TOUCH_OPS = new Set(['open', 'start', 'pause', 'resume', 'shutdown', 'terminate', 'getproperties', 'modify', 'createprocess', 'openprocess', 'closesystem']);
const STOP_OPS = new Set(['shutdown', 'terminate']);

export interface CheckContext {
  owner: string;
  controllerPids: Set<number>;
  /** Ids of systems of other owners (and of ours with ids we did not make) that exist. */
  foreignIds: Set<string>;
  versions: ModelVersion[];
  /** Final desired state. */
  desired: DesiredModel;
  calls: EmulatorCall[];
  /** Wall-clock time of the service's call-log zero (call.at is ms since the service started). */
  callEpoch: number;
  systems: EmulatorSystemInfo[];
  /** Bound for invariant 5: calls per system id in any 60 s window. */
  maxCallsPerIdPerMinute: number;
  /** Bound for invariant 5: failed calls per manifest name in any 10 s window. */
  maxFailuresPerName10s: number;
}

/** Violations (empty when all invariants hold) and how many individual assertions were made. */
export function checkInvariants(c: CheckContext): { violations: string[]; checks: number } {
  const v: string[] = [];
  let checks = 0;
  const ours = c.calls.filter((call) => c.controllerPids.has(call.clientPid));
  // 1. foreign systems: never opened, paused, stopped, terminated (not even named by such a call)
  for (const call of ours) {
    checks++;
    if (call.id && c.foreignIds.has(call.id) && TOUCH_OPS.has(call.op.toLowerCase())) v.push(`inv1: ${call.op} on foreign system ${call.id} (seq ${call.seq})`);
  }
  // 2 + 3. every stop is justified by some model version at or before it that does not want this id running
  for (const call of ours) {
    if (!STOP_OPS.has(call.op.toLowerCase()) || !call.id) continue;
    const parsed = parseSystemId(call.id);
    if (!parsed) continue;
    checks++;
    const justified = c.versions.some((ver) => ver.at <= call.at + c.callEpoch && !(ver.desired.get(parsed.name)?.id === call.id && ver.desired.get(parsed.name)?.state === 'Running'));
    if (!justified) v.push(`inv2/3: ${call.op} of ${call.id} at ${new Date(call.at + c.callEpoch).toISOString()} while every model version so far wanted it running (seq ${call.seq})`);
  }
  // 3. converged: exactly the desired systems live, no duplicates
  const live = c.systems.filter((s) => s.owner.toLowerCase() === c.owner.toLowerCase() && s.state !== 'Stopped');
  const byName = new Map<string, EmulatorSystemInfo[]>();
  for (const s of live) {
    const p = parseSystemId(s.id);
    if (!p) continue;
    byName.set(p.name, [...(byName.get(p.name) ?? []), s]);
  }
  for (const [name, want] of c.desired) {
    const got = byName.get(name) ?? [];
    checks++;
    if (want.state === 'Running') {
      if (got.length !== 1) v.push(`converge: ${name} wants 1 live system ${want.id}, HCS has [${got.map((s) => `${s.id}:${s.state}`).join(', ')}]`);
      else if (got[0]!.id !== want.id || got[0]!.state !== 'Running') v.push(`converge: ${name} wants ${want.id}:Running, HCS has ${got[0]!.id}:${got[0]!.state}`);
    } else if (got.length > 0) {
      v.push(`converge: ${name} is desired Stopped, HCS has [${got.map((s) => `${s.id}:${s.state}`).join(', ')}]`);
    }
  }
  for (const [name, got] of byName) if (!c.desired.has(name)) v.push(`converge: ${name} has no manifest but HCS has [${got.map((s) => s.id).join(', ')}]`);
  // 1 (again): foreign systems still exist
  const present = new Set(c.systems.map((s) => s.id));
  checks += c.foreignIds.size;
  for (const id of c.foreignIds) if (!present.has(id)) v.push(`inv1: foreign system ${id} disappeared`);
  // 5. bounded calls per system per minute, bounded failures per name
  const perId = new Map<string, number[]>();
  const failPerName = new Map<string, number[]>();
  for (const call of ours) {
    if (!call.id) continue;
    perId.set(call.id, [...(perId.get(call.id) ?? []), call.at]);
    const name = parseSystemId(call.id)?.name;
    if (call.hresult !== 0 && name) failPerName.set(name, [...(failPerName.get(name) ?? []), call.at]);
  }
  checks += perId.size + failPerName.size;
  for (const [id, times] of perId) {
    const n = maxInWindow(times, 60_000);
    if (n > c.maxCallsPerIdPerMinute) v.push(`inv5: ${n} calls on ${id} within 60 s (bound ${c.maxCallsPerIdPerMinute})`);
  }
  for (const [name, times] of failPerName) {
    const n = maxInWindow(times, 10_000);
    if (n > c.maxFailuresPerName10s) v.push(`inv5: ${n} failed calls for ${name} within 10 s (bound ${c.maxFailuresPerName10s})`);
  }
  return { violations: v, checks };
}

/** Largest number of timestamps within any window of `ms`. */
export function maxInWindow(times: number[], ms: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; j < t.length; j++) {
    while (t[j]! - t[i]! >= ms) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

/** Wall-clock time at which the service's call log starts (its `at` is relative to its start). */
export async function callEpoch(control: EmulatorControl): Promise<number> {
  const t0 = Date.now();
  const { uptimeMs } = await control.status();
  return Math.round((t0 + Date.now()) / 2 - uptimeMs);
}

/** Live systems of an owner, as `id:state`, sorted. */
export async function liveOf(control: EmulatorControl, owner: string): Promise<string[]> {
  return (await control.list()).filter((s) => s.owner === owner && s.state !== 'Stopped').map((s) => `${s.id}:${s.state}`).sort();
}

/** HCS equals the model (same check as in checkInvariants, as a boolean for polling). */
export function matchesDesired(systems: EmulatorSystemInfo[], owner: string, desired: DesiredModel): boolean {
  // Systems with our Owner but an id we never make are reported, not managed: not part of the comparison.
  const live = systems.filter((s) => s.owner === owner && s.state !== 'Stopped' && parseSystemId(s.id));
  const want = [...desired.values()].filter((d) => d.state === 'Running').map((d) => `${d.id}:Running`).sort();
  return JSON.stringify(live.map((s) => `${s.id}:${s.state}`).sort()) === JSON.stringify(want);
}
