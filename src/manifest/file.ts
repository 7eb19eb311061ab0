/**
 * One file's bytes → its manifests, errors and ignored manifests. Pure: no fs, no clock.
 * Every document is handled on its own, so one bad document never hides the good ones.
 */
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { DesiredSystem, IgnoredManifest, ManifestError, SourceLocation } from '../../reconciler/ports.ts';
import { NAME_PATTERN } from '../../reconciler/identity.ts';
import { DEFAULT_MAX_FILE_BYTES, decodeManifestText } from './decode.ts';
import { parseDuration } from './duration.ts';
import { findNode, formatPath, nodePosition, type DataPath } from './locate.ts';
import type { Problem } from './messages.ts';
import { isEmptyDocument, MAX_DEPTH, parseYaml, tooDeep, toData, yamlProblems } from './parse.ts';
import { placementMismatch, type HostInfo } from './placement.ts';
import { checkPolicy } from './policy.ts';
import { renderManifest } from './render.ts';
import { DEFAULT_HOST, UnknownHostBuildError, type HostProfile } from './host-profile.ts';
import { hostProblems } from './host-problems.ts';
import { withStoredImage, type ImageLookup } from './image.ts';
import { withLayerIds, type LayerIdResolver } from './layer-ids.ts';
import type { Manifest, ManifestPolicy } from './types.ts';
import { validateDocument } from './validate.ts';
import { scanNames } from './name-scan.ts';
import { DEFAULT_OWNER } from './owner.ts';

/** Options shared by parsing, combining and loading. */
export interface ManifestOptions {
  /** HCS Owner of everything we create. Default `hcs-reconciler`. */
  owner?: string;
  /** This host, for `spec.placement`. Absent: placement is not evaluated (every manifest applies). */
  host?: HostInfo;
  /** Host policy; violations are manifest errors. */
  policy?: ManifestPolicy;
  /** Per-file size limit in bytes. Default 1 MiB. */
  maxFileBytes?: number;
  /**
   * The controller's own files and folders (manifests folder, lock file, utility VM scratch):
   * never mapped into a container, policy or not. Windows paths; others never match.
   */
  protectedPaths?: string[];
  /** Host facts the documents depend on (build, processors). Default: Windows Server 2022 (host-profile.ts). */
  hostFacts?: HostProfile;
  /** The local image store, for manifests with `spec.container.image` (absent: such manifests are errors). */
  images?: ImageLookup;
  /** NameToGuid of a layer folder's base name, for `spec.container.layers` ids (audit D14; absent: ids as written). */
  layerIds?: LayerIdResolver;
}

/** Default HCS Owner. */
export { DEFAULT_OWNER };

/** A manifest name as declared in a file, with where (used by cross-file checks). */
export interface DeclaredName {
  name: string;
  /** Location of the `metadata.name` value. */
  at: SourceLocation;
  /** Location of each `spec.dependsOn` item, by name (only for valid manifests). */
  dependsOnAt: Record<string, SourceLocation>;
}

/** Result of parsing one file. */
export interface FileResult {
  file: string;
  manifests: DesiredSystem[];
  errors: ManifestError[];
  ignored: IgnoredManifest[];
  /** Every readable `metadata.name` in the file, valid or not (not ignored ones). */
  declared: DeclaredName[];
}

