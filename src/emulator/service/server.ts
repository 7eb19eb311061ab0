/**
 * The emulated compute service: a Unix socket server that owns the SystemStore, accepts library
 * and control connections, and implements the service-wide control actions (restart, reset, ...).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decodeHello, decodeStdioAttach, FrameDecoder, FrameType, PROTOCOL_VERSION, ProtocolError, Role, type RawFrame } from '../protocol.ts';
import { CallLog } from './calllog.ts';
import { runControl } from './commands.ts';
import { Connection, ControlConnection, LibraryConnection, type ServiceCore } from './connection.ts';
import { FaultTable } from './faults.ts';
import { HOST_ROLE, HostConnection, HostServices } from './host.ts';
import { Persister } from './persist.ts';
import { SystemStore } from './state.ts';

/** Options of one service instance. */
export interface ServiceOptions {
  socketPath: string;
  /** Enables persistence to `stateDir/state.json`. */
  stateDir?: string;
  /** One stderr line per call (HCSEMU_LOG=1). */
  verbose?: boolean;
  /** Where log lines go (default stderr). */
  log?: (line: string) => void;
}

/** One running emulated compute service. */
export class EmulatorService implements ServiceCore {
  readonly store: SystemStore;
  readonly faults = new FaultTable();
  readonly callLog = new CallLog();
  readonly startedAt = performance.now();
  readonly verbose: boolean;
  readonly connections = new Set<Connection>();
  /** HNS objects and mounted scratch volumes (host.ts). */
  readonly host = new HostServices(() => this.store);
  private readonly server: Server;
  private readonly persister?: Persister;
  /** Sockets the service is dropping on purpose (restart/stop): not a client going away. */
  private readonly droppedByService = new WeakSet<Socket>();
  /** Called when a control client asks the service to exit. */
  onShutdownRequest: () => void = () => {};

  constructor(readonly options: ServiceOptions) {
    this.verbose = options.verbose ?? false;
    this.persister = options.stateDir ? new Persister(options.stateDir, (l) => this.log(l)) : undefined;
    this.store = new SystemStore(() => this.persister?.schedule());
    if (this.persister) {
      const n = this.persister.load(this.store);
      if (n > 0) this.log(`restored ${n} compute system(s) from ${options.stateDir}`);
      this.persister.attach(this.store);
    }
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Writes one log line to stderr (or the configured sink). */
  log(line: string): void {
    (this.options.log ?? ((l: string) => process.stderr.write(`[hcs-emulator] ${l}\n`)))(line);
  }

  /** Starts listening on the socket path (the caller cleaned up stale sockets). */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.socketPath, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops accepting, drops every connection, releases hung calls and saves state. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.dropConnections(() => true);
    this.faults.clear();
    this.persister?.flush();
    await this.host.clear();
    await closed;
  }

  /** Runs a control command (see commands.ts). */
  control(cmd: string, args: Record<string, unknown>, from: Connection): Promise<Record<string, unknown>> {
    return runControl(this, cmd, args, from);
  }

  /**
   * Restarts the service in place: every library connection is dropped (libraries see a disconnect)
   * and all handles become invalid; with keepSystems=false every system is gone too.
   */
  restart(keepSystems: boolean): void {
    this.dropConnections((c) => c instanceof LibraryConnection);
    if (!keepSystems) this.store.clear();
  }

  /** Clears systems, faults, latencies, the call log and every connection's handles (for tests). */
  reset(): void {
    for (const conn of this.connections) if (conn instanceof LibraryConnection) conn.forgetHandles();
    this.store.clear();
    this.faults.clear();
    this.callLog.clear();
    void this.host.clear();
  }

  /**
   * An emulated Windows reboot: every compute system, mounted scratch volume, HNS endpoint and
   * namespace and NAT network is gone; files on disk stay (provisioning.md 0.5 and 1.3).
   */
  async reboot(): Promise<void> {
    this.restart(false);
    this.dropConnections((c) => c instanceof HostConnection);
    await this.host.reboot();
  }

