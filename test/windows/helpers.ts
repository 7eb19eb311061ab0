/**
 * Shared by the gated Windows suites (test/windows/*.test.ts): the gate, the JSON evidence report,
 * the real CLI, and manifests over the layer folders the workflow fetches with Docker. The
 * controller itself is driven exactly as the emulator tests drive it (test/chaos/lib.ts
 * ControllerChild: `run` with a free --listen port, /status polled, kill -9 = TerminateProcess).
 * On Windows the CLI ignores --emulator-socket and opens System32's computecore.dll.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ControllerStatus, SystemStatus } from '../../reconciler/status.ts';
import type { HcsClient } from '../../reconciler/ports.ts';
import { bin, ControllerChild, root, waitFor } from '../chaos/lib.ts';

/** Every gated suite runs only here; elsewhere it is skipped with this reason. */
export const FUNCTIONAL = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1';

/** The skip reason (false = run): the gate plus the suite's own prerequisites. */
export function gate(needs: Array<[boolean, string]> = []): string | false {
  if (!FUNCTIONAL) return 'needs Windows with HCS and HCS_FUNCTIONAL=1 (real computecore.dll, vmcompute.dll, computenetwork.dll)';
  const missing = needs.filter(([ok]) => !ok).map(([, why]) => why);
  return missing.length > 0 ? missing.join('; ') : false;
}

/** Owners of the suites start with this; anything else (Docker's `docker`, ...) is foreign. */
export const OWNER_PREFIX = 'hcs-reconciler-functional';

/** Docker's nanoserver:ltsc2022 layer folders, topmost first (HCS_TEST_LAYERS, `;`-separated). */
export const dockerLayers = (process.env.HCS_TEST_LAYERS ?? '').split(';').filter((l) => l !== '');

/** One observation for the evidence report. */
export interface Observation {
  what: string;
  ok: boolean;
  hresult?: string;
  ms: number;
  data?: unknown;
}

/**
 * The JSON evidence report of one suite: `<HCS_EVIDENCE_DIR>/<suite>.json` (default: the temp
 * folder), uploaded by the workflow for a maintainer to commit (docs/hcs-fidelity.md).
 */
export class Evidence {
  readonly report: { suite: string; startedAt: string; host: Record<string, unknown>; observations: Observation[] };

  constructor(readonly suite: string) {
    this.report = { suite, startedAt: new Date().toISOString(), host: { node: process.version, platform: process.platform }, observations: [] };
  }

  /** Runs `fn`, recording its outcome, time and (on failure) HRESULT and message; rethrows. */
  async observe<T>(what: string, fn: () => Promise<T> | T, data?: (r: T) => unknown): Promise<T> {
    const t0 = performance.now();
    try {
      const r = await fn();
      this.report.observations.push({ what, ok: true, ms: Math.round(performance.now() - t0), ...(data ? { data: data(r) } : {}) });
      return r;
    } catch (err) {
      const e = err as { hresult?: number; message?: string; resultDocument?: string };
      this.report.observations.push({
        what, ok: false, ms: Math.round(performance.now() - t0),
        ...(typeof e.hresult === 'number' ? { hresult: `0x${(e.hresult >>> 0).toString(16).toUpperCase()}` } : {}),
        data: { message: e.message ?? String(err), resultDocument: e.resultDocument },
      });
      throw err;
    }
  }

  note(what: string, data: unknown, ok = true): void {
    this.report.observations.push({ what, ok, ms: 0, data });
  }

