/**
 * `exec` pieces that need no emulator: Windows command-line quoting (round trip through the
 * CommandLineToArgvW rules), ProcessParameters per -i/-t and terminal, and the system lookup.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execParameters, runningSystemOf, windowsCommandLine } from '../../src/cli/commands/exec.ts';
import type { ObservedSystem } from '../../reconciler/ports.ts';

/** CommandLineToArgvW / MSVC runtime parsing (Microsoft Learn "Parsing C command-line arguments"). */
function argvOf(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let arg = '';
    let quoted = false;
    for (; i < line.length && (quoted || (line[i] !== ' ' && line[i] !== '\t')); i++) {
      let slashes = 0;
      while (line[i] === '\\') { slashes++; i++; }
      if (line[i] === '"') {
        arg += '\\'.repeat(Math.floor(slashes / 2));
        if (slashes % 2 === 1) arg += '"';
        else quoted = !quoted;
      } else {
        arg += '\\'.repeat(slashes);
        if (i < line.length) arg += line[i];
        else break;
      }
    }
    out.push(arg);
  }
  return out;
}

test('windowsCommandLine: plain words stay plain; spaces, quotes and trailing backslashes round-trip', () => {
  assert.equal(windowsCommandLine(['cmd', '/c', 'echo', 'hi']), 'cmd /c echo hi');
  for (const args of [['a b', 'c'], ['say "hi"'], ['C:\\dir with space\\'], ['x\\"y'], [''], ['\\\\server\\share\\a b']]) {
    assert.deepEqual(argvOf(windowsCommandLine(args)), args, JSON.stringify(args));
  }
});

test('execParameters: Docker rules for stdin, stderr and the console', () => {
  const cmd = ['cmd', '/c', 'echo', 'hi'];
  assert.deepEqual(execParameters(cmd, {}, { stdinIsTTY: false }), {
    CommandLine: 'cmd /c echo hi', EmulateConsole: false, CreateStdInPipe: true, CreateStdOutPipe: true, CreateStdErrPipe: true,
  });
  assert.equal(execParameters(cmd, {}, { stdinIsTTY: true }).CreateStdInPipe, false, 'a terminal stdin is not forwarded without -i');
  assert.equal(execParameters(cmd, { interactive: true }, { stdinIsTTY: true }).CreateStdInPipe, true);
  const tty = execParameters(cmd, { tty: true, interactive: true }, { stdinIsTTY: true, size: [40, 120] });
  assert.equal(tty.EmulateConsole, true);
  assert.equal(tty.CreateStdErrPipe, false, 'a console has no separate stderr');
  assert.deepEqual(tty.ConsoleSize, [40, 120]);
});

test('runningSystemOf: the running main system of the name, never the utility VM or another name', () => {
  const s = (id: string, state: string): ObservedSystem => ({ id, state, owner: 'o', systemType: 'Container' }) as ObservedSystem;
  const list = [s('web-0123456789ab-uvm', 'Running'), s('webx-0123456789ab', 'Running'), s('web-aaaaaaaaaaaa', 'Stopped'), s('web-0123456789ab', 'Running')];
  assert.equal(runningSystemOf(list, 'web')?.id, 'web-0123456789ab');
  assert.equal(runningSystemOf(list.slice(0, 3), 'web'), undefined);
});
