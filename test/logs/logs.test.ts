/**
 * src/logs: line splitting (long lines split, UTF-8 kept whole, partial last line), size
 * rotation like Docker's json-file, the data-root defaults, and reading/following across
 * rotations without losing or repeating a record.
 */
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { captureOutput } from '../../src/logs/capture.ts';
import { decodeRecord, LineSplitter, MAX_LINE_BYTES, type LogRecord } from '../../src/logs/format.ts';
import { resolveDataRoot } from '../../src/logs/paths.ts';
import { currentSystemId, followRecords, snapshotRecords, tailRecords, type LogGap } from '../../src/logs/reader.ts';
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
  const lines = readFileSync(join(dir, 'web-1.log.1'), 'utf8').trimEnd().split('\n');
  assert.equal(lines[0], '{"log":"one\\r\\n","stream":"stdout","time":"2026-12-01T20:00:00.000Z"}');
  assert.deepEqual(lines.map((l) => decodeRecord(l)?.log).sort(), ['one\r\n', 'oops\n', 'three (no newline)', 'two\n']);
  assert.equal(currentSystemId(dir), 'web-1');
});

test('rotation by size: numbered files .log.1, .log.2, … (never renamed), at most max-file, none over max-size', (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'web-1', { maxBytes: 1000, maxFiles: 3 }, fixedClock);
  for (let i = 1; i <= 100; i++) w.write('stdout', `line ${i}\n`);
  w.close();
  const n = w.rotations + 1; // the number of the file being written
  assert.ok(w.rotations >= 5);
  const files = readdirSync(dir).filter((f) => f.startsWith('web-1.log')).sort();
  assert.deepEqual(files, [`web-1.log.${n - 2}`, `web-1.log.${n - 1}`, `web-1.log.${n}`]);
  for (const f of files) assert.ok(statSync(join(dir, f)).size <= 1000, `${f} within max-size`);
  const { records, cursor } = snapshotRecords(dir, 'web-1');
  const numbers = records.map((r) => Number(r.log.split(' ')[1]));
  assert.equal(numbers.at(-1), 100);
  assert.deepEqual(numbers, numbers.map((_, i) => numbers[0]! + i), 'oldest kept file first, no gap');
  assert.ok(cursor.fd !== undefined && cursor.serial === n && cursor.pos === statSync(join(dir, `web-1.log.${n}`)).size, 'cursor at the end of the newest file');
  closeSync(cursor.fd);
  const again = new RotatingLogWriter(dir, 'web-1', { maxBytes: 1000, maxFiles: 3 }, fixedClock);
  again.write('stdout', 'line 101\n'); // a new run of the same system appends to the newest file
  again.close();
  assert.equal(readdirSync(dir).filter((f) => f.startsWith('web-1.log')).length, 3);
  const one = new RotatingLogWriter(dir, 'solo', { maxBytes: 200, maxFiles: 1 }, fixedClock);
  for (let i = 0; i < 20; i++) one.write('stderr', `${i}\n`);
  one.close();
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('solo.log')), [`solo.log.${one.rotations + 1}`], 'max-file 1 keeps one file');
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

test('follow: more than max-file rotations between two polls loses files, and says which, never silently', async (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'web-1', { maxBytes: 200, maxFiles: 2 }, fixedClock);
  let line = 0;
  const write = (count: number): void => {
    for (let i = 0; i < count; i++) w.write('stdout', `line ${++line}\n`);
  };
  write(3);
  const { records, cursor } = snapshotRecords(dir, 'web-1');
  const seen = records.map((r) => r.log);
  const gaps: LogGap[] = [];
  let polls = 0;
  const stop = new AbortController();
  // The poll hook plays the writer between two polls: a burst of rotations each time.
  const bursts = [
    () => write(5), // within the current file and one rotation: nothing lost
    () => write(60), // ~10 rotations with max-file 2: files vanish before the next poll
    () => write(1),
    () => {
      w.close(true);
    },
  ];
  const ended = await followRecords(dir, 'web-1', {
    cursor,
    onRecord: (r) => seen.push(r.log),
    onGap: (g) => gaps.push(g),
    pause: async () => {
      const burst = bursts[polls++];
      if (burst) burst();
      else stop.abort();
    },
    signal: stop.signal,
  });
  assert.equal(ended, true, 'ended by the marker, not by the abort');
  const numbers = seen.map((l) => Number(l.split(' ')[1]));
  assert.deepEqual(numbers.slice(0, 8), [1, 2, 3, 4, 5, 6, 7, 8], 'the first burst is complete');
  assert.equal(numbers.at(-1), line, 'the last line arrives');
  assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), 'in order, none twice');
  assert.equal(gaps.length, 1, `one gap reported: ${JSON.stringify(gaps)}`);
  const gap = gaps[0]!;
  assert.ok(gap.files >= 1 && gap.next === gap.after + gap.files + 1);
  const lost = line - numbers.length;
  assert.ok(lost > 0, 'lines were lost (files removed unread)');
  const missing = Array.from({ length: line }, (_, i) => i + 1).filter((n) => !numbers.includes(n));
  assert.deepEqual(missing, Array.from({ length: missing.length }, (_, i) => missing[0]! + i), 'the lost lines are one contiguous run: the files of the gap');
  const { gapMarker } = await import('../../src/cli/commands/logs.ts');
  assert.match(gapMarker('web-1', gap), new RegExp(`^--- logs: ${gap.files} log files? of web-1 \\(files? ${gap.after + 1}.*rotated away before they could be read: their lines are missing here ---\\n$`));
});

