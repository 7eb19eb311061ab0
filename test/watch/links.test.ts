/**
 * Symlinks inside the manifests folder (issue 12, findings 4 and 13), for both readers (the
 * watch source and the one-shot loader behind validate/plan/apply): a link whose real path is
 * outside the real folder is not read and is reported as skipped; a link to the folder itself
 * (a loop) and a second link to the same file are skipped, each real file is read once; and no
 * message ever quotes more than a short excerpt of a file's content.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { combineSnapshot, isManifestFileName, loadManifests, parseManifestFile, type FileResult } from '../../src/manifest/index.ts';
import { watchManifests, type ManifestParser, type ManifestSource } from '../../src/watch/index.ts';
import type { ManifestSnapshot } from '../../reconciler/ports.ts';
import { names, tempDir } from './helpers.ts';
import { containerYaml } from '../integration/helpers.ts';

const realParser: ManifestParser<FileResult> = {
  parseManifestFile: (file, content) => parseManifestFile(file, content, {}),
  combineSnapshot: (results) => combineSnapshot(results, {}),
  isManifestFileName,
};

const SECRET = 'root:$6$saltsalt$c2VjcmV0aGFzaHNlY3JldGhhc2hzZWNyZXRoYXNo:20228:0:99999:7:::\n' +
  'daemon:*:20228:0:99999:7:::\napi_token_sk_live_0123456789abcdefghijklmnopqrstuvwxyz: 1\n';

const container = (name: string): string => containerYaml(name);

function allText(s: ManifestSnapshot): string {
  return JSON.stringify(s);
}

const readers: Array<[string, (dir: string) => Promise<{ snap: ManifestSnapshot; dispose(): Promise<void> }>]> = [
  ['watch source', async (dir) => {
    const source: ManifestSource = await watchManifests({ path: dir, parser: realParser, resyncMs: 0 });
    return { snap: source.current(), dispose: () => source.dispose() };
  }],
  ['loader', async (dir) => ({ snap: await loadManifests(dir, { recursive: true, maxDepth: 1 }), dispose: async () => {} })],
];

for (const [reader, read] of readers) {
  describe(`symlinks in the folder (${reader})`, () => {
    let base: string;
    let cleanup: () => Promise<void>;
    let dir: string;
    beforeEach(async () => {
      ({ dir: base, cleanup } = await tempDir());
      dir = join(base, 'manifests');
      await mkdir(dir);
      await writeFile(join(base, 'shadow'), SECRET);
      await writeFile(join(dir, 'web.yaml'), container('web'));
    });
    afterEach(() => cleanup());

    it('a link leading outside the real folder is not read: skipped with the reason, nothing of its content shown', async () => {
      await symlink(join(base, 'shadow'), join(dir, 'shadow.yaml'));
      await mkdir(join(base, 'elsewhere'));
      await writeFile(join(base, 'elsewhere', 'x.yaml'), SECRET);
      await symlink(join(base, 'elsewhere'), join(dir, 'group'));
      const r = await read(dir);
      try {
        assert.deepEqual(names(r.snap), ['web']);
        const shadow = r.snap.errors.filter((e) => e.file === join(dir, 'shadow.yaml'));
        assert.equal(shadow.length, 1, JSON.stringify(r.snap.errors));
        assert.match(shadow[0]!.message, /^skipped: symlink to .*shadow, outside the manifests folder .*; not read$/);
        assert.ok(r.snap.errors.some((e) => e.file === join(dir, 'group') && /^skipped: symlink to .*elsewhere, outside/.test(e.message)), JSON.stringify(r.snap.errors));
        assert.doesNotMatch(allText(r.snap), /20228|saltsalt|api_token|daemon/, 'no content of the outside file');
        assert.ok(!r.snap.files.includes(join(dir, 'shadow.yaml')), 'not a file that was read');
      } finally {
        await r.dispose();
      }
    });

    it('a link to the folder itself is skipped, a second link to a file is read once: no duplicate names', async () => {
      await symlink(dir, join(dir, 'self'));
      await symlink(join(dir, 'web.yaml'), join(dir, 'also-web.yaml'));
      await mkdir(join(dir, 'team'));
      await writeFile(join(dir, 'team', 'api.yaml'), container('api'));
      await symlink(join(dir, 'team'), join(dir, 'team-link'));
      const r = await read(dir);
      try {
        assert.deepEqual(names(r.snap), ['api', 'web'], JSON.stringify(r.snap.errors));
        assert.doesNotMatch(allText(r.snap), /declared more than once/);
        const msg = (f: string) => r.snap.errors.find((e) => e.file === join(dir, f))?.message ?? '';
        assert.match(msg('self'), /^skipped: symlink to .*, a folder that is already being read \(a loop\)/);
        assert.match(msg('also-web.yaml'), new RegExp(`^skipped: the same file as ${join(dir, 'web.yaml').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        assert.match(msg(join('team-link', 'api.yaml')), /^skipped: the same file as .*team.api\.yaml/);
      } finally {
        await r.dispose();
      }
    });
  });
}

it('messages quote only a short excerpt of a key or value', () => {
  const r = parseManifestFile('x.yaml', Buffer.from(SECRET));
  const text = r.errors.map((e) => e.message).join('\n');
  assert.doesNotMatch(text, /c2VjcmV0aGFz|0123456789abcdefghij|20228:0:99999|\$saltsalt/, text);
  for (const m of text.matchAll(/"([^"]*)"/g)) assert.ok(m[0].length <= 64, m[0]);
});
