/**
 * `hcs-reconciler exec NAME -- COMMAND [ARGS...]`: runs a process in the running container NAME
 * (HcsCreateProcess with stdio pipes), streams its stdout and stderr here, forwards stdin when
 * this process's stdin is not a TTY, and exits with the process's exit code. Ctrl+C terminates
 * the process (a second Ctrl+C leaves at once, exit 130). No controller is needed: the system is
 * found by enumerating HCS with our Owner and opened by its id.
 * `-t` gives it a console (EmulateConsole, ConsoleSize, resized with our window); with `-i` on a
 * terminal, keys go through raw (Ctrl+C then reaches the process's console instead).
 * Exit codes: the process's (as an 8-bit code where the OS truncates it); 1 no running container
 * NAME or an HCS failure; 64 usage.
 */
import type { Readable, Writable } from 'node:stream';
import { parseSystemId } from '../../../reconciler/identity.ts';
import type { Logger, ObservedSystem } from '../../../reconciler/ports.ts';
import type { NativeHcsProcess } from '../../hcs/index.ts';
import { quoteWindowsArg } from '../../manifest/image.ts';
import { openHcsForCli, type GlobalOptions } from '../context.ts';
import { exitQuietlyOnEpipe } from '../epipe.ts';
import { UsageError } from '../output.ts';

/**
 * A Windows command line from argv, quoted so CommandLineToArgvW / the MSVC runtime give the
 * same argv back (Microsoft Learn "Parsing C command-line arguments": backslashes are literal
 * unless they precede a quote, so they are doubled there, and a quote is escaped with one).
 */
export function windowsCommandLine(args: readonly string[]): string {
  return args.map(quoteWindowsArg).join(' ');
}

/** The running main system of a manifest name among our systems. */
export function runningSystemOf(systems: readonly ObservedSystem[], name: string): ObservedSystem | undefined {
  return systems.find((s) => parseSystemId(s.id)?.name === name && parseSystemId(s.id)?.role === 'main' && s.state === 'Running');
}

/** Flags of `exec` (Docker's: `-i` keeps stdin attached, `-t` gives the process a console). */
export interface ExecOptions {
  interactive?: boolean;
  tty?: boolean;
}

/** What the terminal we run in looks like (injected for tests). */
export interface Terminal {
  stdinIsTTY: boolean;
  /** [rows, columns] of our stdout when it is a terminal. */
  size?: [number, number];
}

/**
 * ProcessParameters for an exec, with Docker's rules (moby libcontainerd/local/local_windows.go
 * `Exec`): stdout always, stderr only without a console, `EmulateConsole` = `-t` with `ConsoleSize`
 * [height, width]. Stdin is forwarded with `-i`, or whenever ours is not a TTY (Docker always makes
 * the pipe and closes it "shortly" when unused; here it is simply not asked for).
 */
export function execParameters(command: string[], opts: ExecOptions, term: Terminal): Record<string, unknown> {
  const tty = opts.tty === true;
  return {
    CommandLine: windowsCommandLine(command),
    EmulateConsole: tty,
    ...(tty && term.size ? { ConsoleSize: term.size } : {}),
    CreateStdInPipe: opts.interactive === true || !term.stdinIsTTY,
    CreateStdOutPipe: true,
    CreateStdErrPipe: !tty,
  };
}

/** Runs `exec`; resolves with the exit code. */
export async function execCommand(name: string, command: string[], opts: ExecOptions, g: GlobalOptions, logger: Logger): Promise<number> {
  if (command.length === 0) throw new UsageError('exec: give the command after --, e.g. exec web -- cmd /c echo hi', 64);
  const { hcs } = await openHcsForCli(g, logger, { start: false });
  try {
    const systems = await hcs.enumerate({ owners: [g.owner] }, { timeoutMs: 30_000 });
    const found = runningSystemOf(systems, name);
    if (!found) throw new UsageError(`no running container "${name}" (owner ${g.owner}); see "hcs-reconciler ps"`, 1);
    const system = await hcs.open(found.id, { timeoutMs: 30_000 });
    const term: Terminal = {
      stdinIsTTY: process.stdin.isTTY === true,
      ...(process.stdout.isTTY ? { size: [process.stdout.rows, process.stdout.columns] as [number, number] } : {}),
    };
    const proc = (await system.createProcess(execParameters(command, opts, term), { timeoutMs: 60_000 })) as NativeHcsProcess;
    exitQuietlyOnEpipe(0); // our reader left (`| head`): the process runs on, as with `docker exec`
    return await attach(proc, opts.tty === true && term.stdinIsTTY && opts.interactive === true);
  } finally {
    await hcs.close();
  }
}

/** Streams the process's pipes until it exited and its output ended; returns its exit code. */
async function attach(proc: NativeHcsProcess, rawConsole: boolean): Promise<number> {
  const stdio = proc.stdio;
  // -it on a terminal: keys (Ctrl+C included) go to the process's console as typed, and the
  // console follows our window size (hcsshim ResizeConsole: ModifyProcess ConsoleSize).
  const restoreRaw = rawConsole ? rawMode() : () => {};
  const onResize = (): void =>
    void proc.modify({ Operation: 'ConsoleSize', ConsoleSize: { Height: process.stdout.rows, Width: process.stdout.columns } }, { timeoutMs: 30_000 }).catch(() => {});
  if (rawConsole) process.stdout.on('resize', onResize);
  const exited = new Promise<number>((resolve) => proc.onExit((e) => resolve(e.exitCode ?? 1)));
  const stdin = stdio?.writer();
  if (stdin) {
    forward(process.stdin, stdin);
    // End of our input: tell HCS too, as hcsshim's Process.CloseStdin does (HcsModifyProcess
    // CloseHandle StdIn, then the handle); "will fail if the process has already exited".
    stdin.once('finish', () => void proc.modify({ Operation: 'CloseHandle', CloseHandle: { Handle: 'StdIn' } }, { timeoutMs: 30_000 }).catch(() => {}));
  }
  const outputs = [pump(stdio?.reader('stdout'), process.stdout), pump(stdio?.reader('stderr'), process.stderr)];
  let interrupts = 0;
  const onInterrupt = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('hcs-reconciler: terminating the process (Ctrl+C again to leave at once)\n');
    proc.terminate({ timeoutMs: 30_000 }).catch((err: unknown) => process.stderr.write(`hcs-reconciler: ${String(err)}\n`));
  };
  process.on('SIGINT', onInterrupt);
  try {
    const code = await exited;
    await Promise.all(outputs); // the pipes end once the process's ends close
    return code >>> 0;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.stdout.off('resize', onResize);
    restoreRaw();
    if (stdin) {
      process.stdin.unpipe(stdin);
      process.stdin.destroy(); // nothing more to forward; lets this process exit
      stdin.destroy();
    }
    stdio?.close();
  }
}

/** Our stdin into the process's stdin pipe; the pipe closes at our end of input (the process sees EOF). */
function forward(from: Readable, to: Writable): void {
  to.on('error', () => from.unpipe(to)); // the process exited or closed its stdin: stop forwarding
  from.pipe(to);
}

function pump(from: Readable | undefined, to: NodeJS.WriteStream): Promise<void> {
  if (!from) return Promise.resolve();
  return new Promise((resolve) => {
    from.on('data', (c: Buffer) => to.write(c));
    from.once('end', resolve);
    from.once('error', () => resolve());
  });
}

/** Puts our terminal in raw mode; returns how to restore it. */
function rawMode(): () => void {
  process.stdin.setRawMode(true);
  return () => {
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
  };
}
