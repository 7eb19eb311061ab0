/**
 * `hcs-reconciler run --manifests DIR`: the long-running controller. Composition: HCS client →
 * controller → folder watcher → HTTP endpoint; each returns something disposable and shutdown
 * disposes them in reverse order. SIGINT/SIGTERM stop the controller and leave workloads running;
 * SIGHUP forces a rescan of the folder and a reconcile pass.
 */
import { dirname } from 'node:path';
import { openEntrypointRecords } from '../entrypoint-records.ts';
import { DEFAULT_MAX_FILE_BYTES, isManifestFileName, manifestParser, parseDuration } from '../../manifest/index.ts';
import { watchManifests } from '../../watch/index.ts';
import { createController } from '../../../reconciler/index.ts';
import type { Disposable, Logger } from '../../../reconciler/ports.ts';
import { lockFileForCli, lockForCommand, manifestOptions, openHcsForCli, type GlobalOptions } from '../context.ts';
import { controllerImages } from '../images.ts';
import { realClock } from '../clock.ts';
import { parseListen, startHttp } from '../http.ts';
import { UsageError } from '../output.ts';
import { checkFolderSecurity } from '../folder-check.ts';
import type { ControllerMetrics } from '../metrics.ts';
import { instrumentHcs } from '../instrumented-hcs.ts';
import { RotationOverrides, rotationOf, withLogCapture, type LogCaptureFlags } from '../log-capture.ts';
import { formatError } from '../../manifest/index.ts';

/** Flags of `run`. */
export interface RunOptions extends LogCaptureFlags {
  manifests: string;
  resync?: string;
  settle?: string;
  concurrency?: string;
  poll?: boolean;
  depth?: string;
  allowEmpty?: boolean;
  suspend?: boolean;
  listen?: string;
  listenAny?: boolean;
  lockDir?: string;
  strictFolder?: boolean;
  imageGcGrace?: string;
}

/** Longest shutdown (SIGTERM to exit), whatever HCS does. */
const SHUTDOWN_MS = 3000;
/** After shutdown, how long pending native work may keep the process alive. */
const EXIT_GRACE_MS = 500;

function duration(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`${flag}: expected a duration like 150ms, 30s or 5m (got "${value}")`, 64);
  return ms;
}

