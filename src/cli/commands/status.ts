/**
 * `status` and `events`: ask the running controller through its loopback endpoint; with no
 * controller running, `status` falls back to a plan-style view computed from the manifests and HCS.
 */
import { request } from 'node:http';
import type { ControllerStatus, HistoryEvent } from '../../../reconciler/index.ts';
import type { Logger } from '../../../reconciler/ports.ts';
import { lockFileForCli, type GlobalOptions } from '../context.ts';
import { liveHolder } from '../lock.ts';
import { actualText, age, outputFormat, printJson, table, UsageError } from '../output.ts';
import { parseListen } from '../http.ts';
import { planCommand } from './reconcile.ts';
import { toYaml } from '../../manifest/index.ts';

function get(endpoint: { host: string; port: number }, path: string, onData?: (chunk: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: endpoint.host, port: endpoint.port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (onData ? onData(c) : (body += c)));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Status rows as a table. */
export function formatStatus(s: ControllerStatus, now = Date.now()): string {
  const rows = s.systems.map((r) => [
    r.name, r.desired, actualText(r), r.ids.join(',') || '-', r.hash ?? '-', String(r.restarts),
    r.nextRetryAt ? `in ${age(r.nextRetryAt - now)}` : '-', r.since ? age(now - r.since) : '-',
    r.lastError ?? (r.pending[0] ?? (r.lastKnownGood ? 'manifest invalid: running last valid spec' : '')),
  ]);
  const lines = [table(['NAME', 'DESIRED', 'ACTUAL', 'ID', 'HASH', 'RESTARTS', 'NEXT RETRY', 'AGE', 'MESSAGE'], rows)];
  for (const e of s.manifestErrors) lines.push(`error   ${e.file}:${e.line}:${e.col} ${e.path ? `${e.path}: ` : ''}${e.message}`);
  for (const i of s.ignored) lines.push(`ignored ${i.name} (${i.source.file}:${i.source.line}): ${i.reason}`);
  if (s.pruneHold) lines.push(`prune held: ${s.pruneHold}`);
  if (s.listError) lines.push(`HCS error: ${s.listError}`);
  for (const w of s.warnings ?? []) lines.push(`warning: ${w}`);
  lines.push(`${s.converged ? 'converged' : 'converging'}; ${s.passes} reconcile pass(es); owner ${s.owner}`);
  return lines.join('\n');
}

/**
 * The endpoint to ask: `--listen` when given, else the one the running controller of this owner
 * wrote into its lock record, else the default 127.0.0.1:9180.
 */
function endpointOf(listen: string | undefined, g: GlobalOptions): { host: string; port: number } {
  if (listen) return parseListen(listen, true);
  const holder = liveHolder(lockFileForCli(g));
  return parseListen(holder?.endpoint ?? '127.0.0.1:9180', true);
}

/** `hcs-reconciler status [-o json|yaml]`. */
export async function statusCommand(opts: { output?: string; listen?: string; manifests?: string }, g: GlobalOptions, logger: Logger): Promise<number> {
  const format = outputFormat(opts.output, ['json', 'yaml']);
  const endpoint = endpointOf(opts.listen, g);
  const body = await get(endpoint, '/status').catch(() => undefined);
  if (body === undefined) {
    process.stderr.write(`no controller answering at ${endpoint.host}:${endpoint.port}; showing what a controller would do\n`);
    return planCommand({ manifests: opts.manifests ?? 'manifests', output: format === 'text' ? undefined : 'json' }, g, logger);
  }
  const status = JSON.parse(body) as ControllerStatus;
  if (format === 'json') printJson(status);
  else if (format === 'yaml') process.stdout.write(toYaml(status));
  else process.stdout.write(`${formatStatus(status)}\n`);
  return 0;
}

/** `events NAME` for a name the controller does not know: exit 1 rather than print nothing. */
async function assertKnown(endpoint: { host: string; port: number }, name: string): Promise<void> {
  const status = JSON.parse(await get(endpoint, '/status')) as ControllerStatus;
  const known = status.systems.some((s) => s.name === name) || status.manifestErrors.some((e) => e.name === name) || status.ignored.some((i) => i.name === name);
  if (!known) throw new UsageError(`no system or manifest named ${name}`, 1);
}

function formatEvent(e: HistoryEvent): string {
  return `${new Date(e.at).toISOString()}  ${e.system.padEnd(16)} ${e.kind.padEnd(15)} ${e.message}${e.hresult ? ` (${e.hresult})` : ''}`;
}

/** `hcs-reconciler events [name] [--follow]`. */
export async function eventsCommand(name: string | undefined, opts: { follow?: boolean; output?: string; listen?: string }, g: GlobalOptions): Promise<number> {
  const format = outputFormat(opts.output, ['json']);
  const endpoint = endpointOf(opts.listen, g);
  const query = `?${name ? `system=${encodeURIComponent(name)}&` : ''}${opts.follow ? 'follow=1' : ''}`;
  const print = (e: HistoryEvent) => process.stdout.write(format === 'json' ? `${JSON.stringify(e)}\n` : `${formatEvent(e)}\n`);
  let pending = '';
  const onData = opts.follow ? (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) print(JSON.parse(line) as HistoryEvent);
  } : undefined;
  const body = await get(endpoint, `/events${query}`, onData).catch((err: Error) => {
    throw new UsageError(`no controller answering at ${endpoint.host}:${endpoint.port} (${err.message}); events live in the running controller`);
  });
  if (!opts.follow) {
    const events = JSON.parse(body) as HistoryEvent[];
    if (name && events.length === 0) await assertKnown(endpoint, name);
    if (format === 'json') printJson(events);
    else for (const e of events) print(e);
  }
  return 0;
}
