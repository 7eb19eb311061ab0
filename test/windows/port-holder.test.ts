/**
 * The Windows port-holder lookup against the real iphlpapi.dll and kernel32.dll (issue 15): this
 * process listens on a TCP port and binds a UDP port, and GetExtendedTcpTable(TCP_TABLE_OWNER_PID_ALL)
 * / GetExtendedUdpTable(UDP_TABLE_OWNER_PID) + QueryFullProcessImageNameW must name this process and
 * its node.exe. Needs no elevation, but runs only with the gated suite.
 *
 *   $env:HCS_FUNCTIONAL=1; node test/run.mjs test/windows/port-holder
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { PortTableNative, parsePortTable } from '../../src/hcs/ports-table.ts';
import { holderOf } from '../../src/network/provisioner.ts';

const enabled = process.platform === 'win32' && process.env.HCS_FUNCTIONAL === '1';
const skip = enabled ? false : 'needs Windows and HCS_FUNCTIONAL=1 (real iphlpapi.dll / kernel32.dll)';

describe('port holder on Windows (iphlpapi)', { skip }, () => {
  it('names this process for a TCP listener and a UDP socket, in the port-in-use error text', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
    const tcpPort = (server.address() as { port: number }).port;
    const udp = createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const udpPort = udp.address().port;
    try {
      const native = new PortTableNative();
      const rows = parsePortTable(native.getExtendedTcpTable(4), 'tcp', 4);
      assert.ok(rows.some((r) => r.localPort === tcpPort && r.pid === process.pid && r.state === 2), `our listener is in the table (${rows.length} rows)`);
      assert.equal(basename(native.imageName(process.pid) ?? '').toLowerCase(), basename(process.execPath).toLowerCase());
      const tcp = native.findPortHolder(tcpPort, 'tcp');
      assert.match(tcp ?? '', new RegExp(`^pid ${process.pid} \\(.*node(\\.exe)?\\)$`, 'i'));
      const u = native.findPortHolder(udpPort, 'udp');
      assert.match(u ?? '', new RegExp(`^pid ${process.pid} \\(`));
      assert.equal(await holderOf([{ hostPort: tcpPort, containerPort: 80, protocol: 'tcp' }]), tcp, 'the provisioner uses it');
      assert.equal(native.findPortHolder(tcpPort, 'udp'), undefined, 'a TCP listener does not hold the UDP port');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => udp.close(() => r()));
    }
  });
});
