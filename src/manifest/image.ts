/**
 * `spec.container.image`: a manifest naming an image is rendered from the image store's record of it.
 * The store's layers (top-most first, ids from NameToGuid) become `layers`; the image config
 * supplies the command line (Entrypoint + Cmd), working directory and environment where `process`
 * does not set them (Docker's rule: the manifest wins; environment variables merge, the manifest's
 * override the image's, compared case-insensitively as Windows does). The config hash then covers
 * what the digest pins (layer chain ids and the config's process), not the tag: a moved tag changes
 * nothing until the image is pulled again (`Always`, or an explicit digest).
 */
import type { Problem } from './messages.ts';
import type { ImagePullPolicy, LayerSpec, Manifest, ProcessSpec } from './types.ts';

/** What the manifest loader needs to know about a locally stored image. */
export interface StoredImage {
  reference: string;
  digest: string;
  /** Top-most first (hcsshim order). */
  layers: LayerSpec[];
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
}

/** Looks up images in the local store (synchronously: records are small files). */
export interface ImageLookup {
  /** The stored image for a reference as written in a manifest, or undefined when not pulled. */
  find(reference: string): StoredImage | undefined;
  /**
   * Called for a manifest whose image is not stored: the controller starts or continues its pull
   * and returns the text to report on the manifest (e.g. `pulling ...: 12.0 of 80.0 MB`).
   */
  missing?(reference: string, policy: ImagePullPolicy): string;
  /** Called for a stored image whose manifest says `Always`: the controller re-resolves the tag in the background. */
  refresh?(reference: string): void;
}

/** Quotes one argument for a Windows command line (CommandLineToArgvW rules). */
export function quoteWindowsArg(arg: string): string {
  if (arg !== '' && !/[\s"]/.test(arg)) return arg;
  let out = '"';
  let slashes = 0;
  for (const ch of arg) {
    if (ch === '\\') {
      slashes++;
      continue;
    }
    out += ch === '"' ? '\\'.repeat(slashes * 2 + 1) + '"' : '\\'.repeat(slashes) + ch;
    slashes = 0;
  }
  return `${out}${'\\'.repeat(slashes * 2)}"`;
}

function mergedProcess(own: ProcessSpec | undefined, img: StoredImage): ProcessSpec | undefined {
  const argv = [...(img.entrypoint ?? []), ...(img.cmd ?? [])];
  const commandLine = own?.commandLine ?? (argv.length > 0 ? argv.map(quoteWindowsArg).join(' ') : undefined);
  if (commandLine === undefined) return undefined;
  const env: Record<string, string> = {};
  const keyOf = new Map<string, string>();
  const set = (k: string, v: string) => {
    const prev = keyOf.get(k.toUpperCase());
    if (prev !== undefined) delete env[prev];
    keyOf.set(k.toUpperCase(), k);
    env[k] = v;
  };
  for (const kv of img.env ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) set(kv.slice(0, i), kv.slice(i + 1));
  }
  for (const [k, v] of Object.entries(own?.environment ?? {})) set(k, v);
  const workingDirectory = own?.workingDirectory ?? img.workingDir;
  return { commandLine, ...(workingDirectory ? { workingDirectory } : {}), ...(Object.keys(env).length > 0 ? { environment: env } : {}) };
}

/** The pull policy of a manifest (absent = IfNotPresent). */
export const pullPolicyOf = (m: Manifest): ImagePullPolicy => m.spec.container?.imagePullPolicy ?? 'IfNotPresent';

/**
 * A manifest with its image resolved from the store, or the problem to report. Manifests without
 * `image` come back unchanged.
 */
export function withStoredImage(
  m: Manifest,
  images: ImageLookup | undefined,
): { manifest: Manifest; image?: { reference: string; digest: string; pullPolicy: ImagePullPolicy } } | { problem: Problem } {
  const c = m.spec.container;
  if (!c?.image) return { manifest: m };
  const stored = images?.find(c.image);
  if (!stored) {
    const policy = pullPolicyOf(m);
    const reported = images?.missing?.(c.image, policy);
    if (reported !== undefined) return { problem: { path: ['spec', 'container', 'image'], key: false, message: reported } };
    const message =
      policy === 'Never'
        ? `image ${c.image} is not in the local image store and imagePullPolicy is Never; run "hcs-reconciler image pull ${c.image}"`
        : `image ${c.image} is not pulled yet; run "hcs-reconciler image pull ${c.image}"`;
    return { problem: { path: ['spec', 'container', 'image'], key: false, message } };
  }
  if (pullPolicyOf(m) === 'Always') images?.refresh?.(c.image);
  const process = mergedProcess(c.process, stored);
  const { image: _image, imagePullPolicy: _policy, process: _p, ...rest } = c;
  return {
    manifest: { ...m, spec: { ...m.spec, container: { ...rest, layers: stored.layers, ...(process ? { process } : {}) } } },
    image: { reference: c.image, digest: stored.digest, pullPolicy: pullPolicyOf(m) },
  };
}
