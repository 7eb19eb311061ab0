/** `plan`, `apply` and `ps`: one-shot commands against HCS. */
import { createController, dependencyOrder, DesiredStore, groupObserved, nodeJson, plan, type NodeOp, type Plan } from '../../../reconciler/index.ts';
import { withoutHeld } from '../../../reconciler/prune-holds.ts';
import { observeProvisioned } from '../../../reconciler/provision-plan.ts';
import type { HcsClient, Logger, ObservedSystem } from '../../../reconciler/ports.ts';
import { RotationOverrides, withLogCapture } from '../log-capture.ts';
import { DEFAULT_ROTATION } from '../../logs/writer.ts';
import { lockForCommand, openHcsForCli, type GlobalOptions } from '../context.ts';
import { outputFormat, printJson, table, UsageError } from '../output.ts';
import { realClock } from '../clock.ts';
import { formatErrorsByFile, loadForCli } from './manifest.ts';
import { parseDuration } from '../../manifest/index.ts';
import { defaultDataRoot } from '../../images/paths.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const SYMBOL: Record<NodeOp, string> = {
  create: '+', start: '>', startProcess: '>', ensureProcess: '?', pause: '=', resume: '>', stop: '-', remove: '-', wait: '…', pull: '↓',
};

/** `scratch ` etc. for provisioned objects (their hcsId is the object's own id). */
const kindOf = (n: Plan['nodes'][number]): string => (n.resource.kind === 'computeSystem' || n.resource.kind === 'process' ? '' : `${n.resource.kind} `);

/** What a node acts on: its system id, or for an image pull the reference. */
const targetOf = (n: Plan['nodes'][number]): string | undefined => n.resource.hcsId ?? n.resource.image;

/**
 * The same nodes as `plan -o json`, in dependency order, one line each:
 * `+ create web-1a2b3c4d5e6f (web): not found`, `… wait api: waiting for dependency db`.
 */
export function formatPlan(p: Plan): string {
  if (p.nodes.length === 0) return 'No changes. HCS matches the manifests.';
  const lines = dependencyOrder(p.nodes).map((n) =>
    targetOf(n) === undefined ? `${SYMBOL[n.op]} ${n.op} ${n.resource.name}: ${n.cause}` : `${SYMBOL[n.op]} ${n.op} ${kindOf(n)}${targetOf(n)} (${n.resource.name}): ${n.cause}`,
  );
  return `${lines.join('\n')}\n${p.converged ? 'Converged (nothing will change).' : 'Changes pending.'}`;
}

/** The `plan -o json` document (a contract): `{ converged, nodes: [{ id, resource, op, reason, cause, deps }] }`. */
export function planJson(p: Plan): { converged: boolean; nodes: ReturnType<typeof nodeJson>[] } {
  return { converged: p.converged, nodes: dependencyOrder(p.nodes).map(nodeJson) };
}

/**
 * Whether `plan` must look at provisioned objects: a manifest asks for them, or the data root has a
 * scratch or network folder (our objects are recorded there: the scratch owner file before any
 * call, the network journal right after each create; only an endpoint made by a controller killed
 * before its first journal write is missed here, and `run` observes HNS itself every pass).
 */
function mayHaveProvisioned(desired: ReturnType<DesiredStore['list']>, dataRoot: string | undefined): boolean {
  if (desired.some((d) => d.parts.some((p) => p.provision))) return true;
  const root = dataRoot ?? defaultDataRoot();
  return existsSync(join(root, 'scratch')) || existsSync(join(root, 'network'));
}

async function withHcs<T>(g: GlobalOptions, logger: Logger, start: boolean, fn: (hcs: HcsClient) => Promise<T>): Promise<T> {
  const { hcs } = await openHcsForCli(g, logger, { start });
  try {
    return await fn(hcs);
  } finally {
    await hcs.close();
  }
}

/** `hcs-reconciler plan --manifests DIR`: exit 0 converged, 2 changes pending, 1 error. */
export async function planCommand(opts: { manifests: string; output?: string; allowEmpty?: boolean }, g: GlobalOptions, logger: Logger): Promise<number> {
  const format = outputFormat(opts.output, ['json']);
  const snapshot = await loadForCli(opts.manifests, g);
  const store = new DesiredStore();
  store.apply(snapshot, { allowEmpty: opts.allowEmpty === true });
  const result = await withHcs(g, logger, false, async (hcs) => {
    // Scratches, endpoints, namespaces: observed the way run's list step does (before the enumerate),
    // so a converged folder plans nothing and a vanished endpoint shows its create. Skipped (and the
    // adapters not even loaded) when no manifest asks for provisioning and this data root never held any.
    const provisioned = mayHaveProvisioned(store.list(), g.dataRoot)
      ? await observeProvisioned((await import('../provisioning.ts')).openProvisioning(g.dataRoot, { readOnly: true }))
      : undefined;
    const observed = { ...groupObserved(await hcs.enumerate({ owners: [g.owner] }), g.owner), ...(provisioned ? { provisioned } : {}) };
    // Read-only: a data root that does not exist is an empty store (every image gets a pull node).
    const references = [...new Set(store.list().flatMap((d) => (d.image ? [d.image.reference] : [])))];
    if (references.length > 0) observed.images = (await import('../images.ts')).observeStoredImages(g.dataRoot, references);
    const names = new Set(store.list().map((d) => d.name));
    return plan({ desired: store.list(), observed: withoutHeld(observed, store.heldNames(), names), allowPrune: !store.holdsAllPruning(), now: Date.now() });
  });
  const exit = snapshot.errors.length > 0 ? 1 : result.converged ? 0 : 2;
  if (snapshot.errors.length > 0) process.stderr.write(`${formatErrorsByFile(snapshot.errors)}\n`);
  // Notes go to stderr with -o json: stdout is exactly the plan document.
  const notes = format === 'json' ? process.stderr : process.stdout;
  if (store.pruneHold()) notes.write(`prune held: ${store.pruneHold()}\n`);
  for (const i of snapshot.ignored) notes.write(`ignored ${i.name}: ${i.reason}\n`);
  if (format === 'json') {
    printJson(planJson(result));
    return exit;
  }
  process.stdout.write(`${formatPlan(result)}\n`);
  return exit;
}

