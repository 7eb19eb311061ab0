/** Unit tests of the manifest model: durations, file names, hash stability, ids, placement, policy, snapshot. */
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSystemId } from '../../reconciler/identity.ts';
import {
  combineSnapshot,
  formatError,
  isManifestFileName,
  parseDuration,
  parseManifestFile,
  type ManifestOptions,
} from '../../src/manifest/index.ts';
import { layerIdOf } from '../../src/cli/layer-ids.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const web = readFileSync('manifests/web.yaml', 'utf8');

function parse(text: string, opts?: ManifestOptions, file = 'm/web.yaml') {
  return parseManifestFile(file, enc(text), { layerIds: layerIdOf, ...opts });
}
function only(text: string, opts?: ManifestOptions) {
  const r = parse(text, opts);
  assert.deepEqual(r.errors.map(formatError), []);
  assert.equal(r.manifests.length, 1);
  return r.manifests[0]!;
}
const hashOf = (text: string) => only(text).configHash;

test('parseDuration', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1m30s500ms'), 90_500);
  for (const bad of ['', '30', '5mm', '30m1h', 's', '-5s', '1.5s', '1d', '999999h']) assert.equal(parseDuration(bad), undefined, bad);
});

test('isManifestFileName: yaml only, editor and backup leftovers ignored', () => {
  for (const ok of ['web.yaml', 'web.yml', 'WEB.YAML', 'app-db.yaml', 'web.v2.yaml']) assert.equal(isManifestFileName(ok), true, ok);
  for (const no of ['.web.yaml', 'web.yaml~', 'web.yaml.swp', '.web.yaml.swx', 'web.yaml.bak', 'web.bak.yaml', 'web.tmp.yml',
    'web.yaml.orig', '#web.yaml#', '4913', 'web.json', 'web.yaml-bak', '.yaml', 'README.md', 'web.orig.yaml']) {
    assert.equal(isManifestFileName(no), false, no);
  }
});

test('defaults and DesiredSystem fields', () => {
  const m = only(web);
  assert.equal(m.name, 'web');
  assert.equal(m.stopTimeoutMs, 30_000);
  assert.equal(m.updateStrategy, 'StopBeforeCreate');
  assert.equal(m.suspend, false);
  assert.equal(m.backoff, undefined, 'absent backoff stays undefined (the core applies kubelet defaults)');
  assert.deepEqual(m.labels, { app: 'web', tier: 'frontend' });
  assert.deepEqual(m.source, { file: 'm/web.yaml', line: 3, col: 1 });
  assert.equal(m.process?.commandLine, 'C:\\app\\server.exe --port 80');
  assert.equal(m.process?.parameters.CreateStdOutPipe, false);
  const withBackoff = only(web.replace('  stopTimeout: 30s\n', '  stopTimeout: 30s\n  backoff: { max: 1m }\n'));
  assert.deepEqual(withBackoff.backoff, { initialMs: 10_000, maxMs: 60_000, resetAfterMs: 600_000 });
});

/** `text` with `from` replaced (every occurrence with 'all'); fails if `from` does not occur, so a case cannot pass by not editing. */
function edit(text: string, from: string, to: string, all?: 'all'): string {
  assert.ok(text.includes(from), `the fixture no longer contains ${JSON.stringify(from)}`);
  const out = all ? text.split(from).join(to) : text.replace(from, to);
  assert.notEqual(out, text);
  if (all) assert.ok(!out.replace(/\r\n/g, '').includes('\n'), 'every line ending converted');
  return out;
}

test('hash: labels, state, restartPolicy, stopTimeout, suspend, dependsOn and key order do not change it', () => {
  const base = hashOf(web);
  const same = [
    edit(web, 'labels: { app: web, tier: frontend }', 'labels: { app: other }'),
    edit(web, 'state: Running', 'state: Stopped'),
    edit(web, 'restartPolicy: Always', 'restartPolicy: Never'),
    edit(web, 'stopTimeout: 30s', 'stopTimeout: 5m\n  suspend: true\n  updateStrategy: CreateBeforeStop'),
    edit(web, '  state: Running\n', '  state: Running\n  backoff: { initial: 1s }\n  placement: { hosts: [h1] }\n'),
    edit(web, '    hostName: web\n    memoryMB: 2048\n', '    memoryMB: 2048\n    hostName: web\n'),
    edit(web, '\n', '\r\n', 'all'),
  ];
  for (const text of same) assert.equal(hashOf(text), base);
});

