// The Windows port-holder lookup (src/hcs/ports-table.ts) without Windows: the owner-pid TCP/UDP
// tables are parsed from byte buffers laid out per the documented structs (MIB_TCPTABLE_OWNER_PID:
// a DWORD count, then rows of 6 DWORDs; the port in network byte order in the DWORD's low bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIB_TCP_STATE_LISTEN, describeHolder, holderPid, parsePortTable, twoCall } from '../../src/hcs/ports-table.ts';

/** A DWORD holding a port "in network byte order": big-endian in its first two bytes, as htons() leaves it. */
const portDword = (p: number) => { const b = Buffer.alloc(4); b.writeUInt16BE(p, 0); return b; };
const dword = (v: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0, 0); return b; };
const ipv4 = (a: string) => Buffer.from(a.split('.').map(Number));

/** MIB_TCPROW_OWNER_PID: dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid. */
const tcpRow = (state: number, addr: string, port: number, pid: number) =>
  Buffer.concat([dword(state), ipv4(addr), portDword(port), ipv4('0.0.0.0'), portDword(0), dword(pid)]);
/** MIB_TCP6ROW_OWNER_PID: ucLocalAddr[16], dwLocalScopeId, dwLocalPort, ucRemoteAddr[16], dwRemoteScopeId, dwRemotePort, dwState, dwOwningPid. */
const tcp6Row = (state: number, port: number, pid: number) =>
  Buffer.concat([Buffer.alloc(16), dword(0), portDword(port), Buffer.alloc(16), dword(0), portDword(0), dword(state), dword(pid)]);
/** MIB_UDPROW_OWNER_PID: dwLocalAddr, dwLocalPort, dwOwningPid; MIB_UDP6ROW_OWNER_PID: ucLocalAddr[16], dwLocalScopeId, dwLocalPort, dwOwningPid. */
const udpRow = (port: number, pid: number) => Buffer.concat([ipv4('127.0.0.1'), portDword(port), dword(pid)]);
const udp6Row = (port: number, pid: number) => Buffer.concat([Buffer.alloc(16), dword(0), portDword(port), dword(pid)]);
const table = (rows: Buffer[]) => Buffer.concat([dword(rows.length), ...rows]);

test('MIB_TCPTABLE_OWNER_PID: rows of 24 bytes, port in network byte order, listener found by state', () => {
  assert.equal(tcpRow(2, '0.0.0.0', 80, 1).length, 24);
  const buf = table([
    tcpRow(5 /* ESTABLISHED */, '10.0.0.5', 8080, 111), // a connection from port 8080 is not the holder
    tcpRow(MIB_TCP_STATE_LISTEN, '0.0.0.0', 8080, 4242),
    tcpRow(MIB_TCP_STATE_LISTEN, '127.0.0.1', 0x1f91 /* 8081: bytes 1f 91, not 91 1f */, 77),
  ]);
  const rows = parsePortTable(buf, 'tcp', 4);
  assert.deepEqual(rows.map((r) => [r.localPort, r.pid, r.state]), [[8080, 111, 5], [8080, 4242, 2], [8081, 77, 2]]);
  assert.equal(holderPid(rows, 8080, 'tcp'), 4242);
  assert.equal(holderPid(rows, 8081, 'tcp'), 77);
  assert.equal(holderPid(rows, 9999, 'tcp'), undefined);
  // A buffer bigger than the table (the size the first call asked for) is fine; a truncated one is not.
  assert.equal(parsePortTable(Buffer.concat([buf, Buffer.alloc(100)]), 'tcp', 4).length, 3);
  assert.throws(() => parsePortTable(buf.subarray(0, buf.length - 1), 'tcp', 4), /3 rows of 24 bytes do not fit in 75 bytes/);
  assert.throws(() => parsePortTable(Buffer.alloc(2), 'tcp', 4), /no dwNumEntries/);
});

test('MIB_TCP6 / UDP / UDP6 tables: 56, 12 and 28 byte rows; UDP holds a port without a state', () => {
  assert.equal(tcp6Row(2, 80, 1).length, 56);
  assert.equal(udpRow(53, 1).length, 12);
  assert.equal(udp6Row(53, 1).length, 28);
  const t6 = parsePortTable(table([tcp6Row(MIB_TCP_STATE_LISTEN, 443, 900), tcp6Row(11 /* TIME_WAIT */, 8443, 901)]), 'tcp', 6);
  assert.deepEqual(t6, [{ protocol: 'tcp', family: 6, localPort: 443, pid: 900, state: 2 }, { protocol: 'tcp', family: 6, localPort: 8443, pid: 901, state: 11 }]);
  assert.equal(holderPid(t6, 8443, 'tcp'), undefined, 'TIME_WAIT holds no listener');
  const u = parsePortTable(table([udpRow(5353, 321), udpRow(53, 654)]), 'udp', 4);
  assert.deepEqual(u, [{ protocol: 'udp', family: 4, localPort: 5353, pid: 321 }, { protocol: 'udp', family: 4, localPort: 53, pid: 654 }]);
  assert.equal(holderPid(u, 53, 'udp'), 654);
  assert.equal(holderPid(u, 53, 'tcp'), undefined);
  assert.equal(holderPid(parsePortTable(table([udp6Row(5353, 99)]), 'udp', 6), 5353, 'udp'), 99);
  assert.deepEqual(parsePortTable(table([]), 'udp', 6), []);
});

test('two-call pattern: ERROR_INSUFFICIENT_BUFFER gives the size, a grown table is asked again; other errors throw', () => {
  const full = table([tcpRow(2, '0.0.0.0', 80, 1)]);
  let calls = 0;
  const grow = (buf: Buffer, size: number[]) => {
    calls++;
    const need = calls < 3 ? full.length - 1 + calls : full.length; // the table grows once between the calls
    if (buf.length < need || size[0]! < need) { size[0] = need + (calls === 1 ? 0 : 1); return 122; }
    full.copy(buf);
    size[0] = full.length;
    return 0;
  };
  assert.equal(parsePortTable(twoCall('GetExtendedTcpTable', grow), 'tcp', 4)[0]!.localPort, 80);
  assert.ok(calls >= 2);
  assert.throws(() => twoCall('GetExtendedUdpTable', () => 87), /GetExtendedUdpTable failed: Win32 error 87/);
  assert.throws(() => twoCall('GetExtendedTcpTable', (_b, size) => { size[0] = size[0]! + 1; return 122; }), /kept growing/);
});

test('holder text: image path when known, System for pid 4', () => {
  assert.equal(describeHolder(1234, 'C:\\nginx\\nginx.exe'), 'pid 1234 (C:\\nginx\\nginx.exe)');
  assert.equal(describeHolder(4, undefined), 'pid 4 (System)');
  assert.equal(describeHolder(99, undefined), 'pid 99');
});
