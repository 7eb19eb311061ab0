// Child of test/windows/relay-service.test.ts, run by a WinSW service (LocalSystem, plain node):
// a stand-in for the controller that starts one log relay the way `run` does on Windows (through
// the --launch intermediate), writes the relay's report to a file, and idles until the service
// stops it. After a restart it finds the report and only idles (the relay is still the old one's).
// argv: <dist capture-hcs.js file URL> <report file> <libraryPath> <systemId> <logDir>
import { existsSync, writeFileSync } from 'node:fs';

const [captureUrl, reportFile, libraryPath, systemId, logDir] = process.argv.slice(2);
if (!existsSync(reportFile)) {
  const { spawnRelay } = await import(captureUrl);
  const printer = 'cmd /c "for /l %i in (1,1,100000) do @(echo line %i & ping -n 2 127.0.0.1 >nul)"';
  const report = await spawnRelay(
    { libraryPath, systemId, parameters: { CommandLine: printer }, logDir, rotation: { maxBytes: 1 << 20, maxFiles: 2 }, timeoutMs: 60_000 },
    { env: process.env, launcher: true },
    60_000,
  );
  writeFileSync(reportFile, JSON.stringify({ ...report, service: process.pid }));
}
setInterval(() => {}, 1 << 30);
