/**
 * What an emulated process does with its stdio: a few built-in commands and the printing
 * extension (README.md "Emulator extensions"). Only processes created with pipes run these;
 * a process without pipes behaves as before (runs until stopped, or HCSEMU_EXIT_AFTER_MS).
 *
 * Built-ins (models of cmd.exe, the shell of every Windows base image; [MSDOCS]
 * windows-server/administration/windows-commands "cmd", "echo", "exit"):
 *  - `cmd /c echo TEXT` (also `cmd.exe`, any path, `/C`): writes TEXT + CRLF to stdout, exits 0
 *    (cmd's echo ends lines with CRLF);
 *  - `cmd /c exit N`: exits with N (`exit /b N` too), no output;
 *  - `cat` (and `cmd /c type CON`, cmd's way to copy console input): copies stdin to stdout until
 *    stdin is closed, then exits 0. `cat` is not a Windows command: a stand-in for tests.
 *
 * Printing extension (environment variables, emulator-only):
 *  - HCSEMU_STDOUT: text written to stdout at start, as is (no newline added: a partial last line
 *    is possible);
 *  - HCSEMU_PRINT_EVERY_MS=N: writes `HCSEMU_PRINT_PREFIX` (default `line`) + ` <k>` + CRLF every N ms,
 *    k = 1, 2, ...; HCSEMU_PRINT_COUNT=M stops after M lines; HCSEMU_PRINT_STREAM=stderr|both
 *    (default stdout; both alternates); HCSEMU_PRINT_BYTES=B pads each line to B bytes with `x`;
 *  - HCSEMU_PRINT_EXIT_CODE=C: after the last of M lines, exit with C.
 * A full pipe blocks the printer (no line is skipped, later lines come later); a broken pipe
 * loses the line (counted in the process's lostWrites).
 */
import type { OutputPipe, ProcessPipes } from './stdio.ts';

/** What a program may do to its process. */
export interface ProgramHost {
  exit(code: number): void;
  /** True once the process ended (programs stop then). */
  readonly exited: boolean;
}

type Builtin = { kind: 'echo'; text: string } | { kind: 'exit'; code: number } | { kind: 'cat' };

/** Recognises a built-in command line; undefined for anything else. */
export function parseBuiltin(commandLine: string): Builtin | undefined {
  const line = commandLine.trim();
  if (/^cat$/i.test(line)) return { kind: 'cat' };
  const m = /^(?:"[^"]*[\\/])?(?:[^\s"]*[\\/])?cmd(?:\.exe)?"?\s+\/c\s+(.*)$/i.exec(line);
  if (!m) return undefined;
  const inner = (m[1] ?? '').trim();
  const echo = /^echo(?:\s(.*)|\.)?$/i.exec(inner);
  if (echo) return { kind: 'echo', text: echo[1] ?? '' };
  const exit = /^exit(?:\s+\/b)?(?:\s+(-?\d+))?\s*$/i.exec(inner);
  if (exit) return { kind: 'exit', code: Number(exit[1] ?? 0) };
  if (/^type\s+con$/i.test(inner)) return { kind: 'cat' };
  return undefined;
}

/** Starts what the process does with its pipes. */
export function runProgram(commandLine: string, env: Record<string, string>, pipes: ProcessPipes, host: ProgramHost): void {
  if (env.HCSEMU_STDOUT !== undefined) pipes.stdout?.write(env.HCSEMU_STDOUT);
  const builtin = parseBuiltin(commandLine);
  if (builtin?.kind === 'echo') {
    pipes.stdout?.write(`${builtin.text}\r\n`);
    host.exit(0);
    return;
  }
  if (builtin?.kind === 'exit') {
    host.exit(builtin.code);
    return;
  }
  if (builtin?.kind === 'cat') {
    void copyStdin(pipes, host);
    return;
  }
  const every = Number(env.HCSEMU_PRINT_EVERY_MS);
  if (env.HCSEMU_PRINT_EVERY_MS !== undefined && Number.isFinite(every) && every >= 0) void printLoop(every, env, pipes, host);
}

async function copyStdin(pipes: ProcessPipes, host: ProgramHost): Promise<void> {
  const stdin = pipes.stdin;
  if (stdin) {
    for (let chunk = await stdin.read(); chunk !== null && !host.exited; chunk = await stdin.read()) {
      pipes.stdout?.write(chunk);
      if (pipes.stdout?.full) await pipes.stdout.whenWritable();
    }
  }
  host.exit(0);
}

async function printLoop(everyMs: number, env: Record<string, string>, pipes: ProcessPipes, host: ProgramHost): Promise<void> {
  const count = env.HCSEMU_PRINT_COUNT === undefined ? Infinity : Number(env.HCSEMU_PRINT_COUNT);
  const prefix = env.HCSEMU_PRINT_PREFIX ?? 'line';
  const pad = Number(env.HCSEMU_PRINT_BYTES ?? 0) || 0;
  const mode = env.HCSEMU_PRINT_STREAM ?? 'stdout';
  for (let k = 1; k <= count && !host.exited; k++) {
    await new Promise((resolve) => setTimeout(resolve, everyMs));
    if (host.exited) return;
    const target = pick(mode, k, pipes);
    if (!target) continue;
    if (target.full) await target.whenWritable(); // a blocked writer: this line comes later, not never
    if (host.exited) return;
    let text = `${prefix} ${k}`;
    if (pad > text.length + 2) text = text.padEnd(pad - 2, 'x');
    target.write(`${text}\r\n`);
  }
  const code = env.HCSEMU_PRINT_EXIT_CODE;
  if (code !== undefined && !host.exited) host.exit(Number(code) || 0);
}

function pick(mode: string, k: number, pipes: ProcessPipes): OutputPipe | undefined {
  if (mode === 'stderr') return pipes.stderr;
  if (mode === 'both') return k % 2 === 1 ? pipes.stdout : pipes.stderr;
  return pipes.stdout;
}
