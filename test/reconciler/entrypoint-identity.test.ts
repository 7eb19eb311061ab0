/** Entrypoint identification from HCS ProcessDetails fields only (audit D5). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { identifyEntrypoint, imageNameOf, recordFor } from '../../reconciler/entrypoint-identity.ts';
import type { EntrypointMatch } from '../../reconciler/entrypoint-identity.ts';
import type { ObservedProcess } from '../../reconciler/ports.ts';

const pidOf = (m: EntrypointMatch): number | undefined => (m.kind === 'absent' ? undefined : m.process.processId);

const p = (processId: number, imageName: string, createTimestamp?: string): ObservedProcess => ({ processId, imageName, ...(createTimestamp ? { createTimestamp } : {}) });

describe('imageNameOf', () => {
  it('normalises like Windows: basename, case, .exe appended without an extension', () => {
    assert.equal(imageNameOf('cmd /c ping -t localhost'), 'cmd.exe');
    assert.equal(imageNameOf('powershell -Command Start-Sleep 1000'), 'powershell.exe');
    assert.equal(imageNameOf('"C:\\Program Files\\App\\Server.EXE" --port 80'), 'server.exe');
    assert.equal(imageNameOf('C:\\app\\server --x'), 'server.exe');
    assert.equal(imageNameOf('  node.exe app.js'), 'node.exe');
  });
});

describe('identifyEntrypoint', () => {
  const list = [p(4, 'System'), p(600, 'csrss.exe', '2026-12-01T10:00:00Z'), p(1200, 'CMD.EXE', '2026-12-01T10:00:05Z')];

  it('finds `cmd /c ...` by its image with .exe normalisation (no CommandLine in HCS)', () => {
    const m = identifyEntrypoint(list, 'cmd /c ping -t localhost');
    assert.equal(m.kind, 'unique');
    assert.equal(pidOf(m), 1200);
  });

  it('absent only when no listed process has the image', () => {
    assert.deepEqual(identifyEntrypoint(list, 'powershell -c x'), { kind: 'absent' });
    assert.deepEqual(identifyEntrypoint(list, 'powershell -c x', { processId: 1200, imageName: 'powershell.exe' }), { kind: 'absent' });
  });

  it('several processes of the image: the record decides, else the oldest (reported ambiguous)', () => {
    const many = [p(1300, 'cmd.exe', '2026-12-01T10:00:09Z'), p(1200, 'cmd.exe', '2026-12-01T10:00:05Z'), p(1250, 'cmd.exe', '2026-12-01T10:00:07Z')];
    const byRecord = identifyEntrypoint(many, 'cmd /c x', { processId: 1250, imageName: 'cmd.exe', createTimestamp: '2026-12-01T10:00:07Z' });
    assert.equal(byRecord.kind, 'record');
    assert.equal(pidOf(byRecord), 1250);
    const guess = identifyEntrypoint(many, 'cmd /c x');
    assert.equal(guess.kind, 'ambiguous');
    assert.equal(pidOf(guess), 1200);
    assert.equal((guess as { candidates?: number }).candidates, 3);
  });

  it('a stale record (pid gone, or reused with another timestamp) never hides a running entrypoint', () => {
    const gone = identifyEntrypoint(list, 'cmd /c x', { processId: 999, imageName: 'cmd.exe' });
    assert.equal(gone.kind, 'unique');
    const reused = [p(1250, 'cmd.exe', '2026-12-01T11:00:00Z'), p(1200, 'cmd.exe', '2026-12-01T10:00:05Z')];
    const m = identifyEntrypoint(reused, 'cmd /c x', { processId: 1250, imageName: 'cmd.exe', createTimestamp: '2026-12-01T10:30:00Z' });
    assert.equal(m.kind, 'ambiguous', 'pid 1250 was reused: the record does not apply');
    assert.equal(pidOf(m), 1200);
  });

  it('recordFor keeps pid, normalised image and the timestamp when known', () => {
    assert.deepEqual(recordFor({ processId: 7 }, 'cmd /c x'), { processId: 7, imageName: 'cmd.exe' });
    assert.deepEqual(recordFor(p(7, 'cmd.exe', 't'), 'cmd /c x'), { processId: 7, imageName: 'cmd.exe', createTimestamp: 't' });
  });
});