  private dropConnections(which: (c: Connection) => boolean): void {
    for (const conn of this.connections) {
      if (!which(conn)) continue;
      this.droppedByService.add(conn.socket);
      // Control clients get a graceful end so a pending CONTROL_RESPONSE (e.g. to `shutdown`) is flushed.
      if (conn instanceof ControlConnection) conn.socket.end();
      else conn.socket.destroy();
      // 'close' arrives later; invalidate the handles now so nothing can race in on them. A dropped
      // handle is not a client closing its last handle, so no ShouldTerminateOnLastHandleClosed.
      conn.onClose(true);
      this.connections.delete(conn);
    }
  }

  private accept(socket: Socket): void {
    const decoder = new FrameDecoder();
    let conn: Connection | undefined;
    let stdio: 'hello' | 'attach' | undefined;
    const onData = (chunk: Buffer): void => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (stdio === 'attach') {
            // From here on the socket is the stream's raw bytes (stdio.ts).
            socket.off('data', onData);
            this.attachStdio(socket, frame, decoder.takeRest());
            return;
          }
          if (conn) conn.onFrame(frame);
          else if (frame.type === FrameType.Hello && isStdioHello(frame)) stdio = 'attach';
          else conn = this.hello(socket, frame);
        }
      } catch (err) {
        // Malformed input costs the sender its connection, never the service.
        const what = err instanceof ProtocolError ? err.message : ((err as Error).stack ?? String(err));
        this.log(`dropping connection (pid ${conn?.pid ?? '?'}): ${what}`);
        socket.destroy();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => {});
    socket.on('close', () => {
      if (!conn) return;
      this.connections.delete(conn);
      if (conn.open) conn.onClose(this.droppedByService.has(socket));
    });
  }

  /** STDIO_ATTACH: a known token's stream gets this socket and the acknowledgement byte; else it is closed. */
  private attachStdio(socket: Socket, frame: RawFrame, rest: Buffer): void {
    if (frame.type !== FrameType.StdioAttach) throw new ProtocolError(`stdio connection sent frame type ${frame.type}`);
    const { token, stream } = decodeStdioAttach(frame.body);
    // The acknowledgement goes out first: the stream's bytes follow it on the same socket.
    if (!this.store.stdio.attach(token, stream, socket, rest, () => socket.write(Buffer.from([1])))) {
      this.log(`stdio attach refused (stream ${stream}: unknown token, stream not made, or attached twice)`);
      socket.destroy();
    }
  }

  private hello(socket: Socket, frame: RawFrame): Connection {
    if (frame.type !== FrameType.Hello) throw new ProtocolError(`first frame must be HELLO, got type ${frame.type}`);
    const hello = decodeHello(frame.body);
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      throw new ProtocolError(`unsupported protocol version ${hello.protocolVersion}`);
    }
    let conn: Connection;
    if (hello.role === Role.Library) conn = new LibraryConnection(socket, hello.pid, this);
    else if (hello.role === Role.Vmcompute) conn = new LibraryConnection(socket, hello.pid, this, 'vmcompute');
    else if (hello.role === Role.Control) conn = new ControlConnection(socket, hello.pid, this);
    else if (hello.role === HOST_ROLE) conn = new HostConnection(socket, hello.pid, this, this.host);
    else throw new ProtocolError(`unknown role ${hello.role}`);
    this.connections.add(conn);
    return conn;
  }
}

/** A HELLO of role 3 (a process stdio stream; PROTOCOL.md "Process stdio"). */
function isStdioHello(frame: RawFrame): boolean {
  const hello = decodeHello(frame.body);
  if (hello.protocolVersion !== PROTOCOL_VERSION) throw new ProtocolError(`unsupported protocol version ${hello.protocolVersion}`);
  return hello.role === Role.Stdio;
}
