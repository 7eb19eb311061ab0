/**
 * What a schema 1.0 Hyper-V container document names on the host, checked at create (issue 15):
 * the sandbox folder in LayerFolderPath and the HNS endpoints in EndpointList. Docker builds this
 * document so ([MOBY] daemon/libcontainerd/local/local_windows.go createWindows): LayerFolderPath is
 * the container's writable layer folder, which holds sandbox.vhdx, and for a Hyper-V container it is
 * NOT mounted on the host ("We do not mount if a Hyper-V container", [MOBY] daemon/daemon_windows.go
 * conditionalMountOnStart) and Root.Path (VolumePath) must be omitted; EndpointList is the container's
 * HNS endpoint ids (spec.Windows.Network.EndpointList). HCS attaches the sandbox and the endpoints to
 * the utility VM it builds. The error codes are CHOICES (which HRESULT Windows returns for each is
 * UNVERIFIED): a missing sandbox is ERROR_PATH_NOT_FOUND, a sandbox also attached on the host is
 * ERROR_SHARING_VIOLATION (a VHD is attached once), an unknown endpoint HCN_E_ENDPOINT_NOT_FOUND.
 *
 * The emulator sees only this machine's files: a LayerFolderPath it can resolve (an absolute POSIX
 * path) must hold sandbox.vhdx; a Windows drive path (`C:\...`, as in the example manifests) cannot
 * be looked at here and is taken as it is (a leniency, as for the volume GUID of process isolation).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HR, resultError } from '../hresult.ts';
import type { HostServices } from './host.ts';
import type { OpResult } from './types.ts';

const ERROR_PATH_NOT_FOUND = 0x80070003;
const ERROR_SHARING_VIOLATION = 0x80070020;
const HCN_E_ENDPOINT_NOT_FOUND = 0x803b0002;

const fail = (hresult: number, message: string): OpResult => ({ hresult, result: resultError(hresult, message) });

/** Undefined when the document's host resources are in order; else the create's failure. */
export function checkSchema1Resources(doc: Record<string, unknown>, host: HostServices | undefined): OpResult | undefined {
  if (doc.HvPartition !== true) return undefined;
  if (doc.VolumePath !== undefined) return fail(HR.E_INVALIDARG, 'a Hyper-V container takes its scratch as LayerFolderPath (the sandbox folder); VolumePath must be omitted');
  const folder = doc.LayerFolderPath as string;
  if (folder.startsWith('/')) {
    const isDir = existsSync(folder) && statSync(folder).isDirectory();
    if (!isDir || !existsSync(join(folder, 'sandbox.vhdx'))) return fail(ERROR_PATH_NOT_FOUND, `LayerFolderPath ${folder} holds no sandbox.vhdx (CreateSandboxLayer makes it)`);
    if (host?.volumes.isActivated(folder)) return fail(ERROR_SHARING_VIOLATION, `the sandbox in ${folder} is attached on the host (ActivateLayer); a Hyper-V container's sandbox is attached to its utility VM`);
  }
  const list = doc.EndpointList;
  if (list === undefined) return undefined;
  if (!Array.isArray(list) || !list.every((e) => typeof e === 'string')) return fail(HR.HCS_E_INVALID_JSON, 'EndpointList must be an array of HNS endpoint ids');
  for (const id of list as string[]) {
    if (!host?.hcn.hasEndpoint(id)) return fail(HCN_E_ENDPOINT_NOT_FOUND, `EndpointList: HNS endpoint ${id} does not exist`);
  }
  return undefined;
}