function integer(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag}: expected a non-negative integer (got "${value}")`, 64);
  return n;
}

/** Run until a signal; resolves with the exit code. */
export async function runCommand(opts: RunOptions, g: GlobalOptions, logger: Logger): Promise<number> {
  const resyncMs = duration('--resync', opts.resync, 30_000);
  const settleMs = duration('--settle', opts.settle, 150);
  const concurrency = integer('--concurrency', opts.concurrency, 16);
  const listen = opts.listen === 'off' ? undefined : parseListen(opts.listen ?? '127.0.0.1:9180', opts.listenAny === true);
  const imageGcMs = opts.imageGcGrace === undefined || opts.imageGcGrace === 'off' ? 0 : duration('--image-gc-grace', opts.imageGcGrace, 0);
  const mopts = await manifestOptions(g, opts.manifests, opts.lockDir);
  const stack: Disposable[] = [];
  // Shutdown completes within SHUTDOWN_MS whatever HCS does: a step still waiting on a hung
  // call is abandoned (in-flight operations are abandoned, workloads keep running).
  const shutdown = async (): Promise<void> => {
    const deadline = Date.now() + SHUTDOWN_MS;
    for (const d of stack.reverse()) {
      const done = Promise.resolve().then(() => d.dispose()).then(() => true, (err: unknown) => {
        logger.warn('dispose failed', { err: String(err) });
        return true;
      });
      const left = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), left)));
      if (!(await Promise.race([done, late]))) logger.warn('shutdown: abandoning a step still waiting on HCS', { afterMs: SHUTDOWN_MS });
      clearTimeout(timer);
    }
    // Whatever is still pending (a native call HCS never answers) must not keep the process up.
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  };
  try {
    const folderWarning = await checkFolder(opts.manifests, opts.strictFolder === true, logger, integer('--depth', opts.depth, 1), g.policy);
    const lock = lockForCommand(g, 'run', opts.manifests, opts.lockDir);
    stack.push(lock);
    const { hcs: raw, description } = await openHcsForCli(g, logger, { start: true });
    // Drain in-flight operations briefly only: the shutdown deadline bounds the whole sequence.
    stack.push({ dispose: () => (raw as { close(o?: { drainTimeoutMs?: number }): Promise<void> }).close({ drainTimeoutMs: 1000 }) });
    const images = await controllerImages(g, logger, imageGcMs);
    stack.push(images);
    mopts.images = images.images;
    // Metrics are only readable through the HTTP endpoint: with --listen off, neither prom-client
    // (~8 MB of RSS) nor its default collectors (an event-loop-delay timer) are loaded.
    const metrics: ControllerMetrics | undefined = listen ? (await import('../metrics.ts')).createMetrics() : undefined;
    const rotations = new RotationOverrides(rotationOf(opts));
    const hcs = withLogCapture(metrics ? instrumentHcs(raw, (r) => metrics.observeHcsCall(r)) : raw, raw, g, opts, rotations);
    const controller = createController({
      hcs, owner: g.owner, clock: realClock, logger, resyncMs, concurrency,
      allowEmpty: opts.allowEmpty === true, suspended: opts.suspend === true,
      entrypoints: openEntrypointRecords(g.owner, dirname(lockFileForCli(g, opts.lockDir))),
      provision: (await import('../provisioning.ts')).openProvisioning(g.dataRoot),
      images: images.port,
    });
    stack.push(controller);
    if (folderWarning) controller.warn(folderWarning);
    if (metrics) {
      metrics.attach(controller);
      stack.push(metrics);
    }
    stack.push(controller.history.subscribe((e) => logger.info(e.message, { system: e.system, event: e.kind, ...(e.hresult ? { hresult: e.hresult } : {}) })));
    const source = await watchManifests({
      path: opts.manifests, parser: manifestParser(mopts), settleMs, resyncMs, poll: opts.poll === true,
      depth: integer('--depth', opts.depth, 1), logger, maxReadBytes: mopts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES,
    });
    stack.push(source);
    // An error is logged when it appears, not again on every snapshot that still has it.
    let logged = new Set<string>();
    images.bind(source);
    const report = (s: ReturnType<typeof source.current>) => {
      const now = new Set<string>();
      for (const e of s.errors) {
        const text = formatError(e);
        now.add(text);
        if (!logged.has(text)) logger.warn('manifest error', { file: e.file, line: e.line, col: e.col, field: e.path, error: e.message, text });
      }
      logged = now;
      rotations.update(s.manifests);
      controller.applySnapshot(s);
    };
    stack.push(source.onSnapshot(report));
    report(source.current());
    if (listen && metrics) {
      stack.push(await startHttp(controller, listen, metrics.registry));
      // `status` and `events` find this controller through the lock record.
      lock.update({ endpoint: `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}` });
    }
    logger.info('controller running', { manifests: opts.manifests, hcs: description, owner: g.owner, ...(listen ? { listen: `${listen.host}:${listen.port}` } : {}) });
    await waitForSignal(async () => {
      logger.info('SIGHUP: rescanning manifests');
      await source.rescan();
      controller.reconcile();
    });
    logger.info('stopping controller; workloads keep running');
    return 0;
  } finally {
    await shutdown();
  }
}

/**
 * Whoever can write the manifests folder decides what this host runs: warn (log and status) when
 * non-administrators can write it; with --strict-folder, refuse to start. Returns the warning.
 */
async function checkFolder(path: string, strict: boolean, logger: Logger, depth: number, policyFile: string | undefined): Promise<string | undefined> {
  // Every file and sub-folder the source reads, and the policy file: any of them writable by
  // others decides what this host runs as much as the folder itself.
  const verdict = await checkFolderSecurity(path, { depth, isManifest: isManifestFileName, ...(policyFile ? { policyFile } : {}) });
  if (!verdict) {
    logger.warn('could not check who can write the manifests folder', { folder: path });
    return undefined;
  }
  if (!verdict.writableByNonAdmins) return undefined;
  const message = `manifests folder ${path} is writable by non-administrators (${verdict.detail}); whoever can write it controls what this host runs`;
  if (strict) throw new UsageError(`--strict-folder: ${message}`, 1);
  logger.warn('manifests folder is writable by non-administrators', { folder: path, detail: verdict.detail });
  return message;
}

/**
 * Resolve on SIGINT/SIGTERM; call `onHup` on SIGHUP. On Windows, closing the console window
 * raises SIGHUP and Ctrl+Break raises SIGBREAK: both mean "stop" there, not "reload".
 */
function waitForSignal(onHup: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stopSignals: NodeJS.Signals[] = process.platform === 'win32' ? ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] : ['SIGINT', 'SIGTERM'];
    const hup = () => void onHup();
    const stop = () => {
      for (const sig of stopSignals) process.off(sig, stop);
      process.off('SIGHUP', hup);
      resolve();
    };
    for (const sig of stopSignals) process.on(sig, stop);
    if (process.platform !== 'win32') process.on('SIGHUP', hup);
  });
}
