/**
 * `validate` and `plan` of a manifest naming an image, with a data root that does not exist (CI
 * validating a repository): validation checks the manifest, the plan shows the pull node before
 * the system, in text and -o json alike, and neither creates a store. No registry is needed: nothing
 * is pulled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, } from './run-cli.ts';
import { startEmulator } from '../../src/emulator/launcher.ts';

// No scratch: the controller provisions one (issue 15), so the plan has image -> scratch -> system.
const manifest = (name: string, image: string) => `apiVersion: hcs-reconciler/v1alpha1
kind: ComputeSystem
metadata:
  name: ${name}
spec:
  container:
    image: ${image}
`;

describe('image manifests without a store', { skip: process.platform === 'win32' ? 'uses the emulator library' : false }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hcsr-cli-img-plan-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('validate and plan without a store do not fail; plan shows the pull node before the system (text and -o json)', async () => {
    const g = ['--data-root', join(dir, 'fresh-never-created')];
    const folder = join(dir, 'ci-manifests');
    mkdirSync(folder);
    const ref = 'registry.example:5000/win/web:v1';
    writeFileSync(join(folder, 'web.yaml'), manifest('web', ref));
    const validate = await cli([...g, 'validate', folder]);
    assert.equal(validate.code, 0, validate.stderr + validate.stdout);
    const socket = join(dir, 'emu-plan.sock');
    const emu = await startEmulator({ socketPath: socket });
    try {
      const json = await cli([...g, 'plan', '--manifests', folder, '-o', 'json'], { HCS_EMULATOR_SOCKET: socket });
      assert.equal(json.code, 2, json.stderr);
      const doc = JSON.parse(json.stdout) as { converged: boolean; nodes: { id: string; op: string; resource: { kind: string; image?: string }; deps: string[] }[] };
      assert.deepEqual(doc.nodes.map((n) => `${n.op} ${n.resource.kind}`).slice(0, 3), ['pull image', 'create scratch', 'create computeSystem']);
      assert.equal(doc.nodes[0]!.resource.image, ref);
      assert.deepEqual(doc.nodes[1]!.deps, [`pull:image:${ref}`]);
      const text = await cli([...g, 'plan', '--manifests', folder], { HCS_EMULATOR_SOCKET: socket });
      assert.equal(text.code, 2, text.stderr);
      const lines = text.stdout.split('\n');
      assert.equal(lines[0], `↓ pull image ${ref} (web): image ${ref} is not in the local image store (imagePullPolicy IfNotPresent)`);
      assert.equal(lines.length - 2, doc.nodes.length, 'the same nodes as -o json');
      assert.equal(existsSync(join(dir, 'fresh-never-created')), false, 'validate and plan create no store');
    } finally {
      await emu.stop();
    }
  });

});
