/**
 * Child of test/logs/relay.test.ts: a stand-in for the controller that starts one log relay
 * (capture-hcs.ts spawnRelay, the code `run` uses), prints the relay's report and stays alive until
 * the test kills it. argv: libraryPath systemId logDir launcher(0|1).
 */
import { spawnRelay } from '../../src/cli/capture-hcs.ts';

const [libraryPath, systemId, logDir, launcher] = process.argv.slice(2) as [string, string, string, string];
const parameters = { CommandLine: 'app.exe', Environment: { HCSEMU_PRINT_EVERY_MS: '20' } };
const report = await spawnRelay(
  { libraryPath, systemId, parameters, logDir, rotation: { maxBytes: 10 * 1024 * 1024, maxFiles: 2 }, timeoutMs: 60_000 },
  { env: process.env, launcher: launcher === '1' },
  60_000,
);
process.stdout.write(`${JSON.stringify(report)}\n`);
setInterval(() => {}, 1 << 30);
