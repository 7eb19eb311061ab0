/**
 * The enumerate decoder (src/hcs/enumerate-decoder.ts): always the same result as the plain
 * decoder, and the same objects for what did not change (zero allocation per unchanged system).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toObservedSystems } from '../../src/hcs/documents.ts';
import { EnumerateDecoder, entryBounds } from '../../src/hcs/enumerate-decoder.ts';

const entry = (id: string, state = 'Running', extra: Record<string, unknown> = {}) =>
  ({ Id: id, SystemType: 'Container', Owner: 'hcs-reconciler', State: state, RuntimeId: `{${id}}`, ...extra });
const doc = (entries: unknown[], space?: number) => JSON.stringify(entries, null, space);

test('decoder: the same answer as the plain decoder, for odd documents too', () => {
  const docs: Array<string | null> = [
    null, '', '[]', ' [ ] ', '{}', '"x"', '[1,2]', '[{"Id":"a"}, 3]', doc([entry('a'), entry('b')]), doc([entry('a'), entry('b')], 2),
    doc([entry('q', 'Stopped', { Name: 'has } brace and "quotes" \\ and [', Stopped: true, ExitType: 'ForcedExit' })]),
    doc([entry('n', 'Running', { Nested: { Deep: [{ x: '}' }, []] } })]), '[{"Id":"a"}]  ', '\n[\n{"Id":"a"}\n,\n{"Id":"b"}\n]\n',
  ];
  for (const d of docs) assert.deepEqual(new EnumerateDecoder().decode(d), toObservedSystems(d), `doc ${d}`);
  for (const bad of ['[{"Id":"a"', '[{"Id":"a"},]', '[{"Id": a}]', '[{"Id":"a"} {"Id":"b"}]', '[{"Id":"a"}] x']) {
    assert.throws(() => toObservedSystems(bad), /not JSON/, `plain: ${bad}`);
    assert.throws(() => new EnumerateDecoder().decode(bad), /not JSON/, `decoder: ${bad}`);
  }
});

test('decoder: an unchanged answer is the same array, parsing nothing', () => {
  const d = new EnumerateDecoder();
  const text = doc(Array.from({ length: 1000 }, (_, i) => entry(`s${i}`)));
  const first = d.decode(text);
  assert.equal(d.parsedEntries, 1000);
  // A new string with the same text (as the binding decodes each answer afresh).
  const again = d.decode(`${text} `.trimEnd());
  assert.equal(again, first, 'same array');
  assert.equal(d.parsedEntries, 1000, 'nothing parsed');
  assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]), 'shared results are frozen');
});

test('decoder: one changed system is parsed again; every other keeps its object, also when HCS reorders', () => {
  const d = new EnumerateDecoder();
  const entries = Array.from({ length: 100 }, (_, i) => entry(`s${i}`));
  const first = d.decode(doc(entries));
  entries[42] = entry('s42', 'Stopped', { Stopped: true, ExitType: 'UnexpectedExit' });
  const second = d.decode(doc(entries));
  assert.equal(d.parsedEntries, 101, 'one entry parsed');
  assert.notEqual(second, first);
  assert.equal(second[42]!.state, 'Stopped');
  for (let i = 0; i < 100; i++) if (i !== 42) assert.equal(second[i], first[i], `s${i} kept`);
  const third = d.decode(doc([...entries].reverse()));
  assert.equal(d.parsedEntries, 101, 'a reordered answer parses nothing');
  assert.equal(third[0], second[99]);
  const fourth = d.decode(doc([...entries.slice(0, 10), entry('new'), ...entries.slice(10)]));
  assert.equal(d.parsedEntries, 102, 'an inserted system is the only one parsed');
  assert.equal(fourth[50], second[49]);
});

test('entryBounds: offsets of each object, undefined for what is not an array of objects', () => {
  const text = ' [ {"a":"}"} , {"b":[1,{"c":2}]} ] ';
  const [starts, ends] = entryBounds(text)!;
  assert.deepEqual(starts.map((s, i) => JSON.parse(text.slice(s, ends[i]))), [{ a: '}' }, { b: [1, { c: 2 }] }]);
  for (const t of ['', '{}', '[1]', '[{}', '[{}]]', '[{"a":"\\"}"}', '[{]}']) assert.equal(entryBounds(t), undefined, t);
});
