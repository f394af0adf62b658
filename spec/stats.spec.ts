/**
 * Connection statistics (issue #8): `socket.stats()` — bytes and messages in and out, queued
 * send bytes, read-ahead bytes, dropped datagrams, connect/handshake durations, the last
 * error code — and a listening socket's totals.
 */
import * as dgram from 'node:dgram';
import type { Socket } from 'node:net';
import * as tls from 'node:tls';
import { createTcpSocketProvider, createTlsSocketProvider, createUdpSocketProvider, ISocket, ShutdownReason, SocketStats, USocket } from '../lib';
import { closeAllRaw, closedPort, pollUntil, rawConnect, rawEchoServer, withTimeout } from './helpers/net-helpers';
import { clientContext, loadPki, serverContext } from './helpers/tls-fixture';

/** A user that records its end and, when asked, echoes or collects. */
class User extends USocket {
  reason: ShutdownReason | null = null;
  connected = false;
  sendResults = 0;
  received = 0;
  readonly accepted: ISocket[] = [];
  private readonly buf = new Uint8Array(64 * 1024);
  constructor(private readonly mode: { read?: boolean; accept?: 'yes' | 'no'; echo?: boolean } = {}) {
    super();
  }
  override socketBindResult(s: ISocket): void {
    if (s.type !== 'udp') s.listen();
  }
  override socketListenResult(s: ISocket): void {
    if (this.mode.accept === 'no') s.accept(null);
    else s.accept(new User({ read: true, echo: this.mode.echo }));
  }
  override socketAcceptComplete(s: ISocket): void {
    this.connected = true;
    if (this.mode.read) s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketConnectComplete(s: ISocket): void {
    this.connected = true;
    if (this.mode.read) s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
    this.received += n;
    if (this.mode.echo) s.send(b, n);
    s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketSendResult(): void {
    this.sendResults++;
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.reason = reason;
  }
}

/** Resolves (bounded) when the server closed a raw peer's connection. */
function closed(peer: Socket): Promise<void> {
  peer.resume(); // the end of stream is only seen by a reader
  // rawConnect is half-open: the server's FIN (or a reset) is the sign.
  const ended = new Promise<void>((resolve) => {
    peer.once('end', () => resolve());
    peer.once('close', () => resolve());
    peer.once('error', () => resolve());
  });
  return withTimeout(ended, 10_000, 'the server to close the connection');
}

const open: ISocket[] = [];
function track<T extends ISocket>(s: T): T {
  open.push(s);
  return s;
}

afterEach(async () => {
  for (const s of open.splice(0)) s.shutdown();
  await closeAllRaw();
});

function listen(provider = createTcpSocketProvider(), user = new User({ echo: true }), options = {}): Promise<{ listener: ISocket; port: number }> {
  const listener = track(provider.createSocket(user, options));
  listener.bind('127.0.0.1', 0);
  return pollUntil(() => listener.connectionCount >= 0 && (listener.getLocalAddress()?.port ?? 0) !== 0, 'the bind').then(() => ({
    listener,
    port: listener.getLocalAddress()!.port,
  }));
}

describe('stats()', () => {
  const tcp = createTcpSocketProvider();

  it('a fresh socket reports zeros and nulls', () => {
    const st = track(tcp.createSocket(new User())).stats();
    expect(st).toEqual<SocketStats>({
      bytesSent: 0,
      bytesReceived: 0,
      messagesSent: 0,
      messagesReceived: 0,
      queuedSendBytes: 0,
      readAheadBytes: 0,
      droppedDatagrams: 0,
      strangerDatagrams: 0,
      connectMs: null,
      handshakeMs: null,
      lastErrorCode: null,
      listener: null,
    });
  });

  it('counts a TCP client: sends queued before the connection, bytes and messages both ways, the connect time', async () => {
    const { port } = await listen();
    const user = new User({ read: true });
    const s = track(tcp.createSocket(user));
    s.connect(`127.0.0.1:${port}`);
    s.send(Buffer.alloc(1000, 1));
    s.send(Buffer.alloc(500, 2));
    expect(s.stats().queuedSendBytes).toBe(1500); // queued until the connection is up
    await pollUntil(() => user.received === 1500 && user.sendResults === 2, 'the echo of both sends');
    const st = s.stats();
    expect(st.bytesSent).toBe(1500);
    expect(st.bytesReceived).toBe(1500);
    expect(st.messagesSent).toBe(2);
    expect(st.messagesReceived).toBeGreaterThanOrEqual(1);
    expect(st.queuedSendBytes).toBe(0);
    expect(st.readAheadBytes).toBe(0);
    expect(st.connectMs).toEqual(expect.any(Number));
    expect(st.connectMs!).toBeGreaterThanOrEqual(0);
    expect(st.handshakeMs).toBeNull();
    expect(st.lastErrorCode).toBeNull();
  });

  it('shows bytes waiting in the read-ahead while the app does not recv', async () => {
    const server = await rawEchoServer();
    const user = new User(); // never calls recv
    const s = track(tcp.createSocket(user));
    s.connect(`127.0.0.1:${server.port}`);
    await pollUntil(() => user.connected, 'the connection');
    s.send(Buffer.alloc(3000, 7));
    await pollUntil(() => s.stats().readAheadBytes === 3000, 'the echo to wait in the read-ahead');
    expect(s.stats().messagesReceived).toBe(0);
    await server.close();
  });

  it('records the OS code of the last error: a refused connect, a reset', async () => {
    const refused = new User();
    const a = track(tcp.createSocket(refused));
    a.connect(`127.0.0.1:${await closedPort()}`);
    await pollUntil(() => refused.reason !== null, 'the refused connect');
    expect(a.stats().lastErrorCode).toBe('ECONNREFUSED');

    const { port, listener } = await listen(tcp, new User({ read: true } as never));
    const peer = await rawConnect(port);
    await pollUntil(() => listener.connectionCount === 1, 'the accept');
    const served = listener.stats();
    expect(served.listener!.accepted).toBe(1);
    peer.resetAndDestroy();
    await pollUntil(() => listener.connectionCount === 0, 'the reset to end the accepted socket');
  });

  it('a listening socket totals its connections: accepted, denied, refused over maxConnections, live, bytes', async () => {
    const { listener, port } = await listen(tcp, new User({ echo: true }), { maxConnections: 2 });
    const c1 = new User({ read: true });
    const c2 = new User({ read: true });
    const s1 = track(tcp.createSocket(c1));
    const s2 = track(tcp.createSocket(c2));
    s1.connect(`127.0.0.1:${port}`);
    s2.connect(`127.0.0.1:${port}`);
    await pollUntil(() => c1.connected && c2.connected && listener.connectionCount === 2, 'two connections');
    const third = await rawConnect(port); // over maxConnections: closed unoffered
    await closed(third);
    s1.send(Buffer.alloc(100));
    s2.send(Buffer.alloc(200));
    await pollUntil(() => c1.received === 100 && c2.received === 200, 'the echoes');
    let totals = listener.stats().listener!;
    expect(totals).toEqual({ accepted: 2, denied: 0, refused: 1, live: 2, bytesSent: 300, bytesReceived: 300 });
    s1.shutdown();
    await pollUntil(() => listener.connectionCount === 1, 'the first connection to end');
    totals = listener.stats().listener!;
    expect(totals.live).toBe(1);
    expect(totals.bytesSent).toBe(300); // the ended connection's bytes stay in the totals
    expect(totals.bytesReceived).toBe(300);
  });

  it('counts denied connections', async () => {
    const { listener, port } = await listen(tcp, new User({ accept: 'no' }));
    const peer = await rawConnect(port);
    await closed(peer);
    expect(listener.stats().listener).toMatchObject({ accepted: 0, denied: 1, live: 0 });
  });

  describe('TLS', () => {
    const pki = loadPki();
    const tlsProvider = createTlsSocketProvider();

    it('a listener counts the bytes of a connection it accepted across a STARTTLS upgrade, those still in flight at the upgrade included', async () => {
      const tcpProvider = createTcpSocketProvider();
      const served: { tls: ISocket | null; done: boolean } = { tls: null, done: false };
      class Upgraded extends USocket {
        override socketUpgradeToTlsComplete(s: ISocket): void {
          served.tls = s;
          s.send(Buffer.from('hello'));
        }
        override socketSendResult(): void {
          served.done = true;
        }
        socketShutdown(): void {}
      }
      class Plain extends USocket {
        override socketAcceptComplete(s: ISocket): void {
          s.send(Buffer.from('GO\n')); // still in flight when the upgrade takes the connection over
          tlsProvider.upgradeToTls(s, new Upgraded(), { serverSide: true, context: serverContext(pki) });
        }
        socketShutdown(): void {}
      }
      const listenerUser = new (class extends User {
        override socketListenResult(s: ISocket): void {
          s.accept(new Plain());
        }
      })();
      const { listener, port } = await listen(tcpProvider, listenerUser);
      const raw = await rawConnect(port);
      const greeting = await withTimeout(new Promise<Buffer>((resolve) => raw.once('data', resolve)), 10_000, 'the plain greeting');
      expect(greeting.toString()).toBe('GO\n');
      const secure = tls.connect({ socket: raw, ca: pki.ca, servername: 'localhost' });
      const hello = await withTimeout(new Promise<Buffer>((resolve) => secure.once('data', resolve)), 10_000, 'the TLS hello');
      expect(hello.toString()).toBe('hello');
      await pollUntil(() => served.done, 'the TLS send result');
      expect(listener.stats().listener).toMatchObject({ accepted: 1, live: 1, bytesSent: 3 + 5 });
      secure.destroy();
    });

    it('reports the handshake time on both ends, and the verification error of a failed one', async () => {
      const serverUser = new User({ echo: true });
      const { port } = await listen(tlsProvider, serverUser, { context: serverContext(pki) });
      const user = new User({ read: true });
      const s = track(tlsProvider.createSocket(user, { context: clientContext(pki) }));
      s.connect(`127.0.0.1:${port}`, 'localhost');
      await pollUntil(() => user.connected, 'the TLS connection');
      expect(s.stats().connectMs).toEqual(expect.any(Number));
      expect(s.stats().handshakeMs).toEqual(expect.any(Number));

      const wrongName = new User();
      const bad = track(tlsProvider.createSocket(wrongName, { context: clientContext(pki) }));
      bad.connect(`127.0.0.1:${port}`, 'not-the-server.test');
      await pollUntil(() => wrongName.reason !== null, 'the failed handshake');
      expect(wrongName.reason).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(bad.stats().lastErrorCode).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
      expect(bad.stats().handshakeMs).toBeNull();
    });
  });

  describe('UDP', () => {
    let peer: dgram.Socket;
    beforeEach(() => {
      peer = dgram.createSocket('udp4');
    });
    afterEach(() => peer.close());

    it('counts datagrams in and out, queued bytes and drops', async () => {
      const udp = createUdpSocketProvider();
      let bound = false;
      const user = new (class extends User {
        override socketBindResult(): void {
          bound = true;
        }
      })();
      const s = track(udp.createSocket(user, { datagramQueueLength: 2 }));
      s.bind('127.0.0.1', 0);
      await pollUntil(() => bound, 'the bind');
      const port = s.getLocalAddress()!.port;
      for (const text of ['one', 'two', 'three']) {
        await new Promise<void>((resolve, reject) => peer.send(text, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      }
      await pollUntil(() => s.stats().messagesReceived === 3, 'three datagrams');
      expect(s.stats()).toMatchObject({ messagesReceived: 3, droppedDatagrams: 1, readAheadBytes: 6, bytesReceived: 11 });
      s.sendTo(Buffer.from('reply'), undefined, '127.0.0.1', peer.address().port);
      await pollUntil(() => user.sendResults === 1, 'the send result');
      expect(s.stats()).toMatchObject({ messagesSent: 1, bytesSent: 5, queuedSendBytes: 0 });
    });
  });
});
