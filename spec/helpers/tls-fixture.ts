/**
 * The TLS fixture shared by the TLS specs: loopback IPv4, port 0, a test PKI made at run
 * time (scripts/certs.ts), raw peers made with Node's own `tls`.
 *
 * - `loadPki()` registers a `beforeAll` (in the describe block it is called from, or the file)
 *   that makes the PKI once per test file, and returns a `TestPki` whose fields can be read
 *   inside tests and hooks (reading them earlier throws).
 * - `makeTlsFixture(pki)` returns the `StreamFixture` for `runStreamConformance`: the server
 *   context carries `pki.server`, the client context trusts `pki.ca`. The two contexts are made
 *   on first use and shared by every socket of the fixture: do not change them in a test (make
 *   your own with `serverContext(pki)` / `clientContext(pki)`).
 */
import type { Duplex } from 'node:stream';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { createTlsSocketProvider, ISocketContext, ShutdownReason } from '../../lib';
import { makeTestPki, TestPki } from '../../scripts/certs';
import { withTimeout } from './net-helpers';
import { RawListener, StreamFixture } from './stream-harness';

export type { TestPki } from '../../scripts/certs';

let pkiPromise: Promise<TestPki> | null = null;

/** The PKI of this test file (jest gives every file its own module registry), made once. */
function filePki(): Promise<TestPki> {
  pkiPromise ??= makeTestPki();
  return pkiPromise;
}

/**
 * Registers a `beforeAll` that makes the PKI (once per test file) and returns it as a
 * `TestPki` whose fields are readable from then on (inside tests, `beforeEach`, fixtures).
 */
export function loadPki(): TestPki {
  let value: TestPki | null = null;
  beforeAll(async () => {
    value = await withTimeout(filePki(), 20000, 'the test PKI (makeTestPki)');
  }, 30000);
  const get = (key: keyof TestPki): string => {
    if (!value) throw new Error(`loadPki(): pki.${key} read before the beforeAll made the PKI (read it inside a test or hook)`);
    return value[key];
  };
  return {
    get ca() {
      return get('ca');
    },
    get server() {
      return get('server');
    },
    get other() {
      return get('other');
    },
    get client() {
      return get('client');
    },
    get rogue() {
      return get('rogue');
    },
  };
}

/** The certificate part of a "certificate + key" PEM (for Node options and X509Certificate). */
export function certOf(pem: string): string {
  const m = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!m) throw new Error('certOf: no certificate in the PEM text');
  return m.join('\n');
}

/** The private-key part of a "certificate + key" PEM. */
export function keyOf(pem: string): string {
  const m = pem.match(/-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/);
  if (!m) throw new Error('keyOf: no private key in the PEM text');
  return m[0];
}

/** A new context (from the TLS provider) with `pem` as the default server certificate. */
export function serverContext(pki: TestPki, pem: string = pki.server): ISocketContext {
  const ctx = createTlsSocketProvider().createSocketContext();
  ctx.setServerCertificate(pem);
  return ctx;
}

/** A new client context trusting the test CA only (no certificate of its own). */
export function clientContext(pki: TestPki): ISocketContext {
  const ctx = createTlsSocketProvider().createSocketContext();
  ctx.setCertificateAuthority(pki.ca);
  return ctx;
}

function splitHostPort(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i).replace(/^\[|\]$/g, ''), Number(address.slice(i + 1))];
}

// ---- raw Node TLS peers, tracked for cleanup -----------------------------------------------

const rawTlsSockets = new Set<Duplex>();
const rawTlsServers = new Set<tls.Server>();

function trackRaw<T extends Duplex>(sock: T): T {
  rawTlsSockets.add(sock);
  sock.on('error', () => undefined); // asserted through StreamCollector / the framework side
  sock.on('close', () => rawTlsSockets.delete(sock));
  return sock;
}

/**
 * A plain Node TLS client connected to `host:port` (resolves after `secureConnect`). By
 * default it trusts the test CA and verifies the name `localhost`.
 */
export async function rawTlsConnect(pki: TestPki, port: number, host = '127.0.0.1', extra: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const sock = trackRaw(
    tls.connect({ host, port, ca: pki.ca, servername: 'localhost', allowHalfOpen: true, ...extra } as tls.ConnectionOptions & { allowHalfOpen: boolean }),
  );
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', () => resolve());
      sock.once('error', reject);
      sock.once('close', () => reject(new Error('closed before secureConnect')));
    }),
    10000,
    `a raw TLS connect to ${host}:${port}`,
  );
  return sock;
}