/** Parse one file's content (bytes as read). Pure; no fs. */
export function parseManifestFile(file: string, content: Uint8Array, opts: ManifestOptions = {}): FileResult {
  const result: FileResult = { file, manifests: [], errors: [], ignored: [], declared: [] };
  const decoded = decodeManifestText(content, opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  if ('problem' in decoded) {
    result.errors.push({ file, ...decoded.problem, path: '' });
    // An over-size file is not scanned either: it was not read for a reason.
    if (content.length <= (opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES)) holdScannedNames(result, content);
    return result;
  }
  let parsed: ReturnType<typeof parseYaml>;
  try {
    parsed = parseYaml(decoded.text);
  } catch (err) {
    // The parser recurses; absurd nesting can overflow the stack before our depth check runs.
    result.errors.push({ file, line: 1, col: 1, path: '', message: `YAML could not be parsed (${err instanceof Error ? err.message : String(err)})` });
    return result;
  }
  const budget = { left: MAX_ERRORS_PER_FILE, omitted: 0 };
  for (const doc of parsed.documents) parseDocument(new DocContext(file, doc, parsed.lineCounter, decoded.text, budget), opts, result);
  if (result.errors.length > 0 && result.declared.length === 0 && result.manifests.length === 0) holdScannedNames(result, content);
  if (budget.omitted > 0) {
    const last = result.errors.at(-1);
    // Without a name on purpose: an error for the file as a whole keeps every name the file
    // declared before on its last valid spec, including those whose own errors were left out.
    result.errors.push({ file, line: last?.line ?? 1, col: last?.col ?? 1, path: '', message: `and ${budget.omitted} more error(s) in this file (only the first ${MAX_ERRORS_PER_FILE} are shown)` });
  }
  return result;
}

/**
 * A file that failed as a whole, with no readable name: one error per name a text scan finds
 * (name-scan.ts), so that the core holds the pruning of those names only. Without any, the
 * file's nameless errors make the core hold all pruning, as before.
 */
function holdScannedNames(result: FileResult, content: Uint8Array): void {
  if (result.errors.some((e) => e.name !== undefined)) return;
  for (const name of scanNames(content)) {
    result.errors.push({ file: result.file, line: 1, col: 1, path: '', name, message: `holding "${name}": this file may declare it (found by a text scan); it is not pruned until the file is fixed or removed` });
  }
}

/**
 * Errors reported per file; the rest are counted in one "and N more" error. A 1 MB file of
 * unknown keys gave 100k errors, each located in the YAML tree, logged and served by /status.
 */
export const MAX_ERRORS_PER_FILE = 20;

/** One YAML document plus what is needed to turn paths and offsets into locations. */
class DocContext {
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lc: LineCounter,
    readonly text: string,
    readonly budget: { left: number; omitted: number } = { left: MAX_ERRORS_PER_FILE, omitted: 0 },
  ) {}

  /** The problems that fit in the file's error budget (locating each one is the costly part). */
  take<T>(problems: readonly T[]): T[] {
    const shown = problems.slice(0, Math.max(0, this.budget.left));
    this.budget.left -= shown.length;
    this.budget.omitted += problems.length - shown.length;
    return shown;
  }

  at(node: Node | undefined): SourceLocation {
    return { file: this.file, ...nodePosition(node, this.lc) };
  }

  atOffset(offset: number): SourceLocation {
    return { file: this.file, ...this.lc.linePos(offset) };
  }

  error(problem: Problem, name: string | undefined): ManifestError {
    const loc = this.at(findNode(this.doc, problem.path, problem.key));
    return { ...loc, path: formatPath(problem.path), message: problem.message, ...(name ? { name } : {}) };
  }

  /** `metadata.name` when it is a valid name (so the core can keep last-known-good for it). */
  readName(): { name: string; node: Node } | undefined {
    const node = findNode(this.doc, ['metadata', 'name']);
    const value = isScalar(node) ? node.value : undefined;
    return typeof value === 'string' && NAME_PATTERN.test(value) && node ? { name: value, node } : undefined;
  }
}

function parseDocument(ctx: DocContext, opts: ManifestOptions, out: FileResult): void {
  const syntax = yamlProblems(ctx.doc, ctx.text);
  if (syntax.length === 0 && isEmptyDocument(ctx.doc)) return;
  const declared = ctx.readName();
  const name = declared?.name;
  const fail = (errors: ManifestError[]) => {
    out.errors.push(...ctx.take(errors).sort(byPosition));
    if (declared) out.declared.push({ name: declared.name, at: ctx.at(declared.node), dependsOnAt: {} });
  };
  if (syntax.length > 0) return fail(syntax.map((p) => ({ ...ctx.atOffset(p.offset), path: '', message: p.message, ...(name ? { name } : {}) })));
  const contents = ctx.doc.contents as Node;
  if (!isMap(contents)) {
    const got = isSeq(contents) ? 'a list' : 'a scalar';
    return fail([{ ...ctx.at(contents), path: '', message: `must be a mapping with apiVersion, kind, metadata and spec (got ${got})` }]);
  }
  const deep = tooDeep(ctx.doc);
  if (deep) return fail([{ ...ctx.at(deep), path: '', message: `nested deeper than ${MAX_DEPTH} levels`, ...(name ? { name } : {}) }]);
  const data = toData(ctx.doc);
  if ('problem' in data) return fail([{ ...ctx.atOffset(data.problem.offset), path: '', message: data.problem.message, ...(name ? { name } : {}) }]);
  const validated = validateDocument(data.data);
  if ('problems' in validated) {
    // Locate only what will be shown; the rest only counts (fail() takes them all from the budget).
    const room = Math.max(0, ctx.budget.left);
    const located = validated.problems.slice(0, room).map((p) => ctx.error(p, name));
    ctx.budget.omitted += validated.problems.length - located.length;
    return fail(located);
  }
  acceptManifest(ctx, validated.manifest, opts, out, fail);
}

