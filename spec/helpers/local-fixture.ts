/**
 * The local-socket fixture: a fresh socket path under os.tmpdir() per bind (a named pipe on
 * Windows), raw peers made with Node's own `net` on paths, and cleanup that closes the raw
 * peers and removes whatever files the test's paths left behind.
 *
 * `makeLocalFixture()` returns the `StreamFixture` for `runStreamConformance` plus `path()`,
 * which makes (and registers for cleanup) one more unique address.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { createLocalSocketProvider } from '../../lib';
import { tempPath, withTimeout } from './net-helpers';
import { RawListener, StreamFixture } from './stream-harness';

export interface LocalFixture extends StreamFixture {
  /** A new unique local address (a path under os.tmpdir(), or a pipe on Windows), removed in cleanup. */
  path(prefix?: string): string;
  /** Registers a file or directory the test made, removed in cleanup. */
  removeLater(p: string): void;
  /** A raw `net` server listening on a fresh path; every connection is handled by `onConnection`. */
  rawPathServer(onConnection?: (sock: net.Socket) => void, at?: string): Promise<{ server: net.Server; address: string; connections: net.Socket[] }>;
  /** A raw `net` client connected to `address` (resolves once connected). */
  rawPathConnect(address: string): Promise<net.Socket>;
}

export function makeLocalFixture(): LocalFixture {
  const paths = new Set<string>();
  const servers = new Set<net.Server>();
  const sockets = new Set<net.Socket>();

  const fresh = (prefix = 'sp-local'): string => {
    const p = process.platform === 'win32' ? `\\\\.\\pipe\\${path.basename(tempPath(prefix))}` : tempPath(prefix);
    paths.add(p);
    return p;
  };

  const trackSocket = (sock: net.Socket): net.Socket => {
    sockets.add(sock);
    sock.on('error', () => undefined); // asserted through the data, not through errors
    sock.on('close', () => sockets.delete(sock));
    return sock;
  };

  const rawPathConnect = async (address: string): Promise<net.Socket> => {
    const sock = trackSocket(net.connect({ path: address, allowHalfOpen: true }));
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        sock.once('connect', () => resolve());
        sock.once('error', reject);
      }),
      10000,
      `a raw connect to ${JSON.stringify(address)}`,
    );
    return sock;
  };

  const rawPathServer = async (
    onConnection: (sock: net.Socket) => void = () => undefined,
    at?: string,
  ): Promise<{ server: net.Server; address: string; connections: net.Socket[] }> => {
    const address = at ?? fresh('sp-raw');
    paths.add(address);
    const connections: net.Socket[] = [];
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      trackSocket(sock);
      connections.push(sock);
      onConnection(sock);
    });
    servers.add(server);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(address, () => resolve());
      }),
      10000,
      `a raw server to listen on ${JSON.stringify(address)}`,
    );
    return { server, address, connections };
  };

  const closeServer = async (server: net.Server): Promise<void> => {
    if (!servers.delete(server) || !server.listening) return;
    await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 10000, 'a raw local server to close');
  };

  return {
    provider: () => createLocalSocketProvider(),
    serverOptions: () => ({}),
    clientOptions: () => ({}),
    bindArgs: () => [fresh(), 0],
    connectAddress: (addr) => addr,
    addressing: 'path',
    rawConnect: (address) => rawPathConnect(address),
    rawServer: async (): Promise<RawListener> => {
      const srv = await rawPathServer();
      return {
        address: srv.address,
        connection: (n = 0, ms = 10000) =>
          withTimeout(
            new Promise<net.Socket>((resolve) => {
              const check = (): void => {
                if (srv.connections[n]) {
                  srv.server.off('connection', onConn);
                  resolve(srv.connections[n]);
                }
              };
              // 'connection' listeners run in order: ours after the one that records it.
              const onConn = (): void => check();
              srv.server.on('connection', onConn);
              check();
            }),
            ms,
            `raw local connection #${n}`,
          ),
        close: async () => {
          for (const c of srv.connections) c.destroy();
          await closeServer(srv.server);
        },
      };
    },
    path: fresh,
    removeLater: (p) => {
      paths.add(p);
    },
    rawPathServer,
    rawPathConnect,
    cleanup: async () => {
      for (const s of [...sockets]) s.destroy();
      sockets.clear();
      for (const server of [...servers]) await closeServer(server);
      if (process.platform !== 'win32') {
        for (const p of paths) if (p[0] !== '\0') fs.rmSync(p, { force: true, recursive: true });
      }
      paths.clear();
    },
  };
}
