/**
 * The host facts every command renders with (issue 13): the build from RtlGetVersion (Windows) or
 * the emulator library (HCSEMU_HOST_BUILD, default 20348), the logical processors, and on Windows
 * a probe for `UtilityVM` folders in layer folders (hcsshim's uvmfolder rule, audit D11).
 */
import { existsSync } from 'node:fs';
import { ensureEmulatorLibrary } from '../emulator/native/build.mjs';
import { readHostFacts } from '../hcs/host.ts';
import type { HostProfile } from '../manifest/host-profile.ts';

/** Reads the facts once per process; throws with what to do when they cannot be read. */
export function cliHostFacts(): HostProfile {
  cached ??= read();
  return cached;
}

let cached: HostProfile | undefined;

function read(): HostProfile {
  if (process.platform === 'win32') {
    const f = readHostFacts();
    return { ...f, hasUtilityVm: (layer) => existsSync(`${layer.replace(/\\+$/, '')}\\UtilityVM`) };
  }
  let emulatorLibrary: string;
  try {
    emulatorLibrary = ensureEmulatorLibrary();
  } catch (err) {
    throw new Error(`cannot read the host build: ${(err as Error).message}`, { cause: err });
  }
  return readHostFacts({ emulatorLibrary });
}
