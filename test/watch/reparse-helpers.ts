/** A parser whose result depends on something outside the file (like the image store): a generation counter. */
import type { ManifestSnapshot } from '../../reconciler/ports.ts';
import type { ManifestParser } from '../../src/watch/types.ts';

type Result = { file: string; message: string };

export function manifestParserFor(generation: () => number): ManifestParser<never> {
  const parser: ManifestParser<Result & never> = {
    parseManifestFile: (file) => ({ file, message: `generation ${generation()}` }) as never,
    combineSnapshot: (results: Result[]): ManifestSnapshot => ({
      manifests: [],
      errors: results.map((r) => ({ file: r.file, line: 1, col: 1, path: '', message: r.message })),
      ignored: [],
      files: results.map((r) => r.file),
      folderOk: true,
    }),
    isManifestFileName: (n) => n.endsWith('.yaml'),
  };
  return parser as never;
}
