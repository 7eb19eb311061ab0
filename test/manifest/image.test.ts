/** `spec.container.image` in the loader: rendered from the store's record (User included), or a placeholder when not stored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseManifestFile, type ImageLookup, type StoredImage } from '../../src/manifest/index.ts';

const yaml = (extra = '') => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: web
spec:
  container:
    image: reg.local/win/web:v1
    scratch: '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\'
${extra}`;

const stored: StoredImage = {
  reference: 'reg.local/win/web:v1',
  digest: 'sha256:aa',
  layers: [{ id: '6d1a3b2c-0000-4000-8000-000000000001', path: 'C:\\data\\layers\\top' }, { id: '6d1a3b2c-0000-4000-8000-000000000002', path: 'C:\\data\\layers\\base' }],
  entrypoint: ['C:\\app\\web.exe'],
  cmd: ['--port', '80'],
  user: 'ContainerUser',
};
const lookup = (img?: StoredImage): ImageLookup => ({ find: () => img });
const load = (text: string, images: ImageLookup | undefined) => parseManifestFile('m/web.yaml', Buffer.from(text), images ? { images } : {});

test("the image config's User becomes ProcessParameters.User (process has no user field, so it always applies)", () => {
  const r = load(yaml(), lookup(stored));
  assert.deepEqual(r.errors, []);
  const d = r.manifests[0]!;
  assert.equal(d.process?.parameters.User, 'ContainerUser');
  assert.equal(d.process?.parameters.CommandLine, 'C:\\app\\web.exe --port 80');
  assert.deepEqual(d.image, { reference: 'reg.local/win/web:v1', digest: 'sha256:aa', pullPolicy: 'IfNotPresent' });
  const withoutUser = load(yaml(), lookup({ ...stored, user: undefined })).manifests[0]!;
  assert.equal('User' in (withoutUser.process?.parameters ?? {}), false);
  assert.notEqual(withoutUser.configHash, d.configHash, 'the user is part of the config hash');
});

test('an image that is not stored (or no store at all) is valid: a placeholder rendering without a digest, hashed over the reference', () => {
  for (const images of [lookup(undefined), undefined]) {
    const r = load(yaml(), images);
    assert.deepEqual(r.errors, []);
    const d = r.manifests[0]!;
    assert.deepEqual(d.image, { reference: 'reg.local/win/web:v1', pullPolicy: 'IfNotPresent' });
    const layers = (d.parts[0]!.document.Container as { Storage: { Layers: { Path: string }[] } }).Storage.Layers;
    assert.match(layers[0]!.Path, /reg\.local\/win\/web:v1 is not in the local image store yet/);
  }
  const other = load(yaml().replace(':v1', ':v2'), undefined).manifests[0]!;
  assert.notEqual(other.configHash, load(yaml(), undefined).manifests[0]!.configHash);
  const never = load(yaml('    imagePullPolicy: Never\n'), undefined);
  assert.deepEqual(never.errors, [], 'Never: still valid; the pull node fails permanently at run time');
});
