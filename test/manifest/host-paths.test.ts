/**
 * Host paths (issue 12, findings 5 and 6): every host path a manifest can name goes through the
 * policy; `document:` passthrough needs the policy's explicit consent; the controller's own
 * folders are never mapped into a container; and the Windows path spellings that name another
 * file or a device (trailing dots/spaces, device names, streams, `..`, device prefixes, short
 * names) are refused, so that a prefix comparison on whole segments means what it says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseManifestFile, type ManifestOptions } from '../../src/manifest/index.ts';

/**
 * A process-isolated container's scratch is a mounted volume GUID path (audit D13, issue 13), so the
 * fixture uses one and the policy names it next to D:\\data.
 */
const SCRATCH = '\\\\?\\Volume{0b7d6c1e-2f4a-4c3b-9d8e-5a6f7b8c9d0e}\\';
const policy = { allowedHostPaths: ['D:\\data', SCRATCH] };
const ALLOWED = `D:\\data, ${SCRATCH}`;

function parse(text: string, opts: ManifestOptions = {}) {
  return parseManifestFile('m/x.yaml', new TextEncoder().encode(text), opts);
}
function errorsAt(text: string, opts: ManifestOptions = {}): string[] {
  return parse(text, opts).errors.map((e) => `${e.path}: ${e.message}`);
}

function container(o: { layer?: string; scratch?: string; host?: string; uvm?: string } = {}): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: web }
spec:
  container:
    isolation: ${o.uvm ? 'hyperv' : 'process'}
    layers:
      - id: 8f3d9a52-6c1e-4b7a-9e2f-1d5c7b3a9e41
        path: '${o.layer ?? 'D:\\data\\layers\\base'}'
    scratch: '${o.scratch ?? SCRATCH}'
${o.host ? `    mappedDirectories:\n      - { hostPath: '${o.host}', containerPath: 'C:\\data' }\n` : ''}${o.uvm ? `    utilityVm: { imagePath: '${o.uvm}', scratchPath: '${o.uvm}\\sandbox.vhdx' }\n` : ''}`;
}

function vm(boot: string, disk: string): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata: { name: vm }
spec:
  virtualMachine:
    memoryMB: 1024
    bootDisk: { path: '${boot}' }
    disks: [{ path: '${disk}' }]
`;
}

test('under a policy, every host path must be under an allowed prefix', () => {
  assert.deepEqual(errorsAt(container(), { policy }), [], 'all under D:\\data');
  assert.deepEqual(errorsAt(container({ layer: 'C:\\' }), { policy }), [
    `spec.container.layers[0].path: layer C:\\ is not allowed by the host policy (allowed: ${ALLOWED})`,
  ]);
  // Refused twice over: not a volume GUID path (D13), and not allowed by the policy.
  assert.ok(errorsAt(container({ scratch: 'C:\\Windows\\System32' }), { policy }).includes(
    `spec.container.scratch: scratch C:\\Windows\\System32 is not allowed by the host policy (allowed: ${ALLOWED})`,
  ));
  // The Hyper-V fixture draws other errors too (schema 1.0 wants a sandbox folder, issue 13); the
  // policy still covers both utility VM paths.
  const uvmErrors = errorsAt(container({ uvm: 'C:\\Windows' }), { policy });
  for (const expected of [
    `spec.container.utilityVm.imagePath: utility VM image C:\\Windows is not allowed by the host policy (allowed: ${ALLOWED})`,
    `spec.container.utilityVm.scratchPath: utility VM scratch C:\\Windows\\sandbox.vhdx is not allowed by the host policy (allowed: ${ALLOWED})`,
  ]) assert.ok(uvmErrors.includes(expected), `${expected} in ${uvmErrors.join('; ')}`);
  assert.deepEqual(errorsAt(vm('D:\\data\\vm\\os.vhdx', 'C:\\Windows\\System32\\config\\SAM'), { policy }), [
    `spec.virtualMachine.disks[0].path: disk C:\\Windows\\System32\\config\\SAM is not allowed by the host policy (allowed: ${ALLOWED})`,
  ]);
  assert.equal(errorsAt(vm('C:\\boot.vhdx', 'D:\\data\\d.vhdx'), { policy }).length, 1, 'the boot disk too');
  // A volume GUID scratch is a whole volume: allowed only when the policy names that volume.
  const volume = '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\';
  assert.equal(errorsAt(container({ scratch: volume }), { policy }).length, 1);
  assert.deepEqual(errorsAt(container({ scratch: volume }), { policy: { allowedHostPaths: ['D:\\data', SCRATCH, volume] } }), []);
  // Whole segments, case-insensitive.
  assert.deepEqual(errorsAt(container({ host: 'd:\\DATA\\web' }), { policy }), []);
  assert.equal(errorsAt(container({ host: 'D:\\database' }), { policy }).length, 1);
});

