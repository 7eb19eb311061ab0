/** `validate`, `render` and `schema`: the manifest-only commands (no HCS needed). */
import { formatError, loadManifests, manifestSchema } from '../../manifest/index.ts';
import type { ManifestError, ManifestSnapshot } from '../../../reconciler/ports.ts';
import { manifestOptions, type GlobalOptions } from '../context.ts';
import { hostCapabilities, type HostProfile } from '../../manifest/host-profile.ts';
import { outputFormat, printJson } from '../output.ts';

/**
 * Load a file or folder with the global manifest options; a missing folder becomes an error
 * entry. Sub-folders are read to the same depth as `run` reads them by default (1).
 */
export async function loadForCli(path: string, g: GlobalOptions, depth = 1): Promise<ManifestSnapshot> {
  const snapshot = await loadManifests(path, { ...(await manifestOptions(g, path)), recursive: depth > 0, maxDepth: depth });
  if (snapshot.folderOk) return snapshot;
  const error: ManifestError = { file: path, line: 1, col: 1, path: '', message: snapshot.folderError ?? 'cannot read' };
  return { ...snapshot, errors: [error, ...snapshot.errors] };
}

/** Group error lines by file, as `validate` prints them. */
export function formatErrorsByFile(errors: readonly ManifestError[]): string {
  const byFile = new Map<string, ManifestError[]>();
  for (const e of errors) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  const out: string[] = [];
  for (const [file, list] of byFile) {
    out.push(file);
    for (const e of list) out.push(`  ${formatError(e)}`);
  }
  return out.join('\n');
}

/** `hcs-reconciler validate <file|dir>`: exit 0 when all valid, 1 otherwise. */
export async function validateCommand(path: string, opts: { output?: string }, g: GlobalOptions): Promise<number> {
  const format = outputFormat(opts.output, ['json']);
  const snapshot = await loadForCli(path, g);
  const valid = snapshot.errors.length === 0;
  if (format === 'json') {
    printJson({
      valid,
      manifests: snapshot.manifests.map((m) => ({ name: m.name, file: m.source.file, line: m.source.line, configHash: m.configHash, ids: m.parts.map((p) => p.id) })),
      errors: snapshot.errors,
      ignored: snapshot.ignored,
    });
    return valid ? 0 : 1;
  }
  if (!valid) process.stderr.write(`${formatErrorsByFile(snapshot.errors)}\n`);
  for (const i of snapshot.ignored) process.stdout.write(`ignored ${i.name} (${i.source.file}:${i.source.line}): ${i.reason}\n`);
  const files = new Set(snapshot.errors.map((e) => e.file)).size;
  const summary = `${snapshot.manifests.length} manifest(s) valid in ${snapshot.files.length} file(s)`;
  process.stdout.write(valid ? `ok: ${summary}\n` : `${summary}; ${snapshot.errors.length} error(s) in ${files} file(s)\n`);
  return valid ? 0 : 1;
}

/** `hcs-reconciler render <file|dir>`: the HCS documents and hash of each manifest. */
export async function renderCommand(path: string, opts: { output?: string }, g: GlobalOptions): Promise<number> {
  const format = outputFormat(opts.output, ['json']);
  const snapshot = await loadForCli(path, g);
  const rendered = snapshot.manifests.map((m) => ({
    name: m.name,
    configHash: m.configHash,
    parts: m.parts,
    ...(m.process ? { process: m.process.parameters } : {}),
  }));
  const host = describeHost((await import('../host-facts.ts')).cliHostFacts());
  if (format === 'json') printJson(rendered);
  else {
    process.stdout.write(`# host: ${host}\n`);
    for (const r of rendered) {
      process.stdout.write(`# ${r.name}  hash ${r.configHash}\n`);
      for (const p of r.parts) {
        process.stdout.write(`## ${p.id} (${p.role}, ${p.systemType})\n${JSON.stringify(p.document, null, 2)}\n`);
        if (p.shutdownOptions) process.stdout.write(`## shutdown options (HcsShutDownComputeSystem)\n${JSON.stringify(p.shutdownOptions)}\n`);
      }
      if (r.process) process.stdout.write(`## entrypoint (HcsCreateProcess)\n${JSON.stringify(r.process, null, 2)}\n`);
    }
  }
  if (snapshot.errors.length > 0) process.stderr.write(`${formatErrorsByFile(snapshot.errors)}\n`);
  return snapshot.errors.length === 0 ? 0 : 1;
}

/** `build 20348 (Windows Server 2022), HCS schema 2.5, 8 logical processors; from ...` */
function describeHost(h: HostProfile): string {
  try {
    const caps = hostCapabilities(h.build);
    const cpus = h.logicalProcessors === undefined ? '' : `, ${h.logicalProcessors} logical processors`;
    return `build ${h.build} (${caps.name}), HCS schema 2.${caps.schemaMinor}${cpus}; from ${h.source ?? 'defaults'}`;
  } catch (err) {
    return (err as Error).message;
  }
}

/** `hcs-reconciler schema`: the manifest JSON Schema. */
export function schemaCommand(): number {
  printJson(manifestSchema);
  return 0;
}
