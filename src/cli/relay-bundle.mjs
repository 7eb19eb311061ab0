// The log relay as one plain-JavaScript file: esbuild bundles relay.ts and everything it imports
// (koffi stays external: a native module, found in node_modules at run time). One file instead of
// ~20 modules saves the relay about 5 MB of RSS and part of its start-up (node's ESM loader keeps
// per-module state; measured by the `relay` benchmark). Used by the build (src/build.mjs:
// dist/src/cli/relay.bundle.mjs) and, when running from the sources, by relay-entry.ts.
// esbuild is tsx's own (a development dependency): needed to build, never to run.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The bundle's code (Uint8Array) and its inputs (paths relative to the package root). */
export async function bundleRelay() {
  const fromRoot = createRequire(`${root}package.json`);
  const esbuild = createRequire(fromRoot.resolve('tsx/package.json'))('esbuild');
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(new URL('./relay.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['koffi'],
    write: false,
    metafile: true,
    absWorkingDir: root,
    logLevel: 'silent',
    legalComments: 'none',
  });
  return { code: out.outputFiles[0].contents, inputs: Object.keys(out.metafile.inputs) };
}
