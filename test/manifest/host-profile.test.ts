/** Host facts decide the document (issue 13): build gates, host-dependent manifest problems (D7, D12, D13, D15, D18). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { formatError, parseManifestFile, type ManifestOptions } from '../../src/manifest/index.ts';
import { alignMemoryMB, hostCapabilities, UnknownHostBuildError } from '../../src/manifest/host-profile.ts';
import { layerIdOf } from '../../src/cli/layer-ids.ts';

const vmYaml = readFileSync('manifests/vm.yaml', 'utf8');
const webYaml = readFileSync('manifests/web.yaml', 'utf8');

function load(text: string, opts: ManifestOptions) {
  return parseManifestFile('m/x.yaml', Buffer.from(text), { layerIds: layerIdOf, ...opts });
}

test('builds map to schema versions; unknown builds are refused with a clear message', () => {
  assert.deepEqual([17763, 18363, 19045, 20348, 22631, 26100].map((b) => hostCapabilities(b).schemaMinor), [1, 2, 3, 5, 6, 6]);
  assert.equal(hostCapabilities(17763).integrationShutdown, false);
  assert.equal(hostCapabilities(19041).secureBootTemplate, true);
  assert.throws(() => hostCapabilities(20000), (e: Error) => e instanceof UnknownHostBuildError && /host build 20000 is not one hcs-reconciler knows/.test(e.message));
  const r = load(webYaml, { hostFacts: { build: 99999 } });
  assert.deepEqual(r.manifests, []);
  assert.match(formatError(r.errors[0]!), /host build 99999 is not one/);
});

test('a VM on 17763: no Services, no ApplySecureBootTemplate, schema 2.1; secureBoot is refused there (D7, D15)', () => {
  const noSecure = vmYaml.replace('secureBoot: true', 'secureBoot: false');
  const vm = load(noSecure, { hostFacts: { build: 17763 } }).manifests[0]!.parts[0]!;
  const body = vm.document.VirtualMachine as Record<string, Record<string, Record<string, unknown>>>;
  assert.equal(body.Services, undefined);
  assert.equal(vm.shutdownOptions, undefined);
  assert.equal(body.Chipset!.Uefi!.ApplySecureBootTemplate, undefined);
  assert.deepEqual(vm.document.SchemaVersion, { Major: 2, Minor: 1 });
  const on2019 = load(vmYaml, { hostFacts: { build: 17763 } });
  assert.match(on2019.errors.map(formatError).join('\n'), /spec\.virtualMachine\.secureBoot: needs build 19041 or later/);
  const on2004 = load(noSecure, { hostFacts: { build: 19041 } }).manifests[0]!.parts[0]!;
  assert.equal((on2004.document.VirtualMachine as { Chipset: { Uefi: Record<string, unknown> } }).Chipset.Uefi.ApplySecureBootTemplate, 'Skip');
  assert.deepEqual(on2004.document.SchemaVersion, { Major: 2, Minor: 3 });
});

test('memory is rounded up to 2 MB; cpuCount is checked against the host (D12)', () => {
  assert.deepEqual([64, 65, 4095, 4096].map(alignMemoryMB), [64, 66, 4096, 4096]);
  const odd = load(vmYaml.replace('memoryMB: 4096', 'memoryMB: 4095'), {}).manifests[0]!.parts[0]!;
  assert.equal((odd.document.VirtualMachine as { ComputeTopology: { Memory: { SizeInMB: number } } }).ComputeTopology.Memory.SizeInMB, 4096);
  const small = load(vmYaml, { hostFacts: { build: 20348, logicalProcessors: 2 } });
  assert.match(small.errors.map(formatError).join('\n'), /spec\.virtualMachine\.cpuCount: must be at most 2, this host's logical processors \(got 4\)/);
});

test('process-isolation scratch must be a volume GUID path; a VM NIC without a MAC renders without one (read from HNS at create) (D13, D18)', () => {
  const drive = load(webYaml.replace(/scratch: .*/, "scratch: 'C:\\scratch\\web'"), {});
  assert.match(drive.errors.map(formatError).join('\n'), /spec\.container\.scratch: must be a volume GUID path/);
  const noMac = load(vmYaml.replace(/\n +macAddress: .*/, ''), {});
  assert.deepEqual(noMac.errors, []);
  const nics = (noMac.manifests[0]!.parts[0]!.document.VirtualMachine as { Devices: { NetworkAdapters: Record<string, Record<string, unknown>> } }).Devices.NetworkAdapters;
  assert.deepEqual(Object.values(nics).map((a) => Object.keys(a)), [['EndpointId']], 'no MacAddress in the rendered document: the executor reads the endpoint\'s');
});

test('the utility VM image is the uppermost layer that has a UtilityVM folder (D11)', () => {
  const hyperv = readFileSync('manifests/web-hyperv.yaml', 'utf8');
  const upper = load(hyperv, { hostFacts: { build: 20348, hasUtilityVm: () => true } }).manifests[0]!.parts[0]!;
  assert.deepEqual(upper.document.HvRuntime, { ImagePath: 'C:\\ProgramData\\hcs-reconciler\\layers\\web-app\\UtilityVM' });
  const none = load(hyperv, { hostFacts: { build: 20348, hasUtilityVm: (p) => p.endsWith('ltsc2022') } }).manifests[0]!.parts[0]!;
  assert.deepEqual(none.document.HvRuntime, { ImagePath: 'C:\\ProgramData\\hcs-reconciler\\layers\\servercore-ltsc2022\\UtilityVM' });
});

test('D15: the secure boot template is a choice: MicrosoftWindows by default, MicrosoftUEFICertificateAuthority for Linux guests; only with secureBoot', () => {
  const uefiOf = (text: string) => {
    const r = load(text, {});
    assert.deepEqual(r.errors.map(formatError), []);
    return (r.manifests[0]!.parts[0]!.document.VirtualMachine as { Chipset: { Uefi: Record<string, unknown> } }).Chipset.Uefi;
  };
  assert.equal(uefiOf(vmYaml).SecureBootTemplateId, '1734c6e8-3154-4dda-ba5f-a874cc483422', 'the Windows template by default (hcsshim)');
  const linux = uefiOf(vmYaml.replace('secureBoot: true', 'secureBoot: true\n    secureBootTemplate: MicrosoftUEFICertificateAuthority'));
  assert.deepEqual([linux.ApplySecureBootTemplate, linux.SecureBootTemplateId], ['Apply', '272e7447-90a4-4563-a4b9-8e4ab00526ce']);
  const without = load(vmYaml.replace('secureBoot: true', 'secureBoot: false\n    secureBootTemplate: MicrosoftUEFICertificateAuthority'), {});
  assert.match(without.errors.map(formatError).join('\n'), /spec\.virtualMachine\.secureBootTemplate: is only allowed with secureBoot: true/);
  const unknown = load(vmYaml.replace('secureBoot: true', 'secureBoot: true\n    secureBootTemplate: OpenSourceShieldedVM'), {});
  assert.match(unknown.errors.map(formatError).join('\n'), /spec\.virtualMachine\.secureBootTemplate/);
});