test('hash: memoryMB, layers, entrypoint, environment and owner change it', () => {
  const base = hashOf(web);
  const changed = [
    edit(web, 'memoryMB: 2048', 'memoryMB: 4096'),
    edit(web, 'layers\\web-app', 'layers\\web-app-v2'),
    edit(web, '--port 80', '--port 8080'),
    edit(web, 'MODE: production', 'MODE: staging'),
    edit(web, 'isolation: process', 'isolation: hyperv').replace(/scratch: .*/, "scratch: 'C:\\sandboxes\\web'").replace(/ *networkNamespace: .*\n/, ''),
  ];
  for (const text of changed) assert.notEqual(hashOf(text), base);
  assert.notEqual(only(web, { owner: 'other' }).configHash, base);
  assert.equal(only(web, { owner: 'other' }).parts[0]?.document.Owner, 'other');
});

test('ids come from name + hash and parse back', () => {
  const m = only(readFileSync('manifests/web-hyperv.yaml', 'utf8'));
  assert.deepEqual(m.parts.map((p) => parseSystemId(p.id)), [{ name: 'web-hyperv', hash: m.configHash.slice(0, 12), role: 'main' }]);
  assert.equal(m.parts[0]?.document.Name, m.parts[0]?.id, 'a schema 1.0 document names itself');
});

test('a UTF-8 BOM is accepted; an empty file or trailing --- gives no manifests and no errors', () => {
  const r = parseManifestFile('m/web.yaml', new Uint8Array([0xef, 0xbb, 0xbf, ...enc(web)]), { layerIds: layerIdOf });
  assert.deepEqual(r.errors, []);
  assert.equal(r.manifests[0]?.source.line, 3);
  for (const text of ['', '# nothing\n', '---\n---\n']) assert.deepEqual(parse(text), { file: 'm/web.yaml', manifests: [], errors: [], ignored: [], declared: [] });
});

test('size limit is checked before parsing', () => {
  const r = parse(web, { maxFileBytes: 100 });
  assert.deepEqual(r.errors.map(formatError), [`m/web.yaml:1:1 file is ${enc(web).length} bytes, over the 100 bytes limit (maxFileBytes)`]);
});

test('one bad document does not hide the good ones; errors carry the name', () => {
  const r = parse(`${web}---\n${web.replace('name: web', 'name: bad').replace('memoryMB: 2048', 'memoryMB: 1')}`);
  assert.deepEqual(r.manifests.map((m) => m.name), ['web']);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]?.name, 'bad');
});

test('duplicate names across files: an error on both, neither applied', () => {
  const a = parse(web, {}, 'm/a.yaml');
  const b = parse(web, {}, 'm/b.yaml');
  const s = combineSnapshot([a, b]);
  assert.deepEqual(s.manifests, []);
  assert.deepEqual(s.errors.map(formatError), [
    'm/a.yaml:6:9 metadata.name: name "web" is declared more than once (also at m/b.yaml:6:9); none of them is applied',
    'm/b.yaml:6:9 metadata.name: name "web" is declared more than once (also at m/a.yaml:6:9); none of them is applied',
  ]);
  assert.deepEqual(s.files, ['m/a.yaml', 'm/b.yaml']);
});

test('an invalid manifest still counts as declared (for duplicates and dependsOn)', () => {
  const bad = parse(web.replace('memoryMB: 2048', 'memoryMB: 1'), {}, 'm/a.yaml');
  const api = parse(readFileSync('manifests/app-api.yaml', 'utf8').replace('[app-db]', '[web]'), {}, 'm/api.yaml');
  const s = combineSnapshot([bad, api]);
  assert.deepEqual(s.manifests.map((m) => m.name), ['app-api']);
  assert.deepEqual(s.errors.map((e) => e.name), ['web']);
});

