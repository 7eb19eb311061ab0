/** `hcs-reconciler emulator ...`: start, stop and inspect the HCS emulator, and inject faults. */
import { defaultSocketPath, EmulatorControl, ensureEmulator, findEmulator, parseHResult } from '../../emulator/index.ts';
import { ensureEmulatorLibrary } from '../../emulator/native/build.mjs';
import { age, outputFormat, printJson, table, UsageError } from '../output.ts';
import { HRESULTS } from '../../hcs/errors.ts';
import type { GlobalOptions } from '../context.ts';

function socketOf(g: GlobalOptions): string {
  return g.emulatorSocket ?? defaultSocketPath();
}

async function connected<T>(g: GlobalOptions, fn: (c: EmulatorControl) => Promise<T>): Promise<T> {
  const control = await findEmulator(socketOf(g));
  if (!control) throw new UsageError(`no HCS emulator is running at ${socketOf(g)} (start one with "hcs-reconciler emulator start")`);
  try {
    return await fn(control);
  } finally {
    await control.close();
  }
}

/** `emulator start [--dir DIR]`: start a detached service (no-op when one runs). */
export async function emulatorStart(opts: { dir?: string }, g: GlobalOptions): Promise<number> {
  ensureEmulatorLibrary();
  const { control, started, socketPath } = await ensureEmulator({ socketPath: socketOf(g), ...(opts.dir ? { stateDir: opts.dir } : {}) });
  const status = await control.status();
  await control.close();
  process.stdout.write(`${started ? 'started' : 'already running'}: HCS emulator pid ${status.pid} at ${socketPath}\n`);
  return 0;
}

/** `emulator stop`. */
export async function emulatorStop(g: GlobalOptions): Promise<number> {
  const control = await findEmulator(socketOf(g));
  if (!control) {
    process.stdout.write(`not running: ${socketOf(g)}\n`);
    return 0;
  }
  await control.shutdown().catch(() => undefined);
  await control.close().catch(() => undefined);
  process.stdout.write('stopped\n');
  return 0;
}

/** `emulator status [-o json]`: service status and every system (all owners) with handle counts. */
export async function emulatorStatus(opts: { output?: string }, g: GlobalOptions): Promise<number> {
  const format = outputFormat(opts.output, ['json']);
  const control = await findEmulator(socketOf(g));
  if (!control) {
    if (format === 'json') printJson({ running: false, socketPath: socketOf(g) });
    else process.stdout.write(`not running: ${socketOf(g)}\n`);
    return 3;
  }
  try {
    const [status, systems] = [await control.status(), await control.list()];
    if (format === 'json') {
      printJson({ running: true, ...status, systemList: systems });
      return 0;
    }
    process.stdout.write(`running: pid ${status.pid}, up ${age(status.uptimeMs)}, ${status.systems} system(s), ${status.handles} open handle(s), socket ${status.socketPath}\n`);
    const rows = systems.map((s) => [s.id, s.systemType, s.state, s.owner, String(s.openHandles), String(s.processes.length)]);
    if (rows.length > 0) process.stdout.write(`${table(['ID', 'TYPE', 'STATE', 'OWNER', 'HANDLES', 'PROCESSES'], rows)}\n`);
    return 0;
  } finally {
    await control.close();
  }
}

/** `emulator crash <id>`: the system exits with ExitType UnexpectedExit. */
export function emulatorCrash(id: string, g: GlobalOptions): Promise<number> {
  return connected(g, async (c) => {
    await c.crash(id);
    process.stdout.write(`crashed ${id}\n`);
    return 0;
  });
}

/**
 * An HRESULT as the user typed it: a hex or decimal value, the emulator's names, or any name
 * this tool prints itself (src/hcs/errors.ts), sent to the service as hex.
 */
export function resolveHResult(text: string): string {
  try {
    parseHResult(text);
    return text;
  } catch {
    const found = Object.entries(HRESULTS).find(([name]) => name.toUpperCase() === text.trim().toUpperCase());
    if (found) return `0x${(found[1] >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
    throw new UsageError(`unknown HRESULT "${text}": use a hex value like 0x80370105 or one of ${Object.keys(HRESULTS).join(', ')}`, 64);
  }
}

/** `emulator fault <op> <hresult> [--count N] [--latency MS] [--id ID]`, or `emulator fault --clear`. */
export function emulatorFault(op: string | undefined, hresult: string | undefined, opts: { count?: string; latency?: string; id?: string; clear?: boolean }, g: GlobalOptions): Promise<number> {
  if (opts.clear) {
    return connected(g, async (c) => {
      await c.clearFaults();
      process.stdout.write('faults cleared: no failing, hung or slowed calls remain\n');
      return 0;
    });
  }
  if (!op || !hresult) throw new UsageError('emulator fault: give <op> <hresult> (e.g. Create HCS_E_INVALID_STATE), or --clear to remove every fault', 64);
  const value = resolveHResult(hresult);
  return connected(g, async (c) => {
    if (opts.latency !== undefined) await c.latency({ op, ms: Number(opts.latency) });
    const count = opts.count === undefined ? 1 : Number(opts.count);
    if (count > 0) await c.fault({ op, hresult: value, count, ...(opts.id ? { id: opts.id } : {}) });
    process.stdout.write(`fault set: next ${count} ${op} call(s) fail with ${hresult}${opts.latency ? `, latency ${opts.latency} ms` : ''} (clear with "emulator fault --clear")\n`);
    return 0;
  });
}

/** `emulator create-foreign <id> --owner docker`: a system of another management stack. */
export function emulatorCreateForeign(id: string, opts: { owner: string; type?: string; state?: string }, g: GlobalOptions): Promise<number> {
  return connected(g, async (c) => {
    await c.createForeign({
      id, owner: opts.owner,
      systemType: opts.type === 'VirtualMachine' ? 'VirtualMachine' : 'Container',
      state: (opts.state ?? 'Running') as 'Running',
    });
    process.stdout.write(`created ${id} owned by ${opts.owner}\n`);
    return 0;
  });
}
