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
import type { ImagePullPolicy, ImageProcessSpec, LayerSpec, Manifest, ProcessSpec } from './types.ts';

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
}

/**
 * The one layer of the placeholder rendering of an image that is not stored: the manifest is
 * valid, and its config hash covers the reference, but nothing is ever created from it (the
 * plan pulls first, then renders from the store; reconciler/plan-images.ts).
 */
export function placeholderLayers(reference: string): LayerSpec[] {
  return [{ id: '00000000-0000-0000-0000-000000000000', path: `<image ${reference} is not in the local image store yet>` }];
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

function mergedProcess(own: ProcessSpec | undefined, img: StoredImage): ImageProcessSpec | undefined {
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
  // `process` has no user field, so the image's `User` (config.User) always applies, as Docker does.
  const user = img.user ? img.user : undefined;
  return {
    commandLine,
    ...(workingDirectory ? { workingDirectory } : {}),
    ...(Object.keys(env).length > 0 ? { environment: env } : {}),
    ...(user ? { user } : {}),
    ...(own?.logs ? { logs: own.logs } : {}),
  };
}

/** The pull policy of a manifest (absent = IfNotPresent). */
export const pullPolicyOf = (m: Manifest): ImagePullPolicy => m.spec.container?.imagePullPolicy ?? 'IfNotPresent';

/**
 * A manifest with its image resolved from the store. Manifests without `image` come back
 * unchanged. An image that is not stored (or no store at all: CI validating a repository) is not
 * an error: validation checks the manifest, resolution is the plan's concern. The manifest then
 * renders from {@link placeholderLayers} and `image` has no digest; the plan pulls it first.
 */
export function withStoredImage(
  m: Manifest,
  images: ImageLookup | undefined,
): { manifest: Manifest; image?: { reference: string; digest?: string; pullPolicy: ImagePullPolicy } } | { problem: Problem } {
  const c = m.spec.container;
  if (!c?.image) return { manifest: m };
  const stored = images?.find(c.image);
  if (!stored) {
    const { image: _image, imagePullPolicy: _policy, ...rest } = c;
    return {
      manifest: { ...m, spec: { ...m.spec, container: { ...rest, layers: placeholderLayers(c.image) } } },
      image: { reference: c.image, pullPolicy: pullPolicyOf(m) },
    };
  }
  const process = mergedProcess(c.process, stored);
  const { image: _image, imagePullPolicy: _policy, process: _p, ...rest } = c;
  return {
    manifest: { ...m, spec: { ...m.spec, container: { ...rest, layers: stored.layers, ...(process ? { process } : {}) } } },
    image: { reference: c.image, digest: stored.digest, pullPolicy: pullPolicyOf(m) },
  };
}