function acceptManifest(ctx: DocContext, manifest: Manifest, opts: ManifestOptions, out: FileResult, fail: (e: ManifestError[]) => void): void {
  const { name } = manifest.metadata;
  const source = ctx.at(ctx.doc.contents as Node);
  const mismatch = opts.host && placementMismatch(manifest.spec.placement, opts.host);
  if (mismatch) {
    out.ignored.push({ name, source, reason: mismatch });
    return;
  }
  const host = opts.hostFacts ?? DEFAULT_HOST;
  let fromHost: Problem[];
  try {
    fromHost = hostProblems(manifest, host);
  } catch (err) {
    if (!(err instanceof UnknownHostBuildError)) throw err;
    fromHost = [{ path: [], key: false, message: err.message }];
  }
  const problems = [...selfDependency(manifest), ...checkPolicy(manifest, opts.policy, opts.protectedPaths), ...fromHost];
  if (problems.length > 0) return fail(problems.map((p) => ctx.error(p, name)));
  const withIds = withLayerIds(manifest, opts.layerIds);
  if ('problems' in withIds) return fail(withIds.problems.map((p) => ctx.error(p, name)));
  const resolved = withStoredImage(withIds.manifest, opts.images);
  if ('problem' in resolved) return fail([ctx.error(resolved.problem, name)]);
  const desired = toDesired(resolved.manifest, source, opts.owner ?? DEFAULT_OWNER, host);
  out.manifests.push('image' in resolved && resolved.image ? { ...desired, image: resolved.image } : desired);
  out.declared.push({ name, at: ctx.at(findNode(ctx.doc, ['metadata', 'name'])), dependsOnAt: dependsOnLocations(ctx, manifest) });
}

function selfDependency(m: Manifest): Problem[] {
  const i = m.spec.dependsOn?.indexOf(m.metadata.name) ?? -1;
  return i < 0 ? [] : [{ path: ['spec', 'dependsOn', i], key: false, message: `must not depend on itself (${m.metadata.name})` }];
}

function dependsOnLocations(ctx: DocContext, m: Manifest): Record<string, SourceLocation> {
  const entries = (m.spec.dependsOn ?? []).map((dep, i): [string, SourceLocation] => [dep, ctx.at(findNode(ctx.doc, ['spec', 'dependsOn', i] as DataPath))]);
  return Object.fromEntries(entries);
}

function toDesired(m: Manifest, source: SourceLocation, owner: string, host: HostProfile): DesiredSystem {
  const { spec } = m;
  const rendering = renderManifest(m, owner, host);
  const b = spec.backoff;
  return {
    name: m.metadata.name,
    configHash: rendering.configHash,
    parts: rendering.parts,
    state: spec.state,
    restartPolicy: spec.restartPolicy,
    ...(b ? { backoff: { initialMs: ms(b.initial), maxMs: ms(b.max), resetAfterMs: ms(b.resetAfter) } } : {}),
    stopTimeoutMs: ms(spec.stopTimeout),
    dependsOn: spec.dependsOn ?? [],
    suspend: spec.suspend,
    updateStrategy: spec.updateStrategy,
    ...(rendering.process ? { process: rendering.process } : {}),
    labels: m.metadata.labels ?? {},
    source,
  };
}

/** Schema-validated durations always parse; the fallback only satisfies the type checker. */
function ms(duration: string): number {
  return parseDuration(duration) ?? 0;
}

function byPosition(a: ManifestError, b: ManifestError): number {
  return a.line - b.line || a.col - b.col;
}
