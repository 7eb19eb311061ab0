#!/usr/bin/env node
// Entry of the log relay process (relay.ts), spawned detached by the controller for each
// container entrypoint. Like bin.mjs: size the libuv pool first, then load the TypeScript sources.
process.env.UV_THREADPOOL_SIZE ??= '4';
process.on('SIGINT', () => {}); // a Ctrl+C meant for the controller's console must not end the capture
process.on('SIGHUP', () => {});
const { register } = await import('tsx/esm/api');
register();
const { relayMain } = await import('./relay.ts');
process.exitCode = await relayMain();