test('follow: a file the follower has seen stays readable after the writer removed it (no loss within max-file)', async (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'web-1', { maxBytes: 200, maxFiles: 3 }, fixedClock);
  let line = 0;
  const write = (count: number): void => {
    for (let i = 0; i < count; i++) w.write('stdout', `line ${++line}\n`);
  };
  const { cursor } = snapshotRecords(dir, 'web-1');
  const seen: number[] = [];
  const gaps: LogGap[] = [];
  let polls = 0;
  const ended = await followRecords(dir, 'web-1', {
    cursor,
    onRecord: (r) => seen.push(Number(r.log.split(' ')[1])),
    onGap: (g) => gaps.push(g),
    // Up to three rotations per pause with max-file 3: each burst removes the file the follower is
    // reading (held open: its last lines are still read) and the next poll finds every newer one.
    pause: async () => {
      if (polls++ < 20) write(6); // ~70-byte records, 2 per 200-byte file: up to 3 rotations
      else w.close(true);
    },
  });
  assert.equal(ended, true);
  assert.ok(w.rotations >= 50, `rotated ${w.rotations} times`);
  assert.deepEqual(gaps, []);
  assert.deepEqual(seen, Array.from({ length: line }, (_, i) => i + 1), 'every line once, in order');
});

test('tail: the last N records read backwards equal the end of the whole read, across files, long lines, UTF-8 and a torn last line', (t) => {
  const dir = tempDir(t);
  const w = new RotatingLogWriter(dir, 'tail-1', { maxBytes: 300_000, maxFiles: 4 }, fixedClock);
  for (let i = 0; i < 3000; i++) {
    const body = i % 97 === 0 ? 'é€'.repeat(20_000 + i) : `line ${i} ${'x'.repeat(i % 50)}`; // some lines span several 64 KiB blocks
    w.write(i % 4 === 0 ? 'stderr' : 'stdout', `${body}\n`);
  }
  w.close();
  const newest = listNewest(dir, 'tail-1');
  appendFileSync(join(dir, newest), '{"log":"torn'); // a record being written: neither reader returns it
  const whole = snapshotRecords(dir, 'tail-1');
  if (whole.cursor.fd !== undefined) closeSync(whole.cursor.fd);
  assert.ok(readdirSync(dir).filter((f) => f.startsWith('tail-1.log')).length >= 3, 'spans several files');
  const onlyStderr = (r: LogRecord) => r.stream === 'stderr';
  for (const n of [0, 1, 2, 10, 97, 500, whole.records.length - 1, whole.records.length, whole.records.length + 5]) {
    const tail = tailRecords(dir, 'tail-1', n);
    assert.deepEqual(tail.records, whole.records.slice(Math.max(0, whole.records.length - n)), `--tail ${n}`);
    assert.equal(tail.cursor.serial, whole.cursor.serial);
    assert.equal(tail.cursor.pos, whole.cursor.pos, 'the cursor stops before the torn line, like the whole read');
    if (tail.cursor.fd !== undefined) closeSync(tail.cursor.fd);
    const filtered = tailRecords(dir, 'tail-1', n, onlyStderr);
    const expected = whole.records.filter(onlyStderr);
    assert.deepEqual(filtered.records, expected.slice(Math.max(0, expected.length - n)), `--tail ${n} with a filter`);
    if (filtered.cursor.fd !== undefined) closeSync(filtered.cursor.fd);
  }
  assert.deepEqual(tailRecords(dir, 'absent', 5).records, []);
});

function listNewest(dir: string, id: string): string {
  return readdirSync(dir).filter((f) => f.startsWith(`${id}.log.`)).sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop())).at(-1)!;
}