test('placement: hosts and hostLabels must all match; a mismatch is ignored, not an error', () => {
  const placed = web.replace('  state: Running\n', '  state: Running\n  placement: { hosts: [Node1, node2], hostLabels: { zone: west } }\n');
  const at = (name: string, labels: Record<string, string>) => parse(placed, { host: { name, labels } });
  assert.equal(at('node1', { zone: 'west' }).manifests.length, 1);
  assert.deepEqual(at('node3', { zone: 'west' }).ignored.map((i) => i.reason), ['placed on hosts Node1, node2; this host is node3']);
  assert.deepEqual(at('node2', {}).ignored.map((i) => i.reason), ['needs host label zone=west; this host has no zone label']);
  assert.equal(at('node2', { zone: 'east' }).errors.length, 0);
  assert.equal(parse(web, { host: { name: 'any', labels: {} } }).manifests.length, 1, 'no placement = every host');
  const dependent = parse(readFileSync('manifests/app-api.yaml', 'utf8').replace('[app-db]', '[web]'), { host: { name: 'node3', labels: {} } }, 'm/api.yaml');
  const s = combineSnapshot([at('node3', { zone: 'west' }), dependent]);
  assert.deepEqual(s.errors.map(formatError), ['m/api.yaml:9:15 spec.dependsOn[0]: depends on "web", which is placed on other hosts']);
  assert.equal(s.ignored.length, 1);
});

test('policy violations are errors at the field', () => {
  const policy = { allowedHostPaths: ['C:\\ProgramData\\hcs-reconciler\\data\\other'], allowedIsolation: ['hyperv' as const], maxMemoryMB: 1024, maxCpuCount: 1 };
  const r = parse(web, { policy });
  assert.deepEqual(r.errors.map(formatError), [
    'm/web.yaml:13:16 spec.container.isolation: isolation process is not allowed by the host policy (allowed: hyperv)',
    "m/web.yaml:15:15 spec.container.layers[0].path: layer C:\\ProgramData\\hcs-reconciler\\layers\\web-app is not allowed by the host policy (allowed: C:\\ProgramData\\hcs-reconciler\\data\\other)",
    "m/web.yaml:16:15 spec.container.layers[1].path: layer C:\\ProgramData\\hcs-reconciler\\layers\\servercore-ltsc2022 is not allowed by the host policy (allowed: C:\\ProgramData\\hcs-reconciler\\data\\other)",
    "m/web.yaml:17:14 spec.container.scratch: scratch \\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\ is not allowed by the host policy (allowed: C:\\ProgramData\\hcs-reconciler\\data\\other)",
    'm/web.yaml:19:15 spec.container.memoryMB: must be <= 1024 by the host policy (got 2048)',
    'm/web.yaml:20:15 spec.container.cpuCount: must be <= 1 by the host policy (got 2)',
    'm/web.yaml:22:19 spec.container.mappedDirectories[0].hostPath: host path C:\\ProgramData\\hcs-reconciler\\data\\web is not allowed by the host policy (allowed: C:\\ProgramData\\hcs-reconciler\\data\\other)',
  ]);
  const volume = '\\\\?\\Volume{4a1c7e2b-93d5-4f08-b6e1-2c8d5f9a7b31}\\';
  assert.equal(parse(web, { policy: { allowedHostPaths: ['c:\\programdata\\HCS-reconciler\\', volume] } }).errors.length, 0, 'prefix, case-insensitive');
  assert.equal(parse(web, { policy: { allowedHostPaths: ['C:\\ProgramData\\hcs-reconciler\\data\\we', 'C:\\ProgramData\\hcs-reconciler\\layers', volume] } }).errors.length, 1, 'whole segments only');
  const raw = parse(readFileSync('manifests/raw-document.yaml', 'utf8'), { policy: { allowDocument: false } });
  assert.deepEqual(raw.errors.map((e) => [e.path, e.message]), [['spec.document', 'document passthrough is not allowed by the host policy (allowDocument: false)']]);
});

test('a very deeply nested flow does not crash the parser', () => {
  const r = parse(`a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`);
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0]!.message, 'nested deeper than 64 levels');
});