/** `hcs-reconciler apply --manifests DIR [--timeout 5m]`: converge once; exit 0 converged, 1 failed or timed out. */
export async function applyCommand(opts: { manifests: string; timeout?: string; output?: string; allowEmpty?: boolean; lockDir?: string }, g: GlobalOptions, logger: Logger): Promise<number> {
  const timeoutMs = parseDuration(opts.timeout ?? '5m');
  if (timeoutMs === undefined) throw new UsageError(`--timeout: expected a duration like 90s or 5m (got "${opts.timeout}")`, 64);
  const snapshot = await loadForCli(opts.manifests, g);
  if (snapshot.errors.length > 0) {
    process.stderr.write(`${formatErrorsByFile(snapshot.errors)}\n`);
    return 1;
  }
  // Taken before HCS is opened: while a controller of this owner runs, apply changes nothing.
  const lock = lockForCommand(g, 'apply', opts.manifests, opts.lockDir);
  try {
    return await applyLocked(opts, snapshot, timeoutMs, g, logger);
  } finally {
    lock.dispose();
  }
}

async function applyLocked(
  opts: { manifests: string; timeout?: string; output?: string; allowEmpty?: boolean },
  snapshot: Awaited<ReturnType<typeof loadForCli>>,
  timeoutMs: number,
  g: GlobalOptions,
  logger: Logger,
): Promise<number> {
  return withHcs(g, logger, true, async (hcs) => {
    const rotations = new RotationOverrides(DEFAULT_ROTATION);
    rotations.update(snapshot.manifests);
    const provision = (await import('../provisioning.ts')).openProvisioning(g.dataRoot);
    // The image store only when a manifest names an image (it loads the layer binding).
    const images = snapshot.manifests.some((m) => m.image) ? await (await import('../images.ts')).controllerImages(g, logger, 0) : undefined;
    const controller = createController({
      hcs: withLogCapture(hcs, hcs, g, {}, rotations), owner: g.owner, clock: realClock, logger, resyncMs: 0, allowEmpty: opts.allowEmpty === true, provision,
      ...(images ? { images: images.port } : {}),
    });
    let current = snapshot;
    // After a pull the manifests are read again, so they render from the stored image.
    images?.bind({
      current: () => current,
      reparse: async () => {
        current = await loadForCli(opts.manifests, g);
        controller.applySnapshot(current);
      },
    });
    try {
      controller.history.subscribe((e) => logger.info(e.message, { system: e.system, event: e.kind }));
      controller.applySnapshot(snapshot);
      const failedOrDone = () => {
        const now = controller.status();
        return now.converged || now.systems.some((s) => s.phase === 'failed');
      };
      const outcome = await controller.waitForPass(failedOrDone, timeoutMs).catch(() => undefined);
      const status = controller.status();
      const failed = status.systems.filter((s) => s.phase === 'failed' || (s.lastError && s.pending.length > 0));
      const done = outcome !== undefined && status.converged;
      if (opts.output === 'json') printJson({ converged: done, status });
      if (done && failed.length === 0) {
        if (opts.output !== 'json') process.stdout.write(`converged: ${status.systems.length} system(s)\n`);
        return 0;
      }
      const why = outcome ? failed.map((s) => `${s.name}: ${s.lastError ?? s.pending.join('; ')}`).join('\n') : `not converged within ${opts.timeout ?? '5m'}`;
      process.stderr.write(`apply failed:\n${why}\n`);
      return 1;
    } finally {
      await controller.dispose();
      images?.dispose();
    }
  });
}

/** `hcs-reconciler ps [--all]`: compute systems, ours by default (like `hcsdiag list`). */
export async function psCommand(opts: { all?: boolean; output?: string }, g: GlobalOptions, logger: Logger): Promise<number> {
  const format = outputFormat(opts.output, ['json']);
  const systems = await withHcs(g, logger, false, (hcs) => hcs.enumerate(opts.all ? {} : { owners: [g.owner] }));
  const shown: ObservedSystem[] = opts.all ? systems : systems.filter((s) => s.owner.toLowerCase() === g.owner.toLowerCase());
  if (format === 'json') {
    printJson(shown);
    return 0;
  }
  const rows = shown.map((s) => [s.id, s.systemType, s.state || 'Created', s.owner, s.exitType ?? '']);
  process.stdout.write(`${table(['ID', 'TYPE', 'STATE', 'OWNER', 'EXIT'], rows)}\n`);
  return 0;
}
