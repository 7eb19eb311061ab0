/**
 * Issue 12, finding 12: one never-valid file (here a UTF-16 save) no longer stops all pruning.
 * It holds only what it could have declared: the names a text scan of it finds; other deletions
 * proceed, and the hold says what is held and why. A file that names nothing still holds all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DesiredStore } from '../../reconciler/desired.ts';
import { groupObserved } from '../../reconciler/observed.ts';
import { plan } from '../../reconciler/plan.ts';
import { withoutHeld } from '../../reconciler/prune-holds.ts';
import type { ObservedSystem } from '../../reconciler/ports.ts';
import { combineSnapshot, parseManifestFile, type FileResult } from '../../src/manifest/index.ts';
import { containerYaml } from '../integration/helpers.ts';

const OWNER = 'hcs-reconciler';
const enc = (t: string) => new TextEncoder().encode(t);
const utf16 = (t: string) => new Uint8Array([0xff, 0xfe, ...Buffer.from(t, 'utf16le')]);

function file(name: string, bytes: Uint8Array): FileResult {
  return parseManifestFile(`m/${name}.yaml`, bytes);
}

/** The prune actions a controller with this store would plan against these running systems. */
function prunes(store: DesiredStore, running: ObservedSystem[]): string[] {
  const desired = store.list();
  const observed = withoutHeld(groupObserved(running, OWNER), store.heldNames(), new Set(desired.map((d) => d.name)));
  const p = plan({ desired, observed, allowPrune: !store.holdsAllPruning(), now: 0 });
  return p.nodes.filter((n) => n.op === 'stop').map((n) => n.resource.name).sort();
}

test('a never-valid UTF-16 file holds only the names found in it; other deletions proceed', () => {
  const a = file('a', enc(containerYaml('a')));
  const b = file('b', enc(containerYaml('b')));
  const ids = [...a.manifests, ...b.manifests].map((m) => m.parts[0]!.id);
  // `c` runs from a previous controller life; its file was re-saved as UTF-16 meanwhile.
  const c = file('c', enc(containerYaml('c')));
  const running: ObservedSystem[] = [...ids, c.manifests[0]!.parts[0]!.id].map((id) => ({ id, systemType: 'Container', owner: OWNER, state: 'Running' }));

  const store = new DesiredStore();
  store.apply(combineSnapshot([a, b]));
  const broken = file('c', utf16(containerYaml('c')));
  assert.ok(broken.errors.some((e) => e.name === 'c' && /holding "c": this file may declare it \(found by a text scan\)/.test(e.message)), JSON.stringify(broken.errors));
  // b.yaml is deleted while c.yaml is broken.
  store.apply(combineSnapshot([a, broken]));
  assert.equal(store.holdsAllPruning(), false);
  assert.match(store.pruneHold() ?? '', /not pruning c \(declared by invalid m\/c\.yaml\) until the file is fixed or removed/);
  assert.deepEqual(prunes(store, running), ['b'], 'b is pruned, c is held, a is desired');
});

test('a never-valid file that names nothing readable still holds all pruning', () => {
  const a = file('a', enc(containerYaml('a')));
  const b = file('b', enc(containerYaml('b')));
  const running: ObservedSystem[] = [...a.manifests, ...b.manifests].map((m) => ({ id: m.parts[0]!.id, systemType: 'Container', owner: OWNER, state: 'Running' }));
  const store = new DesiredStore();
  store.apply(combineSnapshot([a, b]));
  store.apply(combineSnapshot([a, file('junk', utf16('kind: ComputeSystem\nspec: {}\n'))]));
  assert.equal(store.holdsAllPruning(), true);
  assert.match(store.pruneHold() ?? '', /m\/junk\.yaml is invalid or empty, names nothing readable/);
  assert.deepEqual(prunes(store, running), []);
});
