/**
 * Test helpers for src/watch: temp folders, a waiting helper, and a stand-in parser used until
 * src/manifest's real functions land (the source only needs the ManifestParser shape).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DesiredSystem, ManifestError, ManifestSnapshot } from '../../reconciler/ports.ts';
import type { FileResult, ManifestParser, ManifestSource } from '../../src/watch/index.ts';

/**
 * Fake parser. A file is one manifest: `name: <n>` names it, `placement: other` makes it
 * ignored, and it is only valid when it ends with the line `# end` (so a half-written file shows
 * up as an error). `configHash` is the content hash, so a content change changes the manifest.
 */
export const fakeParser: ManifestParser = {
  parseManifestFile(file: string, content: Uint8Array): FileResult {
    const text = Buffer.from(content).toString('utf8');
    const name = /^name: (.+)$/m.exec(text)?.[1]?.trim();
    const source = { file, line: 1, col: 1 };
    if (!name || !text.endsWith('# end\n')) {
      const error: ManifestError = { file, line: 1, col: 1, path: '', message: 'incomplete manifest', ...(name ? { name } : {}) };
      return { file, manifests: [], errors: [error], ignored: [] };
    }
    if (/^placement: other$/m.test(text)) return { file, manifests: [], errors: [], ignored: [{ name, source, reason: 'placement does not match' }] };
    const system = { name, configHash: createHash('sha256').update(text).digest('hex'), source, text } as unknown as DesiredSystem;
    return { file, manifests: [system], errors: [], ignored: [] };
  },
  combineSnapshot(results: FileResult[]): ManifestSnapshot {
    return {
      manifests: results.flatMap((r) => r.manifests),
      errors: results.flatMap((r) => r.errors),
      ignored: results.flatMap((r) => r.ignored),
      files: results.map((r) => r.file).sort(),
      folderOk: true,
    };
  },
  isManifestFileName(fileName: string): boolean {
    return /\.ya?ml$/.test(fileName) && !fileName.startsWith('.') && !fileName.startsWith('#');
  },
};

/** A manifest body for the fake parser. */
export function manifest(name: string, extra = ''): string {
  return `name: ${name}\n${extra}# end\n`;
}

/** The manifest body as the fake parser stored it (lets tests check which version they see). */
export function textOf(s: ManifestSnapshot, name: string): string | undefined {
  return (s.manifests.find((m) => m.name === name) as unknown as { text?: string } | undefined)?.text;
}

/** Names of the valid manifests of a snapshot, sorted. */
export function names(s: ManifestSnapshot): string[] {
  return s.manifests.map((m) => m.name).sort();
}

/** A fresh real temp folder (realpath'd: macOS /tmp is itself a link). */
export async function tempDir(prefix = 'hcs-watch-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Resolves with the first *emitted* snapshot matching `predicate`; subscribe before acting. */
export function nextSnapshot(source: ManifestSource, predicate: (s: ManifestSnapshot) => boolean = () => true, timeoutMs = 5000): Promise<ManifestSnapshot> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`no matching snapshot within ${timeoutMs} ms; current: ${JSON.stringify(summary(source.current()))}`));
    }, timeoutMs);
    const sub = source.onSnapshot((s) => {
      if (!predicate(s)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(s);
    });
  });
}

/** Records every emitted snapshot. */
export function record(source: ManifestSource): ManifestSnapshot[] {
  const seen: ManifestSnapshot[] = [];
  source.onSnapshot((s) => seen.push(s));
  return seen;
}

/** A compact view for assertion messages. */
export function summary(s: ManifestSnapshot): Record<string, unknown> {
  return { names: names(s), files: s.files, errors: s.errors.map((e) => `${e.file}: ${e.message}`), folderOk: s.folderOk, folderError: s.folderError };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
