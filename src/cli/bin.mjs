#!/usr/bin/env node
// Entry point of the `hcs-reconciler` command. The libuv pool must be sized before anything uses
// it (fs, the binding's worker-thread closes), so it is set here, first. The build copies this
// file next to the compiled main.js (dist/src/cli/), where it runs that with plain node; in the
// source tree it runs main.ts through tsx's loader (Node 20 cannot strip types by itself).
process.env.UV_THREADPOOL_SIZE ??= '16';
const { existsSync } = await import('node:fs');
const compiled = new URL('./main.js', import.meta.url);
let main;
if (existsSync(compiled)) ({ main } = await import(compiled.href));
else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('./main.ts'));
}
process.exitCode = await main(process.argv);
