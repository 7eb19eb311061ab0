#!/usr/bin/env node
// Entry point of the `hcs-reconciler` command. The libuv pool must be sized before anything uses
// it (fs, the binding's worker-thread closes), so it is set here, first. TypeScript sources are
// run through tsx's loader: Node 20 cannot strip types by itself.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv);
