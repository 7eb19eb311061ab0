/**
 * The composition root: parses the command line (commander) and wires adapters to the core.
 * Exit codes: 0 ok; 1 invalid input / failure; 2 `plan` with pending changes; 64 usage error.
 * User mistakes print one clear line on stderr, never a stack trace.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { DEFAULT_OWNER } from '../manifest/owner.ts';
import type { GlobalOptions } from './context.ts';
import { exitQuietlyOnEpipe } from './epipe.ts';
import { createLogger } from './log.ts';
import { UsageError } from './output.ts';

const output = () => new Option('-o, --output <format>', 'output format').choices(['text', 'json']);

import type { RunOptions } from './commands/run.ts';

// Each command's module (and its dependencies: the binding, the watcher, prom-client...) is loaded
// only when that command runs: `run` does not pay for the emulator, service or status commands.
const manifestCmds = () => import('./commands/manifest.ts');
const reconcileCmds = () => import('./commands/reconcile.ts');
const runCmds = () => import('./commands/run.ts');
const statusCmds = () => import('./commands/status.ts');
const serviceCmds = () => import('./commands/service.ts');
const emulatorCmds = () => import('./commands/emulator.ts');
const logsCmds = () => import('./commands/logs.ts');
const execCmds = () => import('./commands/exec.ts');

/** This package's version, from its package.json: two levels up from src/cli, three from dist/src/cli. */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'hcs-reconciler' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next level
    }
  }
  return 'unknown';
}
const imageCmds = () => import('./commands/image.ts');

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('hcs-reconciler')
    .description('Declarative controller for Windows containers and VMs through the Host Compute Service')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--owner <name>', 'HCS Owner of the systems this controller manages', DEFAULT_OWNER)
    .option('--library <path>', 'HCS library (default: computecore.dll on Windows, the emulator library elsewhere; env HCS_LIBRARY)')
    .option('--emulator-socket <path>', 'HCS emulator service socket (env HCS_EMULATOR_SOCKET)')
    .option('--host-name <name>', 'this host for spec.placement (default: the machine name)')
    .option('--host-labels <k=v,...>', 'labels of this host for spec.placement.hostLabels')
    .option('--policy <file>', 'policy file limiting what manifests may request')
    .option('--max-file-bytes <n>', 'largest manifest file read, in bytes (default 1048576 = 1 MiB)')
    .option('--data-root <dir>', 'image store and controller data (default: %ProgramData%\\hcs-reconciler, $XDG_DATA_HOME/hcs-reconciler or ~/.local/share/hcs-reconciler)')
    .option('--registry-config <file>', 'Docker-style config.json with registry credentials (auths)')
    .option('--insecure-registry <host:port>', 'allow plain HTTP to this registry (repeatable; loopback is always allowed)', (v: string, prev: string[] = []) => [...prev, v])
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--log-format <format>', 'log format (default: text on a TTY, json otherwise)').choices(['json', 'text']))
    // A usage error is one line saying what to do, not the whole help text.
    .configureOutput({ outputError: (str, write) => write(`hcs-reconciler: ${str.trim().replace(/^error: /, '')} (see --help)\n`) })
    .exitOverride();
  const g = (): GlobalOptions => program.opts<GlobalOptions>();
  const logger = () => createLogger({ level: g().logLevel, ...(g().logFormat ? { json: g().logFormat === 'json' } : {}) });
  const act = <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) => async (...args: A) => setExit(await fn(...args));

  program.command('validate').argument('<path>', 'manifest file or folder').addOption(output())
    .description('validate manifests; exit 0 when all are valid, 1 otherwise')
    .action(act(async (path: string, o: { output?: string }) => (await manifestCmds()).validateCommand(path, o, g())));
  program.command('render').argument('<path>', 'manifest file or folder').addOption(output())
    .description('print the HCS documents and config hash of each manifest')
    .action(act(async (path: string, o: { output?: string }) => (await manifestCmds()).renderCommand(path, o, g())));
  program.command('schema').description('print the manifest JSON Schema (for editors)').action(act(async () => (await manifestCmds()).schemaCommand()));
  program.command('ps').option('--all', 'every owner, not only ours').addOption(output())
    .description('list compute systems (HcsEnumerateComputeSystems), like hcsdiag list')
    .action(act(async (o: { all?: boolean; output?: string }) => (await reconcileCmds()).psCommand(o, g(), logger())));
  program.command('plan').requiredOption('--manifests <dir>', 'manifests folder').option('--allow-empty', 'plan to prune everything when the folder is empty').addOption(output())
    .description('print the actions that would converge HCS; exit 0 converged, 2 changes pending, 1 error')
    .action(act(async (o: { manifests: string; output?: string; allowEmpty?: boolean }) => (await reconcileCmds()).planCommand(o, g(), logger())));
  program.command('apply').requiredOption('--manifests <dir>', 'manifests folder').option('--timeout <duration>', 'give up after', '5m')
    .option('--allow-empty', 'prune everything when the folder is empty').addOption(output())
    .option('--lock-dir <dir>', 'folder of the single-instance lock file (default: next to the HCS it drives)')
    .description('converge once and wait; exit 0 converged, 1 failed, timed out or a controller of this owner runs')
    .action(act(async (o: { manifests: string; timeout?: string; output?: string; allowEmpty?: boolean; lockDir?: string }) => (await reconcileCmds()).applyCommand(o, g(), logger())));
  program.command('run').requiredOption('--manifests <dir>', 'manifests folder (or a git-sync symlink)')
    .option('--resync <duration>', 'periodic relist of the folder and HCS', '30s')
    .option('--settle <duration>', 'quiet period that coalesces bursts of file events', '150ms')
    .option('--concurrency <n>', 'HCS operations in flight at most', '16')
    .option('--depth <n>', 'sub-folder levels read (0 = flat folder)', '1')
    .option('--poll', 'poll the folder instead of native events (network shares)')
    .option('--allow-empty', 'prune everything when the folder becomes empty')
    .option('--suspend', 'observe and report only; change nothing')
    .option('--listen <host:port|off>', 'status/health endpoint (loopback only unless --listen-any)', '127.0.0.1:9180')
    .option('--listen-any', 'allow a non-loopback --listen address')
    .option('--strict-folder', 'refuse to start when the manifests folder, its parents, a manifest file or sub-folder, or the policy file is writable by non-administrators')
    .option('--image-gc-grace <duration|off>', 'remove images no manifest has used for this long (e.g. 24h)', 'off')
    .option('--lock-dir <dir>', 'folder of the single-instance lock file (default: %ProgramData%\\hcs-reconciler on Windows, next to the emulator socket elsewhere)')
    .option('--log-max-size <size>', 'rotate a container log file at this size (k, m, g)', '10m')
    .option('--log-max-file <n>', 'log files kept per container, the current one included', '5')
    .option('--no-log-capture', 'start entrypoints without capturing their output')
    .description('run the controller: watch the folder and keep HCS converged (SIGHUP rescans; SIGINT/SIGTERM stop, workloads keep running)')
    .action(act(async (o: RunOptions) => (await runCmds()).runCommand(o, g(), logger())));
  program.command('status').addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json', 'yaml']))
    .option('--listen <host:port>', 'controller endpoint (default: the running controller\'s, from its lock record, else 127.0.0.1:9180)').option('--manifests <dir>', 'folder for the fallback view', 'manifests')
    .description('show desired vs actual state from the running controller (falls back to a plan view)')
    .action(act(async (o: { output?: string; listen?: string; manifests?: string }) => (await statusCmds()).statusCommand(o, g(), logger())));
  program.command('events').argument('[name]', 'only this system').option('-f, --follow', 'stream new events').addOption(output())
    .option('--listen <host:port>', 'controller endpoint (default: the running controller\'s, from its lock record, else 127.0.0.1:9180)')
    .description('show the event history of the running controller')
    .action(act(async (name: string | undefined, o: { follow?: boolean; output?: string; listen?: string }) => (await statusCmds()).eventsCommand(name, o, g())));
  program.command('logs').argument('<name>', 'manifest name').option('-f, --follow', 'keep printing new output (across rotations)')
    .option('--tail <n>', 'only the last n lines (or "all")').option('--since <duration|time>', 'only output since 10m ago, or since an RFC 3339 time')
    .option('--timestamps', 'prefix each line with its time').addOption(output())
    .description("print a container entrypoint's captured output (from the log files; no controller needed)")
    .action(act(async (name: string, o: { follow?: boolean; tail?: string; since?: string; timestamps?: boolean; output?: string }) => (await logsCmds()).logsCommand(name, o, g())));
  program.command('exec').argument('<name>', 'manifest name of a running container').argument('<command...>', 'command and arguments (after --)')
    .option('-i, --interactive', 'forward stdin even from a terminal').option('-t, --tty', 'give the process a console (EmulateConsole)')
    .description('run a command in a running container; streams its output, forwards stdin when not a TTY, exits with its exit code')
    .action(act(async (name: string, command: string[], o: { interactive?: boolean; tty?: boolean }) => (await execCmds()).execCommand(name, command, o, g(), logger())));
  addEmulatorCommands(program, g, act);
  addImageCommands(program, g, act);
  addServiceCommands(program, act);
  return program;
}

