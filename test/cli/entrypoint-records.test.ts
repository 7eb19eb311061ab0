/** The controller's local entrypoint record (audit D5): persisted, reloaded, and harmless when missing or corrupt. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openEntrypointRecords } from '../../src/cli/entrypoint-records.ts';

test('entrypoint records survive a restart; a corrupt file reads as empty', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-eprec-'));
  try {
    const a = openEntrypointRecords('own/er', dir);
    a.set('web-0123456789ab', { processId: 1004, imageName: 'cmd.exe', createTimestamp: '2026-12-01T10:00:00.000Z' });
    a.set('db-0123456789ab', { processId: 1005, imageName: 'sqlservr.exe' });
    a.delete('db-0123456789ab');
    const b = openEntrypointRecords('own/er', dir);
    assert.deepEqual(b.get('web-0123456789ab'), { processId: 1004, imageName: 'cmd.exe', createTimestamp: '2026-12-01T10:00:00.000Z' });
    assert.equal(b.get('db-0123456789ab'), undefined);
    writeFileSync(b.file, '{not json');
    assert.equal(openEntrypointRecords('own/er', dir).get('web-0123456789ab'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
