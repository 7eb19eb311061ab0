/**
 * Audit D7 end to end through the reconciler and the koffi binding: a VM on a 20348 host renders
 * Services.Shutdown and is stopped gracefully with the IntegrationService options; on a host
 * without the service (17763: no Services rendered) the emulated VM ignores ShutDown and the
 * controller terminates it after stopTimeout. Also D3: the disk is granted before Start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadManifests } from '../../src/manifest/index.ts';
import { OWNER, startController, startRig, until } from '../integration/helpers.ts';

function vmYaml(state: 'Running' | 'Stopped'): string {
  return `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: vm
spec:
  state: ${state}
  stopTimeout: 1s
  virtualMachine:
    memoryMB: 1023
    cpuCount: 2
    bootDisk:
      path: 'C:\\vms\\vm\\os.vhdx'
`;
}

for (const [build, graceful] of [[20348, true], [17763, false]] as const) {
  test(`VM on build ${build}: ${graceful ? 'graceful IntegrationService shutdown' : 'shutdown ignored, terminated after stopTimeout'} (D7)`, async () => {
    const rig = await startRig();
    const { controller, hcs, clock } = startController(rig);
    const load = () => loadManifests(rig.manifests, { owner: OWNER, hostFacts: { build } });
    try {
      rig.write('vm', vmYaml('Running'));
      controller.applySnapshot(await load());
      await until(async () => (await rig.systems()).some((s) => s.endsWith(':Running')), 'vm running', controller);
      const [info] = (await rig.emu.control.list()).filter((s) => s.owner === OWNER);
      const vm = info!.document.VirtualMachine as { Services?: unknown; ComputeTopology: { Memory: { SizeInMB: number } } };
      assert.equal(vm.ComputeTopology.Memory.SizeInMB, 1024, 'memory rounded up to 2 MB (D12)');
      assert.equal(vm.Services !== undefined, graceful, 'Services.Shutdown only on 20348+');
      rig.write('vm', vmYaml('Stopped'));
      controller.applySnapshot(await load());
      await until(async () => {
        clock.increment(500);
        return (await rig.systems()).length === 0;
      }, 'vm stopped', controller);
      const log = (await rig.emu.control.callLog()).filter((c) => c.id === info!.id).map((c) => c.op);
      assert.ok(log.indexOf('GrantVmAccess') > log.indexOf('Create') && log.indexOf('GrantVmAccess') < log.indexOf('Start'), `grant after create, before start (D3): ${log.join(',')}`);
      assert.ok(log.includes('ShutDown'));
      assert.equal(log.includes('Terminate'), !graceful, `terminate only without the service: ${log.join(',')}`);
    } finally {
      await controller.dispose();
      await hcs.close();
      await rig.stop();
    }
  });
}
