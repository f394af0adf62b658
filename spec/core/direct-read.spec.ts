/**
 * The Node internals that reading with `onread` relies on for accepted connections
 * (lib/core/direct-read.ts): if a Node version changes them, this fails rather than the
 * framework silently falling back to the slower 'data' path. It runs on every line of the
 * Node matrix (README, "Supported Node versions"); the fallback itself is proven by
 * spec/core/direct-read-fallback.spec.ts.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { createTlsSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { directRead, readDirectly } from '../../lib/core/direct-read';
import { randomBytes, sha256, withTimeout } from '../helpers/net-helpers';
import { certOf, clientContext, keyOf, loadPki, serverContext } from '../helpers/tls-fixture';

const pki = loadPki();

/** Node's private onread callback field (net.js kBufferCb) of a Node socket: set when it reads with onread. */
function readsWithOnread(sock: object): boolean {
  const sym = Object.getOwnPropertySymbols(sock).find((x) => x.description === 'kBufferCb');
  return sym !== undefined && typeof (sock as Record<symbol, unknown>)[sym] === 'function';
}

describe(`the onread fast path's internals on this Node (${process.version})`, () => {
  it('a Node socket has the kBuffer and kBufferCb symbols, and its handle useUserBuffer: the fast path is taken (where not, readDirectly returns false and the data path serves: direct-read-fallback.spec.ts)', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sock = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      await withTimeout(new Promise((r) => sock.once('connect', r)), 10_000, 'the connect');
      const names = Object.getOwnPropertySymbols(sock).map((x) => x.description);
      const handle = (sock as unknown as { _handle?: { useUserBuffer?: unknown } })._handle;
      expect({ kBuffer: names.includes('kBuffer'), kBufferCb: names.includes('kBufferCb'), useUserBuffer: typeof handle?.useUserBuffer }).toEqual({
        kBuffer: true,
        kBufferCb: true,
        useUserBuffer: 'function',
      });
    } finally {
      sock.destroy();
      server.close();
    }
  });
});

describe('readDirectly', () => {
  it('switches an accepted, still paused connection to onread: every byte reaches the callback, none the stream', async () => {
    const seen: Buffer[] = [];
    let dataEvents = 0;
    let switched: boolean | null = null;
    const ended = new Promise<void>((resolve) => {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (sock) => {
        switched = readDirectly(
          sock,
          directRead((n, buf) => {
            seen.push(Buffer.from(buf.subarray(0, n)));
            return true;
          }),
        );
        sock.on('data', () => dataEvents++);
        sock.on('end', () => {
          sock.end();
          server.close();
          resolve();
        });
        sock.resume();
      });
      server.listen(0, '127.0.0.1', () => {
        const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1', () => {
          client.end(Buffer.alloc(300_000, 7));
        });
      });
    });
    await withTimeout(ended, 10_000, 'the connection to end');
    expect(switched).toBe(true);
    expect(dataEvents).toBe(0);
    const all = Buffer.concat(seen);
    expect(all.length).toBe(300_000);
    expect(all.every((b) => b === 7)).toBe(true);
  });

  it('leaves a socket that already reads alone', () => {
    const sock = new net.Socket();
    expect(
      readDirectly(
        sock,
        directRead(() => true),
      ),
    ).toBe(false); // no handle yet
  });
});

