/** `status` text while an image is pulled: ACTUAL shows `Pulling` with bytes done / total (the JSON row carries `pull`). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../src/cli/commands/status.ts';
import { actualText } from '../../src/cli/output.ts';
import type { ControllerStatus } from '../../reconciler/index.ts';

test('ACTUAL is "Pulling 12.0/80.0 MB" while the image of a system not yet created is pulled', () => {
  const row: ControllerStatus['systems'][number] = {
    name: 'web', desired: 'Running', actual: 'Pulling', ids: [], hash: '1a2b3c4d5e6f', restarts: 0, phase: 'working',
    pending: ['pull: image reg/win/web:v1 is not in the local image store (imagePullPolicy IfNotPresent)'], lastKnownGood: false, suspended: false,
    pull: { reference: 'reg/win/web:v1', doneBytes: 12_000_000, totalBytes: 80_000_000 },
  };
  assert.equal(actualText(row), 'Pulling 12.0/80.0 MB');
  assert.equal(actualText({ actual: 'Running' }), 'Running');
  const status: ControllerStatus = { owner: 'o', ready: true, converged: false, passes: 1, suspended: false, systems: [row], manifestErrors: [], ignored: [], unrecognised: [], warnings: [] };
  const text = formatStatus(status, 0);
  assert.match(text.split('\n')[1]!, /^web\s+Running\s+Pulling 12\.0\/80\.0 MB\s+-\s+1a2b3c4d5e6f/);
});