function addEmulatorCommands(
  program: Command,
  g: () => GlobalOptions,
  act: <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) => (...args: A) => Promise<void>,
): void {
  const emu = program.command('emulator').description('the HCS emulator used on Linux (start, stop, inspect, inject faults)');
  emu.command('start').option('--dir <dir>', 'persist emulator state in this folder').description('start the emulator service (detached)')
    .action(act(async (o: { dir?: string }) => (await emulatorCmds()).emulatorStart(o, g())));
  emu.command('stop').description('stop the emulator service').action(act(async () => (await emulatorCmds()).emulatorStop(g())));
  emu.command('status').addOption(output()).description('service status and all systems (exit 3 when not running)')
    .action(act(async (o: { output?: string }) => (await emulatorCmds()).emulatorStatus(o, g())));
  emu.command('reboot').description('emulate a Windows reboot: systems, mounted scratches, endpoints, namespaces, NAT networks vanish; files stay')
    .action(act(async () => (await import('./commands/emulator-reboot.ts')).emulatorReboot(g())));
  emu.command('crash').argument('<id>').description('make a system exit unexpectedly').action(act(async (id: string) => (await emulatorCmds()).emulatorCrash(id, g())));
  emu.command('fault').argument('[op]', 'operation: Create, Start, ShutDown, Terminate, Enumerate, ...').argument('[hresult]', 'e.g. HCS_E_INVALID_STATE or 0x80370105')
    .option('--count <n>', 'number of calls that fail', '1').option('--latency <ms>', 'also add this latency to every call of op').option('--id <id>', 'only calls on this system')
    .option('--clear', 'remove every fault (failing, hung and slowed calls)')
    .description('fail the next calls of an operation; --clear removes every fault').action(act(async (op: string | undefined, hr: string | undefined, o: { count?: string; latency?: string; id?: string; clear?: boolean }) => (await emulatorCmds()).emulatorFault(op, hr, o, g())));
  // `--owner` here is the global option (commander binds it to the program wherever it appears),
  // so "create-foreign <id> --owner docker" works; it must be given explicitly.
  emu.command('create-foreign').argument('<id>').option('--type <type>', 'Container or VirtualMachine', 'Container')
    .option('--state <state>', 'Created, Running, Paused', 'Running').description('create a system owned by another management stack (--owner docker)')
    .addHelpText('after', '\nRequired:\n  --owner <name>   the foreign owner (a global option), e.g. create-foreign web-1 --owner docker')
    .action(act(async (id: string, o: { type?: string; state?: string }) => {
      if (program.getOptionValueSource('owner') !== 'cli') throw new UsageError('emulator create-foreign: --owner is required (the foreign owner, e.g. --owner docker)', 64);
      return (await emulatorCmds()).emulatorCreateForeign(id, { ...o, owner: g().owner }, g());
    }));
}

