#!/usr/bin/env node
// Entry of the log relay (relay.ts), spawned detached by the controller for each container
// entrypoint (capture-hcs.ts). Plain JavaScript on plain node: it loads relay.bundle.mjs next to
// this file (dist/: the build's one-file bundle of relay.ts, see relay-bundle.mjs), or the module
// named by --module=URL (the same bundle made from the sources, see relay-entry.ts); never the
// TypeScript loader, whose start-up cost every container would pay.
//
// --launch: be the short-lived intermediate instead. Start the relay detached with this process's
// stdio and exit at once, so the relay's parent process is gone: WinSW stops a service by walking
// the process tree by parent process id (winsw src/WinSW.Core/Util/ProcessExtensions.cs
// GetChildren: InheritedFromUniqueProcessId), and a relay whose parent no longer exists is not
// found, so it outlives a service stop or restart (docs/logs.md "Relays and the service wrapper").
const args = process.argv.slice(2);
if (args[0] === '--launch') {
  const { spawn } = await import('node:child_process');
  const relay = spawn(process.execPath, [...process.execArgv, process.argv[1], ...args.slice(1)], { detached: true, stdio: 'inherit', windowsHide: true });
  relay.once('error', (err) => {
    process.stderr.write(`relay launcher: ${err.message}\n`);
    process.exit(1);
  });
  relay.once('spawn', () => process.exit(0));
} else {
  const module = args.find((a) => a.startsWith('--module='))?.slice('--module='.length);
  const { relayMain } = await import(module ?? './relay.bundle.mjs');
  process.exitCode = await relayMain();
}
