/**
 * Manifest problems that come from what this host and HCS accept rather than from the schema
 * (fidelity audit rows D12, D13, D15, D18 and the schema 1.0 Hyper-V form). Reported like schema
 * problems: file, line, field, what to do.
 */
import type { Problem } from './messages.ts';
import { hostCapabilities, isVolumeGuidPath, type HostProfile } from './host-profile.ts';
import type { Manifest } from './types.ts';

/** Every host-dependent problem of a schema-valid manifest. */
export function hostProblems(m: Manifest, host: HostProfile): Problem[] {
  const out: Problem[] = [];
  const caps = hostCapabilities(host.build); // an unknown build throws: the caller reports it once
  const cpuMax = host.logicalProcessors;
  const c = m.spec.container;
  if (c) {
    // Absent: the controller provisions the scratch itself (issue 15) and renders its volume path.
    if (c.isolation === 'process' && c.scratch !== undefined && !isVolumeGuidPath(c.scratch)) {
      out.push(problem(['spec', 'container', 'scratch'], 'must be a volume GUID path `\\\\?\\Volume{GUID}\\` for isolation: process ' +
        '(hcsshim rejects anything else); prepare and mount the scratch layer first (docs/hcs-fidelity.md)'));
    }
    if (c.isolation === 'hyperv' && c.scratch !== undefined && isVolumeGuidPath(c.scratch)) {
      out.push(problem(['spec', 'container', 'scratch'], 'must be the sandbox layer folder (with sandbox.vhdx) for isolation: hyperv, ' +
        'as Docker passes it in LayerFolderPath; a mounted volume is for process isolation only'));
    }
    if (c.isolation === 'hyperv' && c.networkNamespace !== undefined) {
      out.push(problem(['spec', 'container', 'networkNamespace'], 'cannot be expressed in the schema 1.0 Hyper-V document ' +
        '(Docker passes HNS endpoint ids in EndpointList); not supported yet for isolation: hyperv'));
    }
    if (c.isolation === 'hyperv' && c.utilityVm?.scratchPath !== undefined) {
      out.push(problem(['spec', 'container', 'utilityVm', 'scratchPath'], 'is not used: HCS builds and manages the utility VM ' +
        'of a schema 1.0 Hyper-V container itself'));
    }
    if (cpuMax !== undefined && c.cpuCount !== undefined && c.cpuCount > cpuMax) {
      out.push(problem(['spec', 'container', 'cpuCount'], `must be at most ${cpuMax}, this host's logical processors (got ${c.cpuCount})`));
    }
  }
  const vm = m.spec.virtualMachine;
  if (vm) {
    if (cpuMax !== undefined && vm.cpuCount > cpuMax) {
      out.push(problem(['spec', 'virtualMachine', 'cpuCount'], `must be at most ${cpuMax}, this host's logical processors (got ${vm.cpuCount})`));
    }
    if (vm.secureBoot && !caps.secureBootTemplate) {
      out.push(problem(['spec', 'virtualMachine', 'secureBoot'], `needs build 19041 or later (HCS schema 2.3); this host is ${caps.name} (${caps.build})`));
    }
    // A network adapter without macAddress gets its HNS endpoint's MAC at create (src/hcs/vm-nics.ts, audit D18).
  }
  return out;
}

function problem(path: Problem['path'], message: string): Problem {
  return { path, key: false, message };
}
