#!/usr/bin/env node
// `npm run build` (also `prepare`, so `npm ci` in a clone and `npm pack` build it): the compiled
// package in dist/. Steps: generate the schema validators (ajv standalone code), compile with tsc
// (tsconfig.build.json: .js + .d.ts, `.ts` import specifiers rewritten to `.js`), then copy the
// files tsc does not emit: the generated validators, the .mjs entry points and the emulator's C
// sources with their build script; bundle yaml, commander and tar-stream (src/vendor-bundle.mjs) (the library is compiled on first use, or at install on Linux;
// never here, so building on Windows needs no C compiler).
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

function run(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: node ${args.join(' ')} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

rmSync(dist, { recursive: true, force: true });
run(['--import', 'tsx', 'src/manifest/standalone.ts']);
// typescript's exports hide bin/tsc from require.resolve; its package folder is found through package.json.
run([join(dirname(require.resolve('typescript/package.json')), 'bin/tsc'), '-p', 'tsconfig.build.json']);
cpSync(join(root, 'src/manifest/validators.generated.cjs'), join(dist, 'src/manifest/validators.generated.cjs'));
// Plain-JavaScript entry points and workers (bin, log relay, stdio worker): tsc does not emit .mjs.
for (const file of ['src/cli/bin.mjs', 'src/cli/relay-main.mjs', 'src/hcs/stdio-worker.mjs']) {
  cpSync(join(root, file), join(dist, file));
  chmodSync(join(dist, file), 0o755);
}
// yaml, commander and tar-stream as one file each, the compiled imports pointed there (start-up).
const { vendorBundles } = await import('./vendor-bundle.mjs');
await vendorBundles(root, dist);
// The log relay as one file (src/cli/relay-bundle.mjs), which relay-main.mjs loads.
const { bundleRelay } = await import('./cli/relay-bundle.mjs');
writeFileSync(join(dist, 'src/cli/relay.bundle.mjs'), (await bundleRelay()).code);
// Everything in native/ except the compiled output folder (native/build/, from a local build).
const native = join(root, 'src/emulator/native');
cpSync(native, join(dist, 'src/emulator/native'), {
  recursive: true,
  filter: (src) => !relative(native, src).split(/[\\/]/).includes('build'),
});
console.log(`build: ${dist}`);