  write(): string {
    const dir = process.env.HCS_EVIDENCE_DIR ?? tmpdir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${this.suite}.json`);
    writeFileSync(path, `${JSON.stringify(this.report, null, 2)}\n`);
    return path;
  }
}

/** The foreign systems (not of a functional suite), as `id owner state`, sorted. */
export async function foreignSystems(hcs: HcsClient): Promise<string[]> {
  return (await hcs.enumerate()).filter((s) => !s.owner.startsWith(OWNER_PREFIX)).map((s) => `${s.id} ${s.owner} ${s.state}`).sort();
}

/** The real CLI, once: `node src/cli/bin.mjs --owner <owner> --data-root <dataRoot> ...args`. */
export function cli(owner: string, dataRoot: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, '--owner', owner, '--data-root', dataRoot, ...args], { cwd: root, encoding: 'utf8', timeout: 15 * 60_000, ...(input !== undefined ? { input } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A `run` controller over a folder, with its own data root and lock folder (--emulator-socket is unused on Windows). */
export function startController(owner: string, manifests: string, dataRoot: string, extra: string[] = []): Promise<ControllerChild> {
  return ControllerChild.start({ owner, manifests, socketPath: join(dataRoot, 'unused.sock'), allowEmpty: true, resync: '5s', extraArgs: ['--data-root', dataRoot, '--lock-dir', dataRoot, ...extra] });
}

/** The status row of `name` once `pred` holds (polling /status), or a timeout naming `what` and the last row. */
export async function waitRow(c: ControllerChild, name: string, pred: (row: SystemStatus, s: ControllerStatus) => boolean, what: string, ms = 300_000): Promise<SystemStatus> {
  let last: SystemStatus | undefined;
  try {
    return await waitFor(async () => {
      const s = await c.status();
      last = s.systems.find((r) => r.name === name);
      return last && pred(last, s) ? last : undefined;
    }, what, ms, 500);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last status of ${name}: ${JSON.stringify(last)}; controller log tail:\n${c.lines.slice(-20).join('\n')}`);
  }
}

/** Waits until /status has no row for `name` (its manifest is gone and its systems removed); the time it took. */
export async function waitGone(c: ControllerChild, name: string, ms = 300_000): Promise<number> {
  const t0 = Date.now();
  await waitFor(async () => !(await c.status()).systems.some((r) => r.name === name), `${name} removed`, ms, 500);
  return Date.now() - t0;
}

/** Options of {@link containerManifest}. */
export interface ContainerManifest {
  name: string;
  commandLine: string;
  state?: 'Running' | 'Stopped';
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  isolation?: 'process' | 'hyperv';
  /** Layer folders (ids from NameToGuid, audit D14), or an image reference. */
  layers?: string[];
  image?: string;
  scratch?: string;
  ports?: string[];
  mapped?: Array<{ hostPath: string; containerPath: string }>;
}

/** A manifest YAML (JSON-style scalars, so Windows paths and quotes need no YAML escaping). */
export function containerManifest(o: ContainerManifest): string {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    'apiVersion: hcs-reconciler/v1alpha1', 'kind: ComputeSystem', `metadata: { name: ${o.name} }`, 'spec:',
    `  state: ${o.state ?? 'Running'}`, `  restartPolicy: ${o.restartPolicy ?? 'Always'}`, '  stopTimeout: 20s',
    '  backoff: { initial: 1s, max: 5s, resetAfter: 10m }', '  container:', `    isolation: ${o.isolation ?? 'process'}`,
  ];
  if (o.image) lines.push(`    image: ${q(o.image)}`, '    imagePullPolicy: Never');
  if (o.layers) lines.push('    layers:', ...o.layers.map((p) => `      - path: ${q(p)}`));
  if (o.scratch) lines.push(`    scratch: ${q(o.scratch)}`);
  if (o.ports) lines.push(`    ports: [${o.ports.map(q).join(', ')}]`);
  if (o.mapped) lines.push('    mappedDirectories:', ...o.mapped.flatMap((m) => [`      - hostPath: ${q(m.hostPath)}`, `        containerPath: ${q(m.containerPath)}`, '        readOnly: true']));
  lines.push('    process:', `      commandLine: ${q(o.commandLine)}`);
  return `${lines.join('\n')}\n`;
}

/** Writes a manifest into the folder. */
export function put(folder: string, m: ContainerManifest): void {
  writeFileSync(join(folder, `${m.name}.yaml`), containerManifest(m));
}
