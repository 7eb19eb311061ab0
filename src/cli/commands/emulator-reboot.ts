/**
 * `hcs-reconciler emulator reboot`: an emulated Windows reboot. Everything a reboot removes vanishes:
 * compute systems, mounted scratch volumes, HNS endpoints and namespaces, NAT networks ("NAT networks
 * created on Windows Server 2019 (or above) are no longer persisted after reboot", [MSDOCS]
 * network-drivers-topologies.md); files on disk (layers, scratch folders) stay. Exit 0, or 1 when no
 * emulator runs.
 */
import { defaultSocketPath, findEmulator } from '../../emulator/index.ts';
import type { GlobalOptions } from '../context.ts';
import { UsageError } from '../output.ts';

/** `emulator reboot`. */
export async function emulatorReboot(g: GlobalOptions): Promise<number> {
  const socket = g.emulatorSocket ?? defaultSocketPath();
  const control = await findEmulator(socket);
  if (!control) throw new UsageError(`no HCS emulator is running at ${socket} (start one with "hcs-reconciler emulator start")`);
  try {
    await control.command('reboot');
  } finally {
    await control.close();
  }
  process.stdout.write('rebooted: compute systems, mounted scratches, endpoints, namespaces and NAT networks are gone; files stay\n');
  return 0;
}
