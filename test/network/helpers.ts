// Shared by the network and scratch tests: a private emulator, free loopback ports, TCP/UDP probes.
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type EmulatorProcess } from '../../src/emulator/launcher.ts';
import { emulatorLibraryPath, ensureEmulatorLibrary } from '../../src/emulator/native/build.mjs';

/** Starts a private emulator and points the emulator libraries of this process at it. */
export async function privateEmulator(): Promise<EmulatorProcess & { dir: string }> {
  ensureEmulatorLibrary();
  const dir = mkdtempSync(join(tmpdir(), 'hcsr-net-'));
  const emu = await startEmulator({ socketPath: join(dir, 'service.sock') });
  process.env.HCS_EMULATOR_SOCKET = emu.socketPath; // read by the C libraries at every connect
  const stop = emu.stop.bind(emu);
  // Stopping also removes the folder (its socket and whatever a test put there).
  return Object.assign(emu, { dir, stop: async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  } });
}

export const hcnLibrary = () => emulatorLibraryPath('libcomputenetwork.so');
export const vmcomputeLibrary = () => emulatorLibraryPath('libvmcompute.so');

/** A loopback TCP port that was free a moment ago (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Connects to 127.0.0.1:port and returns everything read until close; 'refused' if nobody listens. */
export function probeTcp(port: number): Promise<string | 'refused'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect({ host: '127.0.0.1', port });
    s.on('data', (c) => chunks.push(c));
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? 'refused' : Buffer.concat(chunks).toString()));
    s.on('close', () => resolve(Buffer.concat(chunks).toString()));
  });
}

/** Sends one datagram to 127.0.0.1:port and resolves with the first answer. */
export function probeUdp(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.on('message', (m) => { s.close(); resolve(m.toString()); });
    s.send('ping', port, '127.0.0.1');
  });
}
