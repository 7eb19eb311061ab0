/**
 * Where the emulator service listens by default. Its own module, free of imports beyond node:,
 * so commands that only need the path (the lock's scope, status) do not load the launcher.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Default emulator socket: $HCS_EMULATOR_SOCKET, else under $XDG_RUNTIME_DIR, else the temp folder. */
export function defaultSocketPath(): string {
  const env = process.env.HCS_EMULATOR_SOCKET;
  if (env) return env;
  const xdg = process.env.XDG_RUNTIME_DIR;
  if (xdg) return join(xdg, 'hcs-emulator', 'service.sock');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(process.env.TMPDIR || tmpdir() || '/tmp', `hcs-emulator-${uid}`, 'service.sock');
}
