// Build step (src/build.mjs): the CommonJS dependencies the CLI loads at start-up, each bundled
// into one file under dist/vendor/, and the compiled modules' imports of them pointed there.
// `yaml` alone is 72 CommonJS files; loading them one by one was the largest part of what
// `validate manifests` spends over `node -e 0` (the startup benchmark). One file per package
// keeps the code and its licence the package's own, loaded lazily exactly where it was before.
// The packages stay dependencies: the .d.ts files name them, and the sources (tsx) use them.
// esbuild is tsx's own (a development dependency): needed to build, never to run.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';

/** Packages bundled, and how the compiled code imports them. */
const VENDORED = ['yaml', 'commander', 'tar-stream'];

/** Every .js file under `dir`. */
function jsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.js'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

/** `import {a, b as c} from 'pkg'` / `export {a as b} from 'pkg'` → the names taken from pkg. */
function namesOf(list) {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => s.split(/\s+as\s+/)[0].trim());
}

/**
 * Bundles VENDORED into `dist/vendor/<pkg>.mjs` and rewrites the compiled imports of them.
 * A form of import it does not know (namespace, side effect, dynamic) fails the build.
 */
export async function vendorBundles(root, dist) {
  const fromRoot = createRequire(join(root, 'package.json'));
  const esbuild = createRequire(fromRoot.resolve('tsx/package.json'))('esbuild');
  const files = jsFiles(dist).filter((f) => !f.includes(`${sep}vendor${sep}`));
  for (const pkg of VENDORED) {
    const q = `['"]${pkg.replace(/[-/]/g, '\\$&')}['"]`;
    const named = new RegExp(`(import|export)\\s*\\{([^}]*)\\}\\s*from\\s*${q}`, 'g');
    const byDefault = new RegExp(`import\\s+([A-Za-z_$][\\w$]*)\\s+from\\s*${q}`, 'g');
    const any = new RegExp(`(from\\s*|import\\s*\\(\\s*|import\\s+)${q}`, 'g');
    const names = new Set();
    let usesDefault = false;
    const users = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const all = text.match(any)?.length ?? 0;
      if (all === 0) continue;
      let known = 0;
      for (const m of text.matchAll(named)) { known++; for (const n of namesOf(m[2])) names.add(n); }
      for (const _ of text.matchAll(byDefault)) { known++; usesDefault = true; }
      if (known !== all) throw new Error(`build: ${relative(root, file)} imports ${pkg} in a form vendor-bundle.mjs does not rewrite`);
      users.push(file);
    }
    if (users.length === 0) continue;
    if (usesDefault && names.size > 0) throw new Error(`build: ${pkg} is imported both by default and by name`);
    // An ES module, not CommonJS: node would run its CJS export lexer over the whole bundle on
    // every start (measured slower than the 72 files). The stub re-exports what the code uses;
    // `require` of node's built-ins inside the packages goes through createRequire.
    const contents = usesDefault ? `export { default } from '${pkg}';` : `export { ${[...names].sort().join(', ')} } from '${pkg}';`;
    const outfile = join(dist, 'vendor', `${pkg}.mjs`);
    await esbuild.build({
      stdin: { contents, resolveDir: root, loader: 'js' },
      bundle: true, format: 'esm', platform: 'node', target: 'node20', outfile,
      banner: { js: "import { createRequire as __vendorRequire } from 'node:module'; const require = __vendorRequire(import.meta.url);" },
      absWorkingDir: root, logLevel: 'silent', legalComments: 'eof',
    });
    for (const file of users) {
      let spec = relative(dirname(file), outfile).split(sep).join('/');
      if (!spec.startsWith('.')) spec = `./${spec}`;
      const text = readFileSync(file, 'utf8').replace(new RegExp(`(from\\s*)${q}`, 'g'), `$1'${spec}'`);
      writeFileSync(file, text);
    }
  }
}
