/**
 * src/logs: line splitting (long lines split, UTF-8 kept whole, partial last line), size
 * rotation like Docker's json-file, the data-root defaults, and reading/following across
 * rotations without losing or repeating a record.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { captureOutput } from '../../src/logs/capture.ts';
import { decodeRecord, LineSplitter, MAX_LINE_BYTES, type LogRecord } from '../../src/logs/format.ts';
import { resolveDataRoot } from '../../src/logs/paths.ts';
import { currentSystemId, followRecords, snapshotRecords } from '../../src/logs/reader.ts';
import { RotatingLogWriter } from '../../src/logs/writer.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-logs-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const fixedClock = () => new Date('2026-12-01T20:00:00.000Z');

test('LineSplitter: whole lines, long lines split at MAX_LINE_BYTES, UTF-8 never cut, partial flushed', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push(Buffer.from('a\nb')), ['a\n']);
  assert.deepEqual(s.push(Buffer.from('c\r\n')), ['bc\r\n']);
  const long = 'x'.repeat(MAX_LINE_BYTES * 2 + 10);
  const pieces = s.push(Buffer.from(`${long}\n`));
  assert.deepEqual(pieces.map((p) => p.length), [MAX_LINE_BYTES, MAX_LINE_BYTES, 11]);
  assert.equal(pieces.join(''), `${long}\n`, 'split, not dropped');
  const euro = new LineSplitter(5); // '€' is 3 bytes: a cut at 5 would split the second one
  assert.deepEqual(euro.push(Buffer.from('€€€')), ['€', '€']);
  assert.equal(euro.flush(), '€');
  assert.equal(s.push(Buffer.from('tail')).length, 0);
  assert.equal(s.flush(), 'tail');
  assert.equal(s.flush(), undefined);
});

test('data root defaults: --data-root, %ProgramData% on Windows, $XDG_DATA_HOME, ~/.local/share', () => {
  assert.equal(resolveDataRoot('/x'), '/x');
  assert.equal(resolveDataRoot(undefined, { ProgramData: 'D:\\PD' }, 'win32'), 'D:\\PD\\hcs-reconciler');
  assert.equal(resolveDataRoot(undefined, { XDG_DATA_HOME: '/xdg' }, 'linux'), '/xdg/hcs-reconciler');
  assert.match(resolveDataRoot(undefined, { XDG_DATA_HOME: 'relative' }, 'linux'), /\.local\/share\/hcs-reconciler$/);
});

test('capture: one json-file record per line, both streams, partial last lines flushed at the end', async (t) => {
  const dir = tempDir(t);
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const done = captureOutput({ stdout, stderr }, new RotatingLogWriter(dir, 'web-1', undefined, fixedClock));
  stdout.write('one\r\ntw');
  stderr.write('oops\n');
  stdout.end('o\nthree (no newline)');
  stderr.end();
  assert.equal((await done).records, 4);
  const lines = readFileSync(join(dir, 'web-1.log'), 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], '{"log":"one\\r\\n","stream":"stdout","time":"2026-12-01T20:00:00.000Z"}');
  assert.deepEqual(lines.map((l) => decodeRecord(l)?.log).sort(), ['one\r\n', 'oops\n', 'three (no newline)', 'two\n']);
  assert.equal(currentSystemId(dir), 'web-1');
});

test('rotation by size: .log → .log.1 → …, at most max-file files, none over max-size', (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'web-1', { maxBytes: 1000, maxFiles: 3 }, fixedClock);
  for (let i = 1; i <= 100; i++) w.write('stdout', `line ${i}\n`);
  w.close();
  const files = readdirSync(dir).filter((f) => f.startsWith('web-1.log')).sort();
  assert.deepEqual(files, ['web-1.log', 'web-1.log.1', 'web-1.log.2']);
  for (const f of files) assert.ok(statSync(join(dir, f)).size <= 1000, `${f} within max-size`);
  assert.ok(w.rotations >= 5);
  const { records, cursor } = snapshotRecords(dir, 'web-1');
  const numbers = records.map((r) => Number(r.log.split(' ')[1]));
  assert.equal(numbers.at(-1), 100);
  assert.deepEqual(numbers, numbers.map((_, i) => numbers[0]! + i), 'oldest kept generation first, no gap');
  assert.ok(cursor.fd !== undefined && cursor.pos === statSync(join(dir, 'web-1.log')).size, 'cursor at the end of the current file');
  closeSync(cursor.fd);
  const one = new RotatingLogWriter(dir, 'solo', { maxBytes: 200, maxFiles: 1 }, fixedClock);
  for (let i = 0; i < 20; i++) one.write('stderr', `${i}\n`);
  one.close();
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('solo.log')), ['solo.log'], 'max-file 1 truncates');
});

test('snapshot then follow: every record once, in order, across many rotations', async (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'web-1', { maxBytes: 600, maxFiles: 4 }, fixedClock);
  for (let i = 1; i <= 10; i++) w.write('stdout', `line ${i}\n`);
  const { records, cursor } = snapshotRecords(dir, 'web-1');
  const seen: LogRecord[] = [...records];
  const stop = new AbortController();
  let wake: (() => void) | undefined;
  const following = followRecords(dir, 'web-1', {
    cursor, intervalMs: 5, signal: stop.signal,
    onRecord: (r) => {
      seen.push(r);
      wake?.();
    },
  });
  // Write in bursts smaller than two rotations, waiting for the follower to catch up each time
  // (the documented bound: fewer than max-file rotations between two polls).
  for (let i = 11; i <= 300; i++) {
    w.write(i % 3 === 0 ? 'stderr' : 'stdout', `line ${i}\n`);
    if (i % 5 === 0) await new Promise<void>((resolve) => (wake = () => seen.length >= i && resolve()));
  }
  w.close();
  stop.abort();
  await following;
  assert.ok(w.rotations >= 10, `rotated ${w.rotations} times`);
  assert.deepEqual(seen.map((r) => r.log), Array.from({ length: 300 }, (_, i) => `line ${i + 1}\n`));
  assert.equal(seen[11]!.stream, 'stderr'); // line 12
});

test('rotation: flags parse sizes; per-manifest overrides replace them by name', async () => {
  const { parseSize, rotationOf, RotationOverrides } = await import('../../src/cli/log-capture.ts');
  assert.equal(parseSize('--log-max-size', '10m'), 10 * 1024 * 1024);
  assert.equal(parseSize('--log-max-size', '512k'), 512 * 1024);
  assert.equal(parseSize('--log-max-size', '4096'), 4096);
  assert.throws(() => parseSize('--log-max-size', '0'), /expected a size/);
  assert.throws(() => parseSize('--log-max-size', 'ten'), /expected a size/);
  assert.deepEqual(rotationOf({}), { maxBytes: 10 * 1024 * 1024, maxFiles: 5 });
  assert.throws(() => rotationOf({ logMaxFile: '0' }), /--log-max-file/);
  const o = new RotationOverrides(rotationOf({ logMaxSize: '1m', logMaxFile: '3' }));
  const m = (name: string, logs?: { maxSize?: string; maxFiles?: number }) =>
    ({ name, process: { parameters: {}, commandLine: 'x', ...(logs ? { logs } : {}) } }) as unknown as Parameters<typeof o.update>[0][number];
  o.update([m('web', { maxSize: '2k' }), m('db', { maxFiles: 9 }), m('plain')]);
  assert.deepEqual(o.rotationFor('web'), { maxBytes: 2048, maxFiles: 3 });
  assert.deepEqual(o.rotationFor('db'), { maxBytes: 1024 * 1024, maxFiles: 9 });
  assert.deepEqual(o.rotationFor('plain'), { maxBytes: 1024 * 1024, maxFiles: 3 });
  o.update([]);
  assert.deepEqual(o.rotationFor('web'), { maxBytes: 1024 * 1024, maxFiles: 3 }, 'an override leaves with its manifest');
});

test('follow ends by itself once the output ended (the relay closed the writer with ended)', async (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'job-1', { maxBytes: 300, maxFiles: 10 }, fixedClock);
  const { cursor } = snapshotRecords(dir, 'job-1');
  const seen: string[] = [];
  const following = followRecords(dir, 'job-1', { cursor, intervalMs: 5, onRecord: (r) => seen.push(r.log) });
  for (let i = 1; i <= 40; i++) w.write('stdout', `line ${i}\n`);
  w.close(true);
  assert.equal(await following, true, 'ended without an abort');
  assert.equal(seen.length, 40, 'and only after the last record');
  const again = new RotatingLogWriter(dir, 'job-1', undefined, fixedClock); // a new run of the same id clears the marker
  again.close();
  const stop = new AbortController();
  const still = followRecords(dir, 'job-1', { intervalMs: 5, signal: stop.signal, onRecord: () => {} });
  setTimeout(() => stop.abort(), 30);
  assert.equal(await still, false);
});

test('a full 10 MB file (150 000 short lines) is read without exhausting the stack', (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'big-1', undefined, fixedClock);
  for (let i = 0; i < 150_000; i++) w.write('stdout', `${i}\n`);
  w.close();
  const { records, cursor } = snapshotRecords(dir, 'big-1');
  if (cursor.fd !== undefined) closeSync(cursor.fd);
  assert.equal(records.length, 150_000);
  assert.equal(records.at(-1)?.log, '149999\n');
});
