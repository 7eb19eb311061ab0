#!/usr/bin/env node
// Entry of the log relay process (relay.ts), spawned detached by the controller for each
// container entrypoint. Like bin.mjs: size the libuv pool first, then load relay.js next to this
// file when compiled (dist/), else the TypeScript sources through tsx.
process.env.UV_THREADPOOL_SIZE ??= '4';
process.on('SIGINT', () => {}); // a Ctrl+C meant for the controller's console must not end the capture
process.on('SIGHUP', () => {});
const { existsSync } = await import('node:fs');
const compiled = new URL('./relay.js', import.meta.url);
let relayMain;
if (existsSync(compiled)) ({ relayMain } = await import(compiled.href));
else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ relayMain } = await import('./relay.ts'));
}
process.exitCode = await relayMain();