/** A plain Node TLS client that does not wait for the handshake (for handshakes that should fail). */
export function rawTlsConnectNoWait(port: number, host = '127.0.0.1', options: tls.ConnectionOptions = {}): tls.TLSSocket {
  return trackRaw(tls.connect({ host, port, ...options }));
}

export interface RawTlsServer {
  server: tls.Server;
  port: number;
  /** Secured connections, in order. */
  connections: tls.TLSSocket[];
  /** The n-th secured connection (0-based), waiting for it (bounded). */
  connection(n?: number, ms?: number): Promise<tls.TLSSocket>;
  close(): Promise<void>;
}

/** A plain Node TLS server on host:0 (default: pki.server, half-open allowed). */
export async function rawTlsServer(
  pki: TestPki,
  options: tls.TlsOptions = {},
  onSecure: (sock: tls.TLSSocket) => void = () => undefined,
  host = '127.0.0.1',
): Promise<RawTlsServer> {
  const connections: tls.TLSSocket[] = [];
  const waits = new Set<() => void>();
  const server = tls.createServer({ cert: certOf(pki.server), key: keyOf(pki.server), allowHalfOpen: true, ...options }, (sock) => {
    trackRaw(sock);
    connections.push(sock);
    onSecure(sock);
    for (const w of [...waits]) w();
  });
  server.on('tlsClientError', () => undefined);
  server.on('connection', (raw: net.Socket) => {
    rawTlsSockets.add(raw);
    raw.on('close', () => rawTlsSockets.delete(raw));
  });
  rawTlsServers.add(server);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    }),
    10000,
    'a raw TLS server to listen',
  );
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    port,
    connections,
    connection(n = 0, ms = 10000) {
      if (connections[n]) return Promise.resolve(connections[n]);
      let w: () => void = () => undefined;
      const p = new Promise<tls.TLSSocket>((resolve) => {
        w = () => {
          if (connections[n]) resolve(connections[n]);
        };
        waits.add(w);
      });
      return withTimeout(p, ms, `raw TLS connection #${n}`).finally(() => waits.delete(w));
    },
    close: () => closeRawTlsServer(server),
  };
}

async function closeRawTlsServer(server: tls.Server): Promise<void> {
  if (!rawTlsServers.delete(server)) return;
  if (!server.listening) return;
  await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 10000, 'a raw TLS server to close');
}

/** Destroys every raw TLS socket and closes every raw TLS server made by these helpers. */
export async function closeAllRawTls(): Promise<void> {
  for (const s of [...rawTlsSockets]) s.destroy();
  rawTlsSockets.clear();
  for (const server of [...rawTlsServers]) await closeRawTlsServer(server);
}

// ---- the fixture -----------------------------------------------------------------------------

/**
 * The TLS StreamFixture. Server sockets: a context with `pki.server`; clients: a context
 * trusting `pki.ca` (verification on, the name checked is the host as written: 127.0.0.1,
 * an IP SAN of the server certificate). Raw peers are Node `tls` clients/servers using the
 * same PKI.
 */
export function makeTlsFixture(pki: TestPki): StreamFixture {
  let serverCtx: ISocketContext | null = null;
  let clientCtx: ISocketContext | null = null;
  return {
    provider: () => createTlsSocketProvider(),
    serverOptions: () => {
      serverCtx ??= serverContext(pki);
      return { context: serverCtx };
    },
    clientOptions: () => {
      if (!clientCtx) {
        clientCtx = clientContext(pki);
        // Also a server certificate (unused by clients), so that a socket made with client
        // options can still bind: the suite's state tests bind such sockets and expect the
        // state errors of TCP, not ERR_TLS_NO_SERVER_CERTIFICATE.
        clientCtx.setServerCertificate(pki.server);
      }
      return { context: clientCtx };
    },
    bindArgs: () => ['127.0.0.1', 0],
    connectAddress: (addr, port) => (addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`),
    rawConnect: async (address) => {
      const [host, port] = splitHostPort(address);
      return rawTlsConnect(pki, port, host);
    },
    rawServer: async (): Promise<RawListener> => {
      const srv = await rawTlsServer(pki);
      return {
        address: `127.0.0.1:${srv.port}`,
        connection: (n, ms) => srv.connection(n, ms),
        close: async () => {
          for (const c of srv.connections) c.destroy();
          await srv.close();
        },
      };
    },
    // A connection denied before its handshake is closed under the client's handshake.
    deniedReasons: [ShutdownReason.TlsHandshakeFailed],
    addressing: 'ip',
    exactByteCounts: true,
    cleanup: () => closeAllRawTls(),
  };
}
