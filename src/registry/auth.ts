/**
 * Registry authentication: the WWW-Authenticate challenge (Bearer token flow of the distribution
 * token spec, docs/content/spec/auth/token.md, and Basic), credentials from a Docker-style
 * config.json (`auths.<host>.auth` = base64 "user:password", or `username`/`password`), and a token
 * cache per registry and scope. Credentials go only to the registry host and its token realm; the
 * client never sends them to a redirect target on another host.
 */
import { readFileSync } from 'node:fs';
import { RegistryError, registryErrorText } from './errors.ts';
import { readBody, send, type TransportOptions } from './transport.ts';

/** A parsed `WWW-Authenticate` challenge. */
export interface Challenge {
  scheme: string; // lower-case: 'bearer' | 'basic' | ...
  params: Record<string, string>;
}

/** Parses `Bearer realm="https://auth",service="reg",scope="repository:a:pull"` (RFC 7235 auth-params). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*([A-Za-z][\w-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/gy;
  const rest = m[2] ?? '';
  re.lastIndex = 0;
  let p: RegExpExecArray | null;
  while (re.lastIndex < rest.length && (p = re.exec(rest)) !== null) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

/** User name and password for one registry. */
export interface BasicCredentials {
  username: string;
  password: string;
}

/** Registry host → credentials, from a Docker config.json. */
export type CredentialStore = (host: string) => BasicCredentials | undefined;

/** Normalises a config.json `auths` key (`https://index.docker.io/v1/`, `host:5000`, `http://host/`) to host[:port]. */
function authKeyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}

/**
 * Loads a Docker-style config.json. Credential helpers (`credsStore`, `credHelpers`) and identity
 * tokens are not supported; an entry that uses only them is an error naming the host.
 */
export function loadDockerConfig(path: string): CredentialStore {
  let parsed: { auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }> };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as typeof parsed;
  } catch (err) {
    throw new RegistryError('auth', `--registry-config ${path}: ${(err as Error).message}`);
  }
  const table = new Map<string, BasicCredentials>();
  for (const [key, entry] of Object.entries(parsed.auths ?? {})) {
    let creds: BasicCredentials | undefined;
    if (entry.auth) {
      const text = Buffer.from(entry.auth, 'base64').toString('utf8');
      const i = text.indexOf(':');
      if (i < 0) throw new RegistryError('auth', `--registry-config ${path}: auths["${key}"].auth is not base64 of "user:password"`);
      creds = { username: text.slice(0, i), password: text.slice(i + 1) };
    } else if (entry.username !== undefined && entry.password !== undefined) {
      creds = { username: entry.username, password: entry.password };
    } else if (entry.identitytoken) {
      throw new RegistryError('auth', `--registry-config ${path}: auths["${key}"] has only an identitytoken, which is not supported; use auth or username/password`);
    }
    if (creds) table.set(authKeyHost(key), creds);
  }
  return (host) => table.get(authKeyHost(host));
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** Answers challenges and caches Bearer tokens per (host, scope); one instance per client. */
export class Authenticator {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly basic = new Map<string, string>();
  constructor(
    private readonly transport: TransportOptions,
    private readonly credentials: CredentialStore = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** The Authorization header to send to `host` for `scope`, if one is known (cached token or Basic). */
  header(host: string, scope: string): string | undefined {
    const t = this.tokens.get(`${host} ${scope}`);
    if (t && t.expiresAt > this.now()) return `Bearer ${t.value}`;
    return this.basic.get(host);
  }

  /** Answers a 401 challenge; afterwards `header()` returns what to send. Throws when it cannot be answered. */
  async answer(host: string, scope: string, wwwAuthenticate: string | undefined, signal?: AbortSignal): Promise<void> {
    const ch = wwwAuthenticate ? parseChallenge(wwwAuthenticate) : undefined;
    const creds = this.credentials(host);
    if (ch?.scheme === 'basic') {
      if (!creds) throw new RegistryError('auth', `${host}: the registry wants a user name and password (Basic); add them to --registry-config`, { status: 401 });
      this.basic.set(host, `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`);
      return;
    }
    if (ch?.scheme !== 'bearer' || !ch.params.realm) {
      throw new RegistryError('auth', `${host}: 401 without a usable WWW-Authenticate challenge (${wwwAuthenticate ?? 'none'})`, { status: 401 });
    }
    const key = `${host} ${scope}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetchToken(host, ch.params.realm, ch.params.service, scope, creds, signal).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    await pending;
  }

  private async fetchToken(host: string, realm: string, service: string | undefined, scope: string, creds: BasicCredentials | undefined, signal?: AbortSignal): Promise<string> {
    const url = new URL(realm);
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = {};
    if (creds) headers.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    const res = await send(url, this.transport, { headers, ...(signal ? { signal } : {}) });
    const body = await readBody(res, 1 << 20);
    if (res.status !== 200) {
      throw new RegistryError('auth', `token ${url.host}: ${res.status} ${registryErrorText(body.toString('utf8'))}`, { status: res.status });
    }
    let json: { token?: string; access_token?: string; expires_in?: number };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      throw new RegistryError('auth', `token ${url.host}: response is not JSON`);
    }
    const value = json.token ?? json.access_token;
    if (!value) throw new RegistryError('auth', `token ${url.host}: response has neither token nor access_token`);
    // token.md: expires_in defaults to 60 s; renew 10 s early.
    const ttl = (typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : 60) * 1000;
    this.tokens.set(`${host} ${scope}`, { value, expiresAt: this.now() + Math.max(1000, ttl - 10_000) });
    return value;
  }
}
