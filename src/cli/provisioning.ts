/**
 * Wiring of the provisioning adapter (issue 15): the HCN binding, the scratch exports and the layer
 * binding over the data root, as the controller's ProvisionPort (run and apply).
 */
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../emulator/native/build.mjs';
import { HcnNative } from '../hcs/hcn.ts';
import { ScratchNative } from '../hcs/scratch.ts';
import { defaultDataRoot } from '../images/paths.ts';
import { NetworkProvisioner } from '../network/provisioner.ts';
import { ProvisioningPort } from '../network/provisioning-port.ts';
import { ScratchStore } from '../scratch/store.ts';
import { openLayers } from './images.ts';

/** The ProvisionPort of a data root; the native libraries load on first use. `readOnly`: for `plan` (observe only). */
export function openProvisioning(dataRoot: string | undefined, opts: { readOnly?: boolean } = {}): ProvisioningPort {
  const root = dataRoot ?? defaultDataRoot();
  const emulated = process.platform !== 'win32';
  return new ProvisioningPort(() => {
    if (emulated) ensureEmulatorLibrary();
    const hcn = new HcnNative(emulated && !process.env.HCS_COMPUTENETWORK_LIBRARY ? { libraryPath: emulatorLibraryPath('libcomputenetwork.so') } : {});
    const scratchNative = new ScratchNative(emulated && !process.env.HCS_VMCOMPUTE_LIBRARY ? emulatorLibraryPath('libvmcompute.so') : undefined);
    return { scratch: new ScratchStore(root, scratchNative, openLayers()), network: new NetworkProvisioner(hcn, root) };
  }, opts);
}
