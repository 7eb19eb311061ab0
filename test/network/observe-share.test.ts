// The endpoint and namespace kinds of one relist share one HCN enumeration; the next relist enumerates afresh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { ProvisioningPort } from '../../src/network/provisioning-port.ts';
import type { NetworkProvisioner } from '../../src/network/provisioner.ts';
import type { ScratchStore } from '../../src/scratch/store.ts';

test('one relist: endpoint and namespace from one enumeration; a later relist sees changes', async () => {
  let calls = 0;
  let state = [{ systemId: 'a', endpoint: true, namespace: false, journal: false }];
  const network = {
    observe: async () => {
      calls++;
      return state;
    },
  } as unknown as NetworkProvisioner;
  const port = new ProvisioningPort(() => ({ scratch: {} as ScratchStore, network }));
  assert.deepEqual(await port.observe('endpoint'), [{ id: 'a', ready: true }]);
  assert.deepEqual(await port.observe('namespace'), [], 'the endpoint is in no namespace yet');
  assert.equal(calls, 1, 'one enumeration for both kinds');
  await turn();
  state = [{ systemId: 'a', endpoint: true, namespace: true, journal: false }];
  assert.deepEqual(await port.observe('endpoint'), [{ id: 'a', ready: true }]);
  assert.deepEqual(await port.observe('namespace'), [{ id: 'a', ready: true }], 'the next relist is fresh');
  assert.equal(calls, 2);
});
