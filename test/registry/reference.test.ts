import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, isCompatibleOsVersion, parseChallenge, parseReference, registryScheme, selectPlatform } from '../../src/registry/index.ts';

test('references normalise like Docker: docker.io, library/, latest, digests', () => {
  assert.deepEqual(parseReference('busybox'), { domain: 'docker.io', repository: 'library/busybox', tag: 'latest' });
  assert.deepEqual(parseReference('user/app:1.2'), { domain: 'docker.io', repository: 'user/app', tag: '1.2' });
  assert.deepEqual(parseReference('mcr.microsoft.com/windows/nanoserver:ltsc2022'), { domain: 'mcr.microsoft.com', repository: 'windows/nanoserver', tag: 'ltsc2022' });
  assert.deepEqual(parseReference('localhost:5000/a/b'), { domain: 'localhost:5000', repository: 'a/b', tag: 'latest' });
  assert.deepEqual(parseReference('localhost/x'), { domain: 'localhost', repository: 'x', tag: 'latest' });
  const d = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseReference(`127.0.0.1:5000/win/base@${d}`), { domain: '127.0.0.1:5000', repository: 'win/base', digest: d });
  assert.deepEqual(parseReference(`r.io/x:t@${d}`), { domain: 'r.io', repository: 'x', tag: 't', digest: d });
  assert.equal(parseReference('index.docker.io/library/x').domain, 'docker.io');
  assert.equal(formatReference(parseReference('busybox')), 'docker.io/library/busybox:latest');
  for (const bad of ['', 'x/UPPER', 'x@sha256:abc', 'a/b:', 'a//b', 'a/b:t@md5:00']) assert.throws(() => parseReference(bad), /invalid image reference/, bad);
});

test('os.version compatibility follows the containerd rule (provisioning.md 2.4)', () => {
  assert.equal(isCompatibleOsVersion('10.0.17763.100', '10.0.17763.5000'), true); // revisions need not match since 1809
  assert.equal(isCompatibleOsVersion('10.0.17763.1', '10.0.20348.1'), false);
  assert.equal(isCompatibleOsVersion('10.0.20348.1', '10.0.17763.1'), false); // ltsc2019 image on ltsc2022 host
  assert.equal(isCompatibleOsVersion('10.0.20348.1', '10.0.20348.2340'), true);
  assert.equal(isCompatibleOsVersion('10.0.26100.1', '10.0.20348.1'), true); // WS2025 runs ltsc2022
  assert.equal(isCompatibleOsVersion('10.0.20348.1', '10.0.26100.1'), false); // never newer on older
  assert.equal(isCompatibleOsVersion('6.3.20348.1', '10.0.20348.1'), false);
  const entries = [
    { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }, n: 1 },
    { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.20348.1' }, n: 2 },
    { platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.26100.1' }, n: 3 },
    { platform: { os: 'linux', architecture: 'amd64' }, n: 4 },
    { platform: { os: 'windows', architecture: 'arm64', 'os.version': '10.0.26100.1' }, n: 5 },
  ];
  assert.equal(selectPlatform(entries, { architecture: 'amd64', osVersion: '10.0.26100.3000' })?.n, 3);
  assert.equal(selectPlatform(entries, { architecture: 'amd64', osVersion: '10.0.20348.1' })?.n, 2);
  assert.equal(selectPlatform(entries, { architecture: 'amd64', osVersion: '10.0.17763.9' })?.n, 1);
  assert.equal(selectPlatform(entries, { architecture: 'amd64', osVersion: '10.0.19041.1' }), undefined);
  assert.equal(selectPlatform(entries, { architecture: 'arm64', osVersion: '10.0.26100.1' })?.n, 5);
});

test('challenges parse with quoted and bare values', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm=reg'), { scheme: 'basic', params: { realm: 'reg' } });
});

test('plain HTTP only for loopback and --insecure-registry hosts', () => {
  assert.equal(registryScheme('127.0.0.1:5000', {}), 'http');
  assert.equal(registryScheme('localhost:5000', {}), 'http');
  assert.equal(registryScheme('[::1]:5000', {}), 'http');
  assert.equal(registryScheme('reg.lan:5000', {}), 'https');
  assert.equal(registryScheme('reg.lan:5000', { insecureRegistries: ['reg.lan:5000'] }), 'http');
  assert.equal(registryScheme('reg.lan:5001', { insecureRegistries: ['reg.lan:5000'] }), 'https');
});
