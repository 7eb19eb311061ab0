/**
 * Who holds a host port on Windows, for the "host port already in use" error (issue 15): the TCP and
 * UDP tables of iphlpapi.dll with the owning process id, and that process's image name from kernel32.
 * One wrapper per export:
 * - `DWORD GetExtendedTcpTable(PVOID pTcpTable, PDWORD pdwSize, BOOL bOrder, ULONG ulAf, TCP_TABLE_CLASS TableClass, ULONG Reserved)`
 *   with TCP_TABLE_OWNER_PID_ALL (5) ([MSDOCS] iphlpapi/nf-iphlpapi-getextendedtcptable, tcpmib TCP_TABLE_CLASS);
 * - `DWORD GetExtendedUdpTable(PVOID pUdpTable, PDWORD pdwSize, BOOL bOrder, ULONG ulAf, UDP_TABLE_CLASS TableClass, ULONG Reserved)`
 *   with UDP_TABLE_OWNER_PID (1) ([MSDOCS] iphlpapi/nf-iphlpapi-getextendedudptable);
 * - `HANDLE OpenProcess(DWORD dwDesiredAccess, BOOL bInheritHandle, DWORD dwProcessId)` with
 *   PROCESS_QUERY_LIMITED_INFORMATION (0x1000), `BOOL QueryFullProcessImageNameW(HANDLE, DWORD dwFlags,
 *   LPWSTR lpExeName, PDWORD lpdwSize)` and `BOOL CloseHandle(HANDLE)` ([MSDOCS] processthreadsapi.h).
 *
 * Both table calls are the two-call pattern: a first call with a too-small buffer returns
 * ERROR_INSUFFICIENT_BUFFER (122) and the size needed in *pdwSize. The tables are parsed from the
 * returned bytes by the pure functions below (tested on Linux with buffers laid out per the documented
 * structs), never through koffi struct decoding, so the layout is stated once, here:
 * - MIB_TCPTABLE_OWNER_PID = { DWORD dwNumEntries; MIB_TCPROW_OWNER_PID table[] }, a row being
 *   { dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid } (6 DWORDs, 24 bytes;
 *   [MSDOCS] tcpmib/ns-tcpmib-mib_tcprow_owner_pid). dwState MIB_TCP_STATE_LISTEN = 2.
 * - MIB_TCP6ROW_OWNER_PID = { UCHAR ucLocalAddr[16]; DWORD dwLocalScopeId, dwLocalPort; UCHAR ucRemoteAddr[16];
 *   DWORD dwRemoteScopeId, dwRemotePort, dwState, dwOwningPid } (56 bytes; tcpmib/ns-tcpmib-mib_tcp6row_owner_pid).
 * - MIB_UDPROW_OWNER_PID = { dwLocalAddr, dwLocalPort, dwOwningPid } (12 bytes; udpmib/ns-udpmib-mib_udprow_owner_pid);
 *   MIB_UDP6ROW_OWNER_PID = { UCHAR ucLocalAddr[16]; DWORD dwLocalScopeId, dwLocalPort, dwOwningPid } (28 bytes).
 * - Ports are "in network byte order" in the low 16 bits of the DWORD (the high bits are not part of it).
 * All members are DWORD-aligned, so the rows follow dwNumEntries without padding.
 */
import koffi from 'koffi';
import { system32Path } from './ffi.ts';

/** Address families (ws2def.h). */
export const AF_INET = 2;
export const AF_INET6 = 23;
/** TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_ALL and UDP_TABLE_CLASS.UDP_TABLE_OWNER_PID. */
export const TCP_TABLE_OWNER_PID_ALL = 5;
export const UDP_TABLE_OWNER_PID = 1;
/** MIB_TCP_STATE_LISTEN. */
export const MIB_TCP_STATE_LISTEN = 2;
const NO_ERROR = 0;
const ERROR_INSUFFICIENT_BUFFER = 122;
const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;