test('document passthrough is refused under a policy unless it says allowDocument: true', () => {
  const raw = readFileSync('manifests/raw-document.yaml', 'utf8');
  const globalRoot = raw.replace("'C:\\ProgramData\\hcs-reconciler\\vms\\raw-vm\\os.vhdx'", "'\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1'");
  assert.deepEqual(errorsAt(globalRoot, { policy }), [
    'spec.document: document passthrough is not allowed by the host policy (a policy is set and does not say allowDocument: true)',
  ]);
  assert.deepEqual(errorsAt(raw, { policy: { ...policy, allowDocument: false } }), ['spec.document: document passthrough is not allowed by the host policy (allowDocument: false)']);
  assert.deepEqual(errorsAt(raw, { policy: { ...policy, allowDocument: true } }), []);
  assert.deepEqual(errorsAt(raw), [], 'no policy: passthrough as before');
});

test("without a policy, the controller's own folders are never mapped into a container", () => {
  const own: ManifestOptions = { protectedPaths: ['C:\\gitops\\manifests', 'C:\\ProgramData\\hcs-reconciler\\hcs-reconciler.lock'] };
  for (const host of ['C:\\gitops\\manifests', 'c:\\GITOPS', 'C:\\', 'C:\\gitops\\manifests\\team', 'C:\\ProgramData\\hcs-reconciler', 'C:\\ProgramData']) {
    const errors = errorsAt(container({ host }), own);
    assert.equal(errors.length, 1, `${host}: ${errors.join('; ')}`);
    assert.match(errors[0]!, /^spec\.container\.mappedDirectories\[0\]\.hostPath: host path .* would expose the controller's own .* inside the container; choose another folder$/);
  }
  assert.deepEqual(errorsAt(container({ host: 'C:\\ProgramData\\hcs-reconciler\\data\\web' }), own), [], 'a workload folder next to the lock file is fine');
  assert.deepEqual(errorsAt(container({ host: 'C:\\gitops\\manifests-data' }), own), [], 'whole segments');
  assert.equal(errorsAt(container({ layer: 'C:\\gitops' }), own).length, 1, 'a layer is visible in the container too');
});

test('Windows path tricks are refused wherever a path is accepted', () => {
  const tricks: Array<[string, RegExp]> = [
    ['D:\\data\\.. ', /must not contain "\.\."/],
    ['D:\\data\\.. \\Windows', /must not contain "\.\."/],
    ['D:\\data\\. \\', /segment ending with a dot or a space/],
    ['D:\\data\\x.', /segment ending with a dot or a space/],
    ['D:\\data\\x \\y', /segment ending with a dot or a space/],
    ['D:\\data\\NUL', /reserved device name "NUL"/],
    ['D:\\data\\nul.txt', /reserved device name "nul\.txt"/],
    ['D:\\data\\COM1.log', /reserved device name/],
    ['D:\\data\\lpt9', /reserved device name/],
    ['D:\\data\\CON\\x', /reserved device name/],
    ['D:\\data\\x:stream', /alternate data streams/],
    ['D:\\data\\x::$DATA', /alternate data streams/],
    ['D:\\data\\a..b', /must not contain "\.\."/],
    ['\\\\?\\D:\\data', /device paths/],
    ['\\\\.\\PhysicalDrive0', /device paths/],
    ['\\\\?\\GLOBALROOT\\Device\\HarddiskVolumeShadowCopy1', /device paths/],
    ['D:\\DATA~1\\x', /8\.3 short name/],
    ['D:\\data\\\\x', /empty segments/],
  ];
  for (const [path, why] of tricks) {
    for (const text of [container({ host: path }), vm(path, 'D:\\data\\d.vhdx')]) {
      const errors = errorsAt(text, { policy });
      assert.ok(errors.some((e) => why.test(e)), `${path}: ${errors.join('; ')}`);
    }
  }
  for (const fine of ['D:\\data', 'D:\\data\\', 'D:\\data\\web.app', 'D:\\data\\console', 'D:\\data\\com10', 'D:\\data\\nul-sink']) {
    assert.deepEqual(errorsAt(container({ host: fine }), { policy }), [], fine);
  }
});
