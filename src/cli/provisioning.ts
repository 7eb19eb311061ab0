/**
 * Wiring of the provisioning adapter (issue 15): the HCN binding, the scratch exports and the layer
 * binding, over the data root, around the HCS client of `run` and `apply`.
 */
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../emulator/native/build.mjs';
import { HcnNative } from '../hcs/hcn.ts';
import { ScratchNative } from '../hcs/scratch.ts';
import { defaultDataRoot } from '../images/paths.ts';
import { NetworkProvisioner } from '../network/provisioner.ts';
import { provisioningHcs, type ProvisioningHcs } from '../network/provisioning-hcs.ts';
import { ScratchStore } from '../scratch/store.ts';
import type { HcsClient, Logger } from '../../reconciler/ports.ts';
import { openLayers } from './images.ts';

/** Wraps `hcs` so manifests without scratch/networkNamespace get them provisioned. */
export function withProvisioning(hcs: HcsClient, dataRoot: string | undefined, logger: Logger): ProvisioningHcs {
  const root = dataRoot ?? defaultDataRoot();
  const emulated = process.platform !== 'win32';
  // Loaded on first use: a host without computenetwork.dll still runs manifests that provision nothing.
  return provisioningHcs(hcs, () => {
    if (emulated) ensureEmulatorLibrary();
    const hcn = new HcnNative(emulated && !process.env.HCS_COMPUTENETWORK_LIBRARY ? { libraryPath: emulatorLibraryPath('libcomputenetwork.so') } : {});
    const scratchNative = new ScratchNative(emulated && !process.env.HCS_VMCOMPUTE_LIBRARY ? emulatorLibraryPath('libvmcompute.so') : undefined);
    const scratch = new ScratchStore(root, scratchNative, openLayers());
    return { scratch, network: new NetworkProvisioner(hcn, root), log: logger };
  });
}