/** One row of a table: the local port and the owning process (TCP rows have a state). */
export interface PortRow {
  protocol: 'tcp' | 'udp';
  family: 4 | 6;
  localPort: number;
  pid: number;
  /** MIB_TCP_STATE (TCP only). */
  state?: number;
}

/** Row sizes by protocol and family (see the layout above). */
const ROW = { tcp: { 4: 24, 6: 56 }, udp: { 4: 12, 6: 28 } } as const;
/** Byte offsets inside a row: [localPort, pid, state?]. */
const FIELDS = {
  tcp: { 4: { port: 8, pid: 20, state: 0 }, 6: { port: 20, pid: 52, state: 48 } },
  udp: { 4: { port: 4, pid: 8 }, 6: { port: 20, pid: 24 } },
} as const;

/** A port DWORD as the tables hold it: network byte order in its two lowest-addressed bytes. */
const portAt = (b: Buffer, at: number) => b.readUInt16BE(at);

/** Parses a MIB_{TCP,TCP6,UDP,UDP6}TABLE_OWNER_PID buffer. Pure; throws on a truncated table. */
export function parsePortTable(buf: Buffer, protocol: 'tcp' | 'udp', family: 4 | 6): PortRow[] {
  if (buf.length < 4) throw new Error(`${protocol}${family === 6 ? '6' : ''} table: ${buf.length} bytes, no dwNumEntries`);
  const n = buf.readUInt32LE(0);
  const size = ROW[protocol][family];
  if (4 + n * size > buf.length) throw new Error(`${protocol}${family === 6 ? '6' : ''} table: ${n} rows of ${size} bytes do not fit in ${buf.length} bytes`);
  const f = FIELDS[protocol][family] as { port: number; pid: number; state?: number };
  const rows: PortRow[] = [];
  for (let i = 0; i < n; i++) {
    const at = 4 + i * size;
    rows.push({ protocol, family, localPort: portAt(buf, at + f.port), pid: buf.readUInt32LE(at + f.pid), ...(f.state !== undefined ? { state: buf.readUInt32LE(at + f.state) } : {}) });
  }
  return rows;
}

/** The pid holding `port`: a TCP listener (any address), or any UDP socket bound to it. */
export function holderPid(rows: readonly PortRow[], port: number, protocol: 'tcp' | 'udp'): number | undefined {
  return rows.find((r) => r.protocol === protocol && r.localPort === port && (protocol === 'udp' || r.state === MIB_TCP_STATE_LISTEN))?.pid;
}

type TableFn = (buf: Buffer, size: number[], order: number, af: number, cls: number, reserved: number) => number;

/** iphlpapi.dll and kernel32.dll, loaded on first use (Windows only). */
export class PortTableNative {
  private readonly tcpFn: TableFn;
  private readonly udpFn: TableFn;
  private readonly openProcessFn: (access: number, inherit: number, pid: number) => unknown;
  private readonly imageNameFn: (h: unknown, flags: number, name: Buffer, size: number[]) => number;
  private readonly closeHandleFn: (h: unknown) => number;

  constructor(opts: { iphlpapi?: string; kernel32?: string } = {}) {
    const ip = koffi.load(opts.iphlpapi ?? system32Path('iphlpapi.dll'));
    const k32 = koffi.load(opts.kernel32 ?? system32Path('kernel32.dll'));
    this.tcpFn = ip.func('uint32_t __stdcall GetExtendedTcpTable(void *pTcpTable, _Inout_ uint32_t *pdwSize, int bOrder, uint32_t ulAf, int TableClass, uint32_t Reserved)') as TableFn;
    this.udpFn = ip.func('uint32_t __stdcall GetExtendedUdpTable(void *pUdpTable, _Inout_ uint32_t *pdwSize, int bOrder, uint32_t ulAf, int TableClass, uint32_t Reserved)') as TableFn;
    this.openProcessFn = k32.func('void * __stdcall OpenProcess(uint32_t dwDesiredAccess, int bInheritHandle, uint32_t dwProcessId)') as typeof this.openProcessFn;
    this.imageNameFn = k32.func('int __stdcall QueryFullProcessImageNameW(void *hProcess, uint32_t dwFlags, void *lpExeName, _Inout_ uint32_t *lpdwSize)') as typeof this.imageNameFn;
    this.closeHandleFn = k32.func('int __stdcall CloseHandle(void *hObject)') as typeof this.closeHandleFn;
  }

