/**
 * Image references, normalised the way Docker does (distribution/reference `ParseNormalizedNamed`):
 * a first path component without `.` or `:` that is not `localhost` is a Docker Hub repository,
 * one-component Hub names get `library/`, and a reference without tag or digest means `:latest`.
 */
import { RegistryError } from './errors.ts';

/** A parsed, normalised image reference. */
export interface ImageReference {
  /** Registry host[:port] as written, `docker.io` for Docker Hub. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `windows/nanoserver` or `library/hello-world`. */
  readonly repository: string;
  readonly tag?: string;
  /** `sha256:<64 hex>` when the reference pins a digest. */
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const DOMAIN = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

/** Docker Hub's canonical name and the host its API actually lives on. */
export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

/** Parses `[domain/]path[:tag][@sha256:hex]`; throws a RegistryError (kind `reference`) naming what is wrong. */
export function parseReference(input: string): ImageReference {
  const bad = (why: string) => new RegistryError('reference', `invalid image reference "${input}": ${why}`);
  if (input.length === 0 || input.length > 1024) throw bad('empty or longer than 1024 characters');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad('the digest must be sha256: followed by 64 lower-case hex digits');
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  let domain = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain === 'index.docker.io') domain = DOCKER_HUB;
  if (!DOMAIN.test(domain)) throw bad(`registry host "${domain}" is not a host name with an optional port`);
  if (domain === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  const parts = path.split('/');
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad('repository path components must be lower-case letters and digits separated by ".", "_", "__" or "-"');
  }
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { domain, repository: path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The familiar full form, e.g. `docker.io/library/busybox:latest` or `host:5000/a/b@sha256:...`. */
export function formatReference(ref: ImageReference): string {
  return `${ref.domain}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Host[:port] that serves the registry API for this domain (Docker Hub's API is not on docker.io). */
export function apiHost(domain: string): string {
  return domain === DOCKER_HUB ? DOCKER_HUB_API : domain;
}

/** The tag or digest to ask the registry for (`manifests/<this>`): the digest wins when both are given. */
export function manifestSelector(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}
