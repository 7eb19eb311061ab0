/**
 * Where container logs live: `<data root>/logs/<name>/`, one folder per manifest name, with the
 * current file `<name>.log` and the rotated ones `<name>.log.1` (newest) … `<name>.log.<N-1>`
 * (Docker json-file naming: moby daemon/logger/loggerutils/logfile.go rotate()).
 *
 * The data root: the explicit value (the global `--data-root`, issue 14), else
 * %ProgramData%\hcs-reconciler on Windows, else $XDG_DATA_HOME/hcs-reconciler, else
 * ~/.local/share/hcs-reconciler (XDG Base Directory specification defaults).
 */
import { homedir } from 'node:os';
import { join, win32 } from 'node:path';

/** The data root for this platform and environment. */
export function resolveDataRoot(explicit?: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (explicit) return explicit;
  if (platform === 'win32') return win32.join(env.ProgramData ?? env.PROGRAMDATA ?? 'C:\\ProgramData', 'hcs-reconciler');
  const xdg = env.XDG_DATA_HOME;
  if (xdg?.startsWith('/')) return join(xdg, 'hcs-reconciler'); // relative values are ignored (XDG spec)
  return join(homedir(), '.local', 'share', 'hcs-reconciler');
}

/** The log folder of one manifest name. */
export function logDirFor(dataRoot: string, name: string): string {
  return join(dataRoot, 'logs', name);
}

/** The current log file of a name (rotated ones add `.1`, `.2`, …). */
export function logFileFor(dir: string, name: string): string {
  return join(dir, `${name}.log`);
}