  /** GetExtendedTcpTable(TCP_TABLE_OWNER_PID_ALL) for one family, as raw bytes. */
  getExtendedTcpTable(family: 4 | 6): Buffer {
    return twoCall('GetExtendedTcpTable', (buf, size) => this.tcpFn(buf, size, 0, family === 4 ? AF_INET : AF_INET6, TCP_TABLE_OWNER_PID_ALL, 0));
  }

  /** GetExtendedUdpTable(UDP_TABLE_OWNER_PID) for one family, as raw bytes. */
  getExtendedUdpTable(family: 4 | 6): Buffer {
    return twoCall('GetExtendedUdpTable', (buf, size) => this.udpFn(buf, size, 0, family === 4 ? AF_INET : AF_INET6, UDP_TABLE_OWNER_PID, 0));
  }

  /** OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION); null when it fails (access denied, gone). */
  openProcess(pid: number): unknown {
    return this.openProcessFn(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) ?? null;
  }

  /** QueryFullProcessImageNameW (Win32 path form), or undefined when it fails. */
  queryFullProcessImageName(h: unknown): string | undefined {
    const size = [32768]; // characters, the longest extended-length path
    const buf = Buffer.alloc(size[0]! * 2);
    if (this.imageNameFn(h, 0, buf, size) === 0) return undefined;
    return buf.toString('utf16le', 0, size[0]! * 2);
  }

  closeHandle(h: unknown): void {
    this.closeHandleFn(h);
  }

  /** The image path of a process, or undefined (not allowed, or exited). */
  imageName(pid: number): string | undefined {
    const h = this.openProcess(pid);
    if (!h) return undefined;
    try {
      return this.queryFullProcessImageName(h);
    } finally {
      this.closeHandle(h);
    }
  }

  /** `pid 1234 (C:\...\nginx.exe)` of the process holding the port, or undefined. */
  findPortHolder(port: number, protocol: 'tcp' | 'udp'): string | undefined {
    for (const family of [4, 6] as const) {
      const raw = protocol === 'tcp' ? this.getExtendedTcpTable(family) : this.getExtendedUdpTable(family);
      const pid = holderPid(parsePortTable(raw, protocol, family), port, protocol);
      if (pid !== undefined) return describeHolder(pid, pid === 0 || pid === 4 ? undefined : this.imageName(pid));
    }
    return undefined;
  }
}

/** How a holder reads in the error: pid 4 is the System process (http.sys / kernel listeners). */
export function describeHolder(pid: number, image: string | undefined): string {
  if (pid === 4 && !image) return 'pid 4 (System)';
  return image ? `pid ${pid} (${image})` : `pid ${pid}`;
}

/**
 * The two-call pattern: a call with a too-small buffer returns ERROR_INSUFFICIENT_BUFFER and the size
 * needed in *pdwSize; then the call with that size fills it (again, bigger, if the table grew in
 * between). Exported for its test.
 */
export function twoCall(name: string, call: (buf: Buffer, size: number[]) => number): Buffer {
  const size = [0];
  for (let attempt = 0; attempt < 5; attempt++) {
    const buf = Buffer.alloc(Math.max(size[0]!, 4));
    if (size[0]! < 4) size[0] = buf.length;
    const rc = call(buf, size);
    if (rc === NO_ERROR) return buf;
    if (rc !== ERROR_INSUFFICIENT_BUFFER) throw new Error(`${name} failed: Win32 error ${rc}`);
  }
  throw new Error(`${name} failed: the table kept growing`);
}