describe('readDirectly on TLS sockets', () => {
  it('switches a server-side TLSSocket after its handshake (it already reads): every decrypted byte reaches the callback, in order, none the stream', async () => {
    const payload = randomBytes(700_000); // many TLS records, across many reads
    const seen: Buffer[] = [];
    let dataEvents = 0;
    let switched: boolean | null = null;
    const server = tls.createServer({ cert: certOf(pki.server), key: keyOf(pki.server), allowHalfOpen: true });
    const ended = new Promise<void>((resolve) => {
      server.on('secureConnection', (sock) => {
        switched = readDirectly(
          sock,
          directRead((n, buf) => {
            seen.push(Buffer.from(buf.subarray(0, n)));
            return true;
          }),
          true,
        );
        sock.on('data', () => dataEvents++);
        sock.on('end', () => {
          sock.end();
          resolve();
        });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', ca: pki.ca, servername: 'localhost' }, () =>
      client.end(payload),
    );
    try {
      await withTimeout(ended, 10_000, 'the TLS connection to end');
    } finally {
      client.destroy();
      server.close();
    }
    expect(switched).toBe(true);
    expect(dataEvents).toBe(0);
    expect(sha256(Buffer.concat(seen))).toBe(sha256(payload));
  });

  it('tls.connect honours onread when it makes the socket itself (what a TLS client of ours relies on)', async () => {
    const payload = randomBytes(300_000);
    const server = tls.createServer({ cert: certOf(pki.server), key: keyOf(pki.server) }, (sock) => sock.end(payload));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const seen: Buffer[] = [];
    let dataEvents = 0;
    const client = tls.connect({
      port: (server.address() as net.AddressInfo).port,
      host: '127.0.0.1',
      ca: pki.ca,
      servername: 'localhost',
      onread: directRead((n, buf) => {
        seen.push(Buffer.from(buf.subarray(0, n)));
        return true;
      }),
    } as tls.ConnectionOptions);
    client.on('data', () => dataEvents++);
    try {
      await withTimeout(new Promise((r) => client.on('end', r)), 10_000, 'the server to end');
    } finally {
      client.destroy();
      server.close();
    }
    expect(dataEvents).toBe(0);
    expect(sha256(Buffer.concat(seen))).toBe(sha256(payload));
  });

  it('the framework reads TLS connections with onread, client and accepted end alike', async () => {
    const provider = createTlsSocketProvider();
    const ends: Record<string, ISocket> = {};
    const reasons: ShutdownReason[] = [];
    let done!: () => void;
    const allEnded = new Promise<void>((r) => (done = r));
    const ended = (s: ISocket, r: ShutdownReason): void => {
      reasons.push(r);
      if (reasons.length === 3) done();
    };
    let ready!: () => void;
    const bothUp = new Promise<void>((r) => (ready = r));
    const up = (name: string, s: ISocket): void => {
      ends[name] = s;
      if (ends.client && ends.accepted) ready();
    };
    class Accepted extends USocket {
      override socketAcceptComplete(s: ISocket): void {
        up('accepted', s);
      }
      socketShutdown(s: ISocket, r: ShutdownReason): void {
        ended(s, r);
      }
    }
    class Listener extends USocket {
      override socketBindResult(s: ISocket, _a: string, port: number): void {
        s.listen();
        client.connect(`127.0.0.1:${port}`, 'localhost');
      }
      override socketListenResult(s: ISocket): void {
        s.accept(new Accepted());
      }
      socketShutdown(s: ISocket, r: ShutdownReason): void {
        ended(s, r);
      }
    }
    class Client extends USocket {
      override socketConnectComplete(s: ISocket): void {
        up('client', s);
      }
      socketShutdown(s: ISocket, r: ShutdownReason): void {
        ended(s, r);
      }
    }
    const listener = provider.createSocket(new Listener(), { context: serverContext(pki) });
    const client = provider.createSocket(new Client(), { context: clientContext(pki) });
    listener.bind('127.0.0.1', 0);
    await withTimeout(bothUp, 10_000, 'both ends to come up');
    const nodeOf = (s: ISocket): object => (s as unknown as { node: object }).node;
    // Read before closing, asserted after: a failure must not leave the sockets open.
    const direct = [readsWithOnread(nodeOf(ends.client)), readsWithOnread(nodeOf(ends.accepted))];
    ends.client.shutdown();
    ends.accepted.shutdown();
    listener.shutdown();
    await withTimeout(allEnded, 10_000, 'all three to end');
    expect(direct).toEqual([true, true]);
    expect(reasons).toEqual([ShutdownReason.Normal, ShutdownReason.Normal, ShutdownReason.Normal]);
  });
});