function addImageCommands(
  program: Command,
  g: () => GlobalOptions,
  act: <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) => (...args: A) => Promise<void>,
): void {
  const img = program.command('image').description('pull, list and remove container images in the local store (--data-root)');
  const manifests = (c: Command) => c.option('--manifests <dir>', 'manifests folder that decides what is in use', 'manifests');
  img.command('pull').argument('<ref>', 'image reference, e.g. mcr.microsoft.com/windows/nanoserver:ltsc2022')
    .description('pull an image for this host and import its layers').action(act(async (ref: string) => (await imageCmds()).imagePull(ref, g())));
  manifests(img.command('ls')).addOption(output()).description('list stored images')
    .action(act(async (o: { output?: string; manifests?: string }) => (await imageCmds()).imageLs(o, g())));
  manifests(img.command('rm')).argument('<ref>').description('remove an image (refused while a manifest uses it)')
    .action(act(async (ref: string, o: { manifests?: string }) => (await imageCmds()).imageRm(ref, o, g())));
  manifests(img.command('prune')).addOption(output()).description('remove every image no manifest uses, and unreferenced layers')
    .action(act(async (o: { output?: string; manifests?: string }) => (await imageCmds()).imagePrune(o, g())));
}

function addServiceCommands(program: Command, act: <A extends unknown[]>(fn: (...args: A) => Promise<number> | number) => (...args: A) => Promise<void>): void {
  const svc = program.command('service').description('run the controller as a Windows service (hosted by WinSW, as LocalSystem)');
  const common = (c: Command) => c.option('--name <name>', 'service name', 'hcs-reconciler').option('--manifests <dir>', 'manifests folder')
    .option('--threadpool <n>', 'UV_THREADPOOL_SIZE for the service', '64');
  common(svc.command('print')).argument('[args...]', 'extra arguments for "run" (after --)')
    .description('print the WinSW service definition and the install commands')
    .action(act(async (args: string[], o: { name?: string; manifests?: string; threadpool?: string }) => {
      const { servicePrint, serviceOptions } = await serviceCmds();
      process.stdout.write(servicePrint(serviceOptions({ ...o, args })));
      return 0;
    }));
  common(svc.command('install')).requiredOption('--winsw <exe>', 'WinSW-x64.exe').option('--dir <dir>', 'where the service exe and XML go', 'C:\\ProgramData\\hcs-reconciler')
    .argument('[args...]', 'extra arguments for "run" (after --)').description('install and start the Windows service (elevated prompt)')
    .action(act(async (args: string[], o: { name?: string; manifests?: string; threadpool?: string; winsw: string; dir: string }) => {
      const { serviceInstall, serviceOptions } = await serviceCmds();
      return serviceInstall(serviceOptions({ ...o, args }), o.winsw, o.dir);
    }));
  svc.command('uninstall').option('--name <name>', 'service name', 'hcs-reconciler').option('--dir <dir>', 'where the service exe is', 'C:\\ProgramData\\hcs-reconciler')
    .description('stop and remove the service (workloads keep running)')
    .action(act(async (o: { name: string; dir: string }) => (await serviceCmds()).serviceUninstall(o.name, o.dir)));
}

/** Run the CLI; resolves with the process exit code. */
export async function main(argv: string[]): Promise<number> {
  exitQuietlyOnEpipe(); // before any command writes: `... | head -1` must not die of EPIPE
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 64;
    if (err instanceof UsageError) {
      process.stderr.write(`hcs-reconciler: ${err.message}\n`);
      return err.exitCode;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`hcs-reconciler: ${message}\n`);
    if (process.env.HCS_RECONCILER_DEBUG) process.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return 1;
  }
}
