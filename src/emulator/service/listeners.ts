/**
 * Published ports as real loopback sockets: what WinNAT does for a PortMapping policy ([MSDOCS]
 * container-networking/architecture.md), reduced to a probe. A TCP connection to 127.0.0.1:<host port>
 * gets one line `hcs-emulator <system id> <container port>` and is closed; a UDP datagram is answered
 * with the same line. With no running system behind the port a TCP connection is closed at once and a
 * datagram is not answered (a container that is not listening).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';

/** One published host port. */
export interface PortKey { protocol: 'tcp' | 'udp'; port: number }
const keyOf = (k: PortKey) => `${k.port}/${k.protocol}`;

/** The open listeners of one service. */
export class PortListeners {
  private readonly open_ = new Map<string, { close(): Promise<void> }>();

  /** @param answer the line for a probe of that port, or undefined (nobody behind it) */
  constructor(private readonly answer: (key: PortKey) => string | undefined) {}

  /** Binds the port; resolves to an error text (e.g. EADDRINUSE) when it cannot. */
  open(key: PortKey): Promise<string | undefined> {
    if (this.open_.has(keyOf(key))) return Promise.resolve('EADDRINUSE (already published)');
    return key.protocol === 'tcp' ? this.openTcp(key) : this.openUdp(key);
  }

  private openTcp(key: PortKey): Promise<string | undefined> {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
      const line = this.answer(key);
      if (line) s.end(line);
      else s.destroy();
    });
    return new Promise((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      server.listen({ host: '127.0.0.1', port: key.port, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', () => {});
        this.open_.set(keyOf(key), {
          close: () => new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
        });
        resolve(undefined);
      });
    });
  }

  private openUdp(key: PortKey): Promise<string | undefined> {
    const sock: UdpSocket = createSocket({ type: 'udp4', reuseAddr: false });
    sock.on('message', (_msg, rinfo) => {
      const line = this.answer(key);
      if (line) sock.send(line, rinfo.port, rinfo.address);
    });
    return new Promise((resolve) => {
      sock.once('error', (err: NodeJS.ErrnoException) => { sock.close(); resolve(err.code ?? err.message); });
      sock.bind({ address: '127.0.0.1', port: key.port, exclusive: true }, () => {
        sock.removeAllListeners('error');
        sock.on('error', () => {});
        this.open_.set(keyOf(key), { close: () => new Promise<void>((done) => sock.close(() => done())) });
        resolve(undefined);
      });
    });
  }

  /** Closes one listener (no-op if it is not open). */
  async close(key: PortKey): Promise<void> {
    const l = this.open_.get(keyOf(key));
    if (!l) return;
    this.open_.delete(keyOf(key));
    await l.close();
  }

  /** Closes every listener. */
  async closeAll(): Promise<void> {
    const all = [...this.open_.values()];
    this.open_.clear();
    await Promise.all(all.map((l) => l.close()));
  }

  /** "8080/tcp" for each open listener. */
  keys(): string[] {
    return [...this.open_.keys()];
  }
}
