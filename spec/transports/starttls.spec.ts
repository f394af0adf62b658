/**
 * STARTTLS (CONTRACT.md §6): `tlsProvider.upgradeToTls(socket, user, { serverSide, context,
 * serverName })` on connected TCP sockets.
 *
 * 1. The stream conformance suite over connections that are plain TCP at first and upgraded to
 *    TLS on both sides right after connect/accept. The suite talks to sockets through a
 *    provider; `StartTlsProvider` below is a small adapter whose sockets are TCP sockets that
 *    upgrade themselves and then forward to the TLS successor (it holds the app's sends and
 *    recvs until the upgrade is done, so nothing is sent in plaintext).
 * 2. Focused STARTTLS tests: an SMTP-like exchange, queued sends flushed first, an early
 *    ClientHello in the read-ahead, pipelined plaintext injection, refusals that change
 *    nothing, verification, ALPN, the listener's connection count.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import {
  createTcpSocketProvider,
  createTlsSocketProvider,
  IInstanceLog,
  ISocket,
  ISocketContext,
  ISocketProvider,
  PeerCertificate,
  QosTrafficType,
  ShutdownReason,
  SocketErrorCode,
  SocketOptions,
  SocketStateError,
  SocketStats,
  SocketType,
  UpgradeOptions,
  USocket,
} from '../../lib';
import { makeTestPki, TestPki } from '../../scripts/certs';
import { runStreamConformance } from '../conformance/stream-suite';
import { closeAllRaw, pollUntil, rawConnect, settle, StreamCollector, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser, unwrap } from '../helpers/recording-user';
import { RawListener, StreamFixture, thrown } from '../helpers/stream-harness';

const E = SocketErrorCode;
const stateError = (code: string): string => `SocketStateError:${code}`;

// ---------------------------------------------------------------------------------------
// The test PKI, made once for this file
// ---------------------------------------------------------------------------------------

let pkiValue: TestPki | null = null;
beforeAll(async () => {
  pkiValue = await withTimeout(makeTestPki(), 20000, 'the test PKI (makeTestPki)');
}, 30000);

function pki(): TestPki {
  if (!pkiValue) throw new Error('the PKI is read before beforeAll made it');
  return pkiValue;
}

const certOf = (pem: string): string => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).join('\n');
const keyOf = (pem: string): string => (pem.match(/-----BEGIN ((?:RSA |EC )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/) ?? [''])[0];

function serverCtx(pem = pki().server, alpn?: string[]): ISocketContext {
  const ctx = createTlsSocketProvider().createSocketContext();
  ctx.setServerCertificate(pem);
  if (alpn) ctx.setAlpnProtocols(alpn);
  return ctx;
}

function clientCtx(alpn?: string[]): ISocketContext {
  const ctx = createTlsSocketProvider().createSocketContext();
  ctx.setCertificateAuthority(pki().ca);
  if (alpn) ctx.setAlpnProtocols(alpn);
  return ctx;
}

// ---- raw Node TLS sockets of this file, destroyed after each test ----

const rawTls = new Set<tls.TLSSocket>();

function trackTls(sock: tls.TLSSocket): tls.TLSSocket {
  rawTls.add(sock);
  sock.on('error', () => undefined);
  sock.on('close', () => rawTls.delete(sock));
  return sock;
}

async function closeRawTls(): Promise<void> {
  for (const s of [...rawTls]) s.destroy();
  rawTls.clear();
}

/** Waits for raw TLS server connections: each returns true once satisfied. */
const rawWaiters = new Set<() => boolean>();
function runWaiters(): void {
  for (const w of [...rawWaiters]) if (w()) rawWaiters.delete(w);
}

// ---------------------------------------------------------------------------------------
// An adapter provider for the conformance suite: TCP sockets upgraded right after
// connect/accept, seen by the app as one socket.
// ---------------------------------------------------------------------------------------

interface HeldRecv {
  buffer: Uint8Array;
  len: number | undefined;
  partial: boolean | undefined;
}

function checkBufferLike(what: string, data: unknown, len: unknown): void {
  if (!(data instanceof Uint8Array)) throw new TypeError(`${what}: expected a Uint8Array`);
  if (len === undefined) {
    if (data.byteLength === 0) throw new RangeError(`${what}: empty buffer`);
    return;
  }
  if (typeof len !== 'number') throw new TypeError(`${what}: len must be a number`);
  if (!Number.isInteger(len) || len < 1 || len > data.byteLength) throw new RangeError(`${what}: bad len ${len}`);
}

/** Errors the adapter itself ran into (an upgrade that threw): reported by the afterEach. */
const adapterErrors: string[] = [];

class StartTlsSocket implements ISocket {
  readonly type: SocketType = 'tls';
  /** The current framework socket: the TCP one, then its TLS successor. */
  private inner: ISocket | null = null;
  /** Client: connect() called, upgrade not complete yet: sends and recvs are held. */
  private upgrading = false;
  private held: Buffer[] = [];
  private heldRecv: HeldRecv | null = null;
  private cancelled: Uint8Array | null = null;
  private shutdownCalled = false;
  private deferredShutdown = false;
  private ended = false;
  /** What the inner sockets call back: translated into calls on `this.user` with `this`. */
  private readonly relay: USocket;

  constructor(
    private readonly p: StartTlsProvider,
    private user: USocket,
    private readonly kind: 'created' | 'accepted',
    options?: SocketOptions,
  ) {
    // Arrow functions: `this` is the wrapper, whichever object the library calls them on.
    this.relay = {
      socketConnectComplete: (tcp: ISocket): void => {
        this.upgrade(tcp, false);
      },
      socketAcceptComplete: (tcp: ISocket): void => {
        this.inner = tcp;
        this.upgrade(tcp, true);
      },
      socketUpgradeToTlsComplete: (secure: ISocket): void => {
        this.inner = secure;
        this.upgrading = false;
        if (this.deferredShutdown) {
          for (const b of this.held.splice(0)) secure.send(b);
          secure.shutdown();
          return;
        }
        // Held sends first: what the user sends from its completion must follow them.
        for (const b of this.held.splice(0)) secure.send(b);
        if (this.kind === 'accepted') this.user.socketAcceptComplete?.(this);
        else this.user.socketConnectComplete?.(this);
        if (this.ended || this.shutdownCalled) return;
        const r = this.heldRecv;
        this.heldRecv = null;
        if (r) secure.recv(r.buffer, r.len, r.partial);
      },
      socketBindResult: (s: ISocket, addr: string, port: number): void => {
        this.user.socketBindResult?.(this, addr, port);
      },
      socketListenResult: (s: ISocket, addr: string, port: number): void => {
        this.user.socketListenResult?.(this, addr, port);
      },
      socketShutdown: (s: ISocket, reason: ShutdownReason): void => {
        this.inner ??= s;
        this.ended = true;
        const late = this.heldRecv?.buffer ?? this.cancelled;
        this.heldRecv = null;
        this.cancelled = null;
        if (late) this.user.socketRecvCanceled?.(this, late);
        this.user.socketShutdown(this, this.shutdownCalled ? ShutdownReason.Normal : reason);
      },
      socketSendResult: (): void => {
        this.user.socketSendResult?.(this);
      },
      socketRecvResult: (s: ISocket, buffer: Uint8Array, len: number): void => {
        this.user.socketRecvResult?.(this, buffer, len);
      },
      socketRecvFromResult: (s: ISocket, buffer: Uint8Array, len: number, a: string, port: number): void => {
        this.user.socketRecvFromResult?.(this, buffer, len, a, port);
      },
      socketRecvCanceled: (s: ISocket, buffer: Uint8Array): void => {
        this.user.socketRecvCanceled?.(this, buffer);
      },
      socketAcceptSelectedAlpnProtocol: (s: ISocket, protocol: string): boolean => {
        return this.user.socketAcceptSelectedAlpnProtocol?.(this, protocol) !== false;
      },
    };
    if (kind === 'created') {
      const tcpOptions: SocketOptions = { ...(options ?? {}) };
      delete tcpOptions.context;
      this.inner = p.tcp.createSocket(this.relay, tcpOptions);
    }
  }

  /** The relay user, for the listener's accept(). */
  get relayUser(): USocket {
    return this.relay;
  }

  private upgrade(tcp: ISocket, serverSide: boolean): void {
    const options: UpgradeOptions = serverSide
      ? { serverSide: true, context: this.p.serverContext() }
      : { context: this.p.clientContext(), serverName: 'localhost' };
    try {
      this.inner = this.p.tls.upgradeToTls(tcp, this.relay, options);
    } catch (e) {
      adapterErrors.push(`upgradeToTls threw: ${(e as Error).message}`);
      tcp.shutdown();
    }
  }

  private get current(): ISocket {
    if (!this.inner) throw new Error('StartTlsSocket: no inner socket yet');
    return this.inner;
  }

  // ---- ISocket ----

  get mode(): ISocket['mode'] {
    return this.current.mode;
  }

  connect(address: string, serverName?: string): void {
    this.current.connect(address);
    this.upgrading = true;
  }

  bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void {
    this.current.bind(localAddress, localPort, reuseAddr);
  }

  listen(): void {
    this.current.listen();
  }

  accept(remoteUser: USocket | null): void {
    if (remoteUser === null) {
      this.current.accept(null);
      return;
    }
    const child = new StartTlsSocket(this.p, remoteUser, 'accepted');
    this.current.accept(child.relayUser);
  }

  shutdown(): void {
    if (this.upgrading && !this.ended && !this.shutdownCalled && this.held.length > 0) {
      // Held sends go out once the connection is up, as the contract asks of queued sends.
      this.shutdownCalled = true;
      this.deferredShutdown = true;
      return;
    }
    this.current.shutdown();
    this.shutdownCalled = true;
  }

  send(data: Uint8Array, len?: number): void {
    if (this.upgrading && !this.ended) {
      checkBufferLike('send', data, len);
      if (this.shutdownCalled) return;
      this.held.push(Buffer.from(data.subarray(0, len ?? data.byteLength)));
      return;
    }
    this.current.send(data, len);
  }

  sendTo(data: Uint8Array, len: number | undefined, dstAddress: string, dstPort: number): void {
    this.current.sendTo(data, len, dstAddress, dstPort);
  }

  recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void {
    if (this.upgrading && !this.ended) {
      checkBufferLike('recv', buffer, len);
      if (this.shutdownCalled) return;
      if (this.heldRecv || this.cancelled) throw new SocketStateError(E.RecvPending, 'recv() while another recv is pending');
      this.heldRecv = { buffer, len, partial: recvPartial };
      return;
    }
    this.current.recv(buffer, len, recvPartial);
  }

  recvCancel(): void {
    if (this.heldRecv) {
      this.cancelled = this.heldRecv.buffer;
      this.heldRecv = null;
      process.nextTick(() => {
        const b = this.cancelled;
        this.cancelled = null;
        if (b && !this.ended) this.user.socketRecvCanceled?.(this, b);
      });
      return;
    }
    this.current.recvCancel();
  }

  setUser(user: USocket): void {
    if (typeof (user as { socketShutdown?: unknown })?.socketShutdown !== 'function') throw new TypeError('setUser: not a user');
    this.user = user;
  }

  getLocalAddress(): { address: string; port: number } | null {
    return this.current.getLocalAddress();
  }

  setQoS(type: QosTrafficType): void {
    this.current.setQoS(type);
  }

  get localAddress(): string | undefined {
    return this.current.localAddress;
  }
  get localPort(): number | undefined {
    return this.current.localPort;
  }
  get remoteAddress(): string | undefined {
    return this.current.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.current.remotePort;
  }
  get bytesSent(): number {
    return this.current.bytesSent;
  }
  get bytesReceived(): number {
    return this.current.bytesReceived;
  }
  get connectionCount(): number {
    return this.current.connectionCount;
  }
  get alpnProtocol(): string | null {
    return this.current.alpnProtocol;
  }
  getPeerCertificate(): PeerCertificate | null {
    return this.current.getPeerCertificate();
  }
  stats(): SocketStats {
    return this.current.stats(); // the TCP socket, then its TLS successor
  }
  getSrtpKeyingMaterial(): { profile: string; material: Uint8Array } | null {
    return this.current.getSrtpKeyingMaterial();
  }
}

class StartTlsProvider implements ISocketProvider {
  readonly type: SocketType = 'tls';
  readonly tcp = createTcpSocketProvider();
  readonly tls = createTlsSocketProvider();
  private server: ISocketContext | null = null;
  private client: ISocketContext | null = null;

  serverContext(): ISocketContext {
    this.server ??= serverCtx();
    return this.server;
  }

  clientContext(): ISocketContext {
    this.client ??= clientCtx();
    return this.client;
  }

  createSocketContext(log?: IInstanceLog): ISocketContext {
    return this.tls.createSocketContext(log);
  }

  createSocket(user: USocket, options?: SocketOptions): ISocket {
    return new StartTlsSocket(this, user, 'created', options);
  }

  upgradeToTls(socket: ISocket, user: USocket, options?: UpgradeOptions): ISocket {
    return this.tls.upgradeToTls(socket, user, options);
  }
}

let startTlsProvider: StartTlsProvider | null = null;

const startTlsFixture: StreamFixture = {
  provider: () => (startTlsProvider ??= new StartTlsProvider()),
  serverOptions: () => ({}),
  clientOptions: () => ({}),
  bindArgs: () => ['127.0.0.1', 0],
  connectAddress: (addr, port) => `${addr}:${port}`,
  // Raw client: a plain TCP connection on which Node's TLS client starts at once (its
  // ClientHello may reach the framework server before it upgrades: the read-ahead path).
  rawConnect: async (address) => {
    const i = address.lastIndexOf(':');
    const raw = await rawConnect(Number(address.slice(i + 1)), address.slice(0, i));
    const secure = trackTls(tls.connect({ socket: raw, ca: pki().ca, servername: 'localhost' }));
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', () => resolve());
        secure.once('error', reject);
      }),
      10000,
      'a raw STARTTLS client to finish its handshake',
    );
    return secure;
  },
  // Raw server: TLS from the first byte, which is what a client that upgrades at once sees.
  rawServer: async (): Promise<RawListener> => {
    const connections: tls.TLSSocket[] = [];
    const server = tls.createServer({ cert: certOf(pki().server), key: keyOf(pki().server), allowHalfOpen: true }, (sock) => {
      connections.push(trackTls(sock));
      runWaiters();
    });
    server.on('tlsClientError', () => undefined);
    const listening = new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    await withTimeout(listening, 10000, 'a raw TLS server to listen');
    const port = (server.address() as net.AddressInfo).port;
    const closeServer = (): Promise<void> => new Promise<void>((resolve) => server.close(() => resolve()));
    return {
      address: `127.0.0.1:${port}`,
      connection: (n = 0, ms = 10000) => {
        if (connections[n]) return Promise.resolve(connections[n]);
        const arrived = new Promise<Duplex>((resolve) => {
          rawWaiters.add(() => {
            if (!connections[n]) return false;
            resolve(connections[n]);
            return true;
          });
        });
        return withTimeout(arrived, ms, `raw TLS connection #${n}`);
      },
      close: async () => {
        for (const c of connections) c.destroy();
        if (server.listening) await withTimeout(closeServer(), 10000, 'a raw TLS server to close');
      },
    };
  },
  // A denied connection is closed before the client's upgrade can finish.
  deniedReasons: [ShutdownReason.ByPeer, ShutdownReason.Lost, ShutdownReason.TlsHandshakeFailed],
  cleanup: async () => {
    rawWaiters.clear();
    await closeRawTls();
    const errors = adapterErrors.splice(0);
    if (errors.length > 0) throw new Error(`the STARTTLS adapter failed: ${errors.join(' | ')}`);
  },
};

runStreamConformance('starttls', startTlsFixture);

// ---------------------------------------------------------------------------------------
// Focused STARTTLS tests
// ---------------------------------------------------------------------------------------

const GREETING = '220 ready\r\n';
const STARTTLS = 'STARTTLS\r\n';
const GO_AHEAD = '220 go ahead\r\n';

describe('STARTTLS: upgradeToTls', () => {
  let tcp: ISocketProvider;
  let tlsp: ISocketProvider;

  beforeEach(() => {
    tcp = guardProvider(createTcpSocketProvider());
    tlsp = guardProvider(createTlsSocketProvider());
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await closeAllRaw();
    await closeRawTls();
    expect(violations).toEqual([]);
  });

  /** A TCP listener on 127.0.0.1:0 accepting every connection for `conn`. */
  async function tcpListener(conn: RecordingUser): Promise<{ listener: ISocket; lu: RecordingUser; address: string; port: number }> {
    const lu = new RecordingUser('listener', { accept: () => conn });
    const listener = tcp.createSocket(lu);
    listener.bind('127.0.0.1', 0);
    await lu.waitFor('socketBindResult', 1, 10000, listener);
    const port = lu.eventsOf('socketBindResult', listener)[0].args[1] as number;
    listener.listen();
    return { listener, lu, address: `127.0.0.1:${port}`, port };
  }

  /** A connected TCP pair: [client, its user, accepted, its user] (plain users, nothing pending). */
  async function tcpPair(): Promise<{ c: ISocket; cu: RecordingUser; s: ISocket; su: RecordingUser; listener: ISocket }> {
    const su = new RecordingUser('srv-tcp');
    const { listener, address } = await tcpListener(su);
    const cu = new RecordingUser('cli-tcp');
    const c = tcp.createSocket(cu);
    c.connect(address);
    await cu.waitFor('socketConnectComplete', 1, 10000, c);
    await su.waitFor('socketAcceptComplete', 1, 10000);
    const s = su.eventsOf('socketAcceptComplete')[0].socket;
    return { c, cu, s, su, listener };
  }

  /** Exact recv of `n` bytes on `s`, resolving with them as text. */
  async function recvText(s: ISocket, u: RecordingUser, n: number): Promise<string> {
    const before = u.count('socketRecvResult', s);
    const buf = new Uint8Array(n);
    s.recv(buf, n, false);
    await u.waitFor('socketRecvResult', before + 1, 10000, s);
    const e = u.eventsOf('socketRecvResult', s)[before];
    return (e.data as Buffer).toString('latin1');
  }

  /** Upgrades both ends of a connected TCP pair; resolves once both report the upgrade. */
  async function upgradeBoth(
    c: ISocket,
    s: ISocket,
    opts: { clientContext?: ISocketContext; serverContext?: ISocketContext } = {},
  ): Promise<{ ct: ISocket; ctu: RecordingUser; st: ISocket; stu: RecordingUser }> {
    const stu = new RecordingUser('srv-tls');
    const ctu = new RecordingUser('cli-tls');
    const st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: opts.serverContext ?? serverCtx() });
    const ct = tlsp.upgradeToTls(c, ctu, { context: opts.clientContext ?? clientCtx(), serverName: 'localhost' });
    await ctu.waitFor('socketUpgradeToTlsComplete', 1, 10000, ct);
    await stu.waitFor('socketUpgradeToTlsComplete', 1, 10000, st);
    return { ct, ctu, st, stu };
  }

  it('SMTP-like exchange: greeting, STARTTLS, reply, upgrade on both sides, then data both ways over TLS', async () => {
    const { c, cu, s, su } = await tcpPair();
    s.send(Buffer.from(GREETING));
    expect(await recvText(c, cu, GREETING.length)).toBe(GREETING);
    c.send(Buffer.from(STARTTLS));
    expect(await recvText(s, su, STARTTLS.length)).toBe(STARTTLS);
    s.send(Buffer.from(GO_AHEAD));
    expect(await recvText(c, cu, GO_AHEAD.length)).toBe(GO_AHEAD);
    await su.waitFor('socketSendResult', 2, 10000, s);
    await cu.waitFor('socketSendResult', 1, 10000, c);

    const oldEvents = cu.events.length + su.events.length;
    const { ct, ctu, st, stu } = await upgradeBoth(c, s);

    // The new sockets are TLS sockets, reported with themselves.
    expect(ct.type).toBe('tls');
    expect(st.type).toBe('tls');
    expect(unwrap(ct)).not.toBe(unwrap(c));
    expect(unwrap(ctu.eventsOf('socketUpgradeToTlsComplete')[0].socket)).toBe(unwrap(ct));
    expect(unwrap(stu.eventsOf('socketUpgradeToTlsComplete')[0].socket)).toBe(unwrap(st));
    expect(ctu.names(ct)).toEqual(['socketUpgradeToTlsComplete']);
    expect(stu.names(st)).toEqual(['socketUpgradeToTlsComplete']);
    expect(ct.mode).toBe('client');
    expect(st.mode).toBe('client');
    expect(ct.getPeerCertificate()?.subject?.CN).toBe('localhost');
    expect(ct.remotePort).toBe(c.remotePort);

    // Data both ways, over TLS.
    ct.send(Buffer.from('MAIL FROM:<alice@example.org>\r\n'));
    expect(await recvText(st, stu, 31)).toBe('MAIL FROM:<alice@example.org>\r\n');
    st.send(Buffer.from('250 ok\r\n'));
    expect(await recvText(ct, ctu, 8)).toBe('250 ok\r\n');
    await ctu.waitFor('socketSendResult', 1, 10000, ct);
    await stu.waitFor('socketSendResult', 1, 10000, st);

    // The old sockets: silent, and every method throws ERR_SOCKET_TAKEN_OVER.
    for (const old of [c, s]) {
      expect(thrown(() => old.send(Buffer.from('x')))).toBe(stateError(E.TakenOver));
      expect(thrown(() => old.recv(new Uint8Array(4)))).toBe(stateError(E.TakenOver));
      expect(thrown(() => old.recvCancel())).toBe(stateError(E.TakenOver));
      expect(thrown(() => old.shutdown())).toBe(stateError(E.TakenOver));
      expect(thrown(() => old.setUser(new RecordingUser('other')))).toBe(stateError(E.TakenOver));
    }
    expect(thrown(() => tlsp.upgradeToTls(c, new RecordingUser('again'), { context: clientCtx() }))).toBe(stateError(E.TakenOver));

    // Closing: NORMAL here, BY_PEER there.
    ct.shutdown();
    expect(await ctu.waitForShutdown(ct)).toBe(ShutdownReason.Normal);
    expect(await stu.waitForShutdown(st)).toBe(ShutdownReason.ByPeer);
    await settle(100);
    expect(cu.events.length + su.events.length).toBe(oldEvents);
    expect(cu.count('socketShutdown') + su.count('socketShutdown')).toBe(0);
  });

  it('the server queues its reply and upgrades in the same callback: the reply still arrives in plaintext first', async () => {
    const stu = new RecordingUser('srv-tls');
    let st: ISocket | null = null;
    const su = new RecordingUser('srv-tcp');
    su.on('socketAcceptComplete', (s) => s.recv(new Uint8Array(STARTTLS.length), STARTTLS.length, false));
    su.on('socketRecvResult', (s) => {
      s.send(Buffer.from(GO_AHEAD)); // queued, its result not in yet
      st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: serverCtx() });
    });
    const { address } = await tcpListener(su);
    const cu = new RecordingUser('cli-tcp');
    const c = tcp.createSocket(cu);
    c.connect(address);
    await cu.waitFor('socketConnectComplete', 1, 10000, c);
    c.send(Buffer.from(STARTTLS));
    expect(await recvText(c, cu, GO_AHEAD.length)).toBe(GO_AHEAD);
    await su.waitUntil(() => st !== null, 'the server upgraded');
    const ctu = new RecordingUser('cli-tls');
    const ct = tlsp.upgradeToTls(c, ctu, { context: clientCtx(), serverName: 'localhost' });
    await ctu.waitFor('socketUpgradeToTlsComplete', 1, 10000, ct);
    const stSock = st as unknown as ISocket;
    await stu.waitFor('socketUpgradeToTlsComplete', 1, 10000, stSock);
    stSock.send(Buffer.from('secret'));
    expect(await recvText(ct, ctu, 6)).toBe('secret');
    // The old server socket made no callback after the upgrade (not even the reply's send result).
    expect(su.names()).toEqual(['socketAcceptComplete', 'socketRecvResult']);
  });

  it('an early ClientHello waiting in the read-ahead goes to the TLS layer: the handshake succeeds', async () => {
    const su = new RecordingUser('srv-tcp');
    const { port } = await tcpListener(su);
    const raw = await rawConnect(port);
    await su.waitFor('socketAcceptComplete', 1, 10000);
    const s = su.eventsOf('socketAcceptComplete')[0].socket;
    // The client says STARTTLS and starts its handshake at once, without waiting for a reply.
    raw.write(STARTTLS);
    const rawTls = trackTls(tls.connect({ socket: raw, ca: pki().ca, servername: 'localhost' }));
    const secured = new Promise<void>((resolve, reject) => {
      rawTls.once('secureConnect', () => resolve());
      rawTls.once('error', reject);
    });
    // Wait until the ClientHello is in the server's read-ahead, then read the command only.
    await pollUntil(() => s.bytesReceived > STARTTLS.length, 'the ClientHello to arrive behind STARTTLS');
    expect(await recvText(s, su, STARTTLS.length)).toBe(STARTTLS);
    const stu = new RecordingUser('srv-tls');
    const st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: serverCtx() });
    await stu.waitFor('socketUpgradeToTlsComplete', 1, 10000, st);
    await withTimeout(secured, 10000, 'the raw client’s secureConnect');
    const peer = new StreamCollector(rawTls);
    rawTls.write('ping over tls');
    expect(await recvText(st, stu, 13)).toBe('ping over tls');
    st.send(Buffer.from('pong'));
    await peer.waitForBytes(4);
    expect(peer.data().toString()).toBe('pong');
    // Nothing of the ClientHello reached the app as plaintext.
    expect(su.eventsOf('socketRecvResult').map((e) => (e.data as Buffer).toString('latin1'))).toEqual([STARTTLS]);
  });

  it('pipelined plaintext after STARTTLS goes to the TLS layer and fails the handshake; the app never sees it', async () => {
    const su = new RecordingUser('srv-tcp');
    const { port } = await tcpListener(su);
    const raw = await rawConnect(port);
    const rawPeer = new StreamCollector(raw);
    await su.waitFor('socketAcceptComplete', 1, 10000);
    const s = su.eventsOf('socketAcceptComplete')[0].socket;
    const injected = `${STARTTLS}MAIL FROM:<evil>\r\n`;
    raw.write(injected);
    await pollUntil(() => s.bytesReceived >= injected.length, 'the pipelined bytes to arrive');
    expect(await recvText(s, su, STARTTLS.length)).toBe(STARTTLS);
    s.send(Buffer.from(GO_AHEAD));
    const stu = new RecordingUser('srv-tls');
    const st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: serverCtx() });
    expect(await stu.waitForShutdown(st)).toBe(ShutdownReason.TlsHandshakeFailed);
    expect(stu.count('socketUpgradeToTlsComplete')).toBe(0);
    await rawPeer.waitForEnd();
    expect(rawPeer.data().toString('latin1')).toBe(GO_AHEAD);
    await settle(100);
    const everything = [...su.eventsOf('socketRecvResult'), ...stu.eventsOf('socketRecvResult')].map((e) => (e.data as Buffer).toString('latin1'));
    expect(everything).toEqual([STARTTLS]);
    expect(everything.join('')).not.toContain('MAIL FROM');
  });

  describe('refusals throw synchronously and change nothing', () => {
    /** The pair still carries data both ways on its (old) sockets. */
    async function stillWorks(c: ISocket, cu: RecordingUser, s: ISocket, su: RecordingUser, tag: string): Promise<void> {
      c.send(Buffer.from(`c-${tag}`));
      expect(await recvText(s, su, tag.length + 2)).toBe(`c-${tag}`);
      s.send(Buffer.from(`s-${tag}`));
      expect(await recvText(c, cu, tag.length + 2)).toBe(`s-${tag}`);
    }

    it('upgradeToTls on the TCP provider → ERR_SOCKET_NOT_SUPPORTED', async () => {
      const { c, cu, s, su } = await tcpPair();
      const nu = new RecordingUser('never');
      expect(thrown(() => tcp.upgradeToTls(c, nu, { context: clientCtx(), serverName: 'localhost' }))).toBe(stateError(E.NotSupported));
      expect(thrown(() => tcp.upgradeToTls(s, nu, { serverSide: true, context: serverCtx() }))).toBe(stateError(E.NotSupported));
      await stillWorks(c, cu, s, su, 'tcp-provider');
      expect(nu.events).toHaveLength(0);
    });

    it('upgrading a TLS socket → ERR_SOCKET_NOT_SUPPORTED', async () => {
      const { c, s } = await tcpPair();
      const { ct, ctu, st, stu } = await upgradeBoth(c, s);
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(ct, nu, { context: clientCtx(), serverName: 'localhost' }))).toBe(stateError(E.NotSupported));
      expect(thrown(() => tlsp.upgradeToTls(st, nu, { serverSide: true, context: serverCtx() }))).toBe(stateError(E.NotSupported));
      await stillWorks(ct, ctu, st, stu, 'tls');
      expect(nu.events).toHaveLength(0);
    });

    it('upgrading a socket made by the TLS provider (connected over TLS) → ERR_SOCKET_NOT_SUPPORTED', async () => {
      const lu = new RecordingUser('tls-listener', { accept: () => new RecordingUser('tls-conn', { autoRecv: 1024, echo: true }) });
      const listener = tlsp.createSocket(lu, { context: serverCtx() });
      listener.bind('127.0.0.1', 0);
      await lu.waitFor('socketBindResult', 1, 10000, listener);
      listener.listen();
      const port = lu.eventsOf('socketBindResult', listener)[0].args[1] as number;
      const cu = new RecordingUser('tls-client');
      const c = tlsp.createSocket(cu, { context: clientCtx() });
      c.connect(`127.0.0.1:${port}`, 'localhost');
      await cu.waitFor('socketConnectComplete', 1, 10000, c);
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(c, nu, { context: clientCtx(), serverName: 'localhost' }))).toBe(stateError(E.NotSupported));
      c.send(Buffer.from('echo'));
      expect(await recvText(c, cu, 4)).toBe('echo');
      expect(nu.events).toHaveLength(0);
    });

    it('with a recv pending → ERR_SOCKET_RECV_PENDING; after recvCancel the upgrade works', async () => {
      const { c, cu, s, su } = await tcpPair();
      const buf = new Uint8Array(8);
      c.recv(buf, 8, false);
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(c, nu, { context: clientCtx(), serverName: 'localhost' }))).toBe(stateError(E.RecvPending));
      // The pending recv is untouched: it completes with the peer's bytes.
      s.send(Buffer.from('12345678'));
      await cu.waitFor('socketRecvResult', 1, 10000, c);
      expect(Buffer.from(buf).toString()).toBe('12345678');
      // Again, then cancel, then upgrade.
      c.recv(new Uint8Array(4), 4, false);
      expect(thrown(() => tlsp.upgradeToTls(c, nu, { context: clientCtx(), serverName: 'localhost' }))).toBe(stateError(E.RecvPending));
      c.recvCancel();
      await cu.waitFor('socketRecvCanceled', 1, 10000, c);
      await stillWorks(c, cu, s, su, 'recv-pending');
      const { ct, ctu, st, stu } = await upgradeBoth(c, s);
      await stillWorks(ct, ctu, st, stu, 'after');
      expect(nu.events).toHaveLength(0);
    });

    it('a socket whose connect() has not completed → ERR_SOCKET_NOT_CONNECTED', async () => {
      const su = new RecordingUser('srv-tcp', { autoRecv: 1024, echo: true });
      const { address } = await tcpListener(su);
      const cu = new RecordingUser('cli-tcp', { autoRecv: 1024 });
      const c = tcp.createSocket(cu);
      c.connect(address);
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(c, nu, { context: clientCtx(), serverName: 'localhost' }))).toBe(stateError(E.NotConnected));
      c.send(Buffer.from('still fine'));
      await cu.waitForBytes(10, c);
      expect(cu.received(c).toString()).toBe('still fine');
      expect(nu.events).toHaveLength(0);
    });

    it('a socket that was never connected (mode none) → ERR_SOCKET_NOT_CONNECTED', async () => {
      const fu = new RecordingUser('fresh');
      const f = tcp.createSocket(fu);
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(f, nu, { context: clientCtx(), serverName: 'localhost' }))).toBe(stateError(E.NotConnected));
      expect(f.mode).toBe('none');
      await settle(50);
      expect(fu.events).toHaveLength(0);
      expect(nu.events).toHaveLength(0);
    });

    it('a listening socket → ERR_SOCKET_WRONG_MODE; it goes on accepting', async () => {
      const su = new RecordingUser('srv-tcp', { autoRecv: 1024, echo: true });
      const { listener, lu, address } = await tcpListener(su);
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(listener, nu, { serverSide: true, context: serverCtx() }))).toBe(stateError(E.WrongMode));
      const cu = new RecordingUser('cli-tcp', { autoRecv: 1024 });
      const c = tcp.createSocket(cu);
      c.connect(address);
      c.send(Buffer.from('accepted'));
      await cu.waitForBytes(8, c);
      expect(lu.count('socketListenResult', listener)).toBe(1);
      expect(nu.events).toHaveLength(0);
    });

    it('serverSide without a server certificate → ERR_TLS_NO_SERVER_CERTIFICATE', async () => {
      const { c, cu, s, su } = await tcpPair();
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(s, nu, { serverSide: true, context: clientCtx() }))).toBe(stateError(E.NoServerCertificate));
      expect(thrown(() => tlsp.upgradeToTls(s, nu, { serverSide: true }))).toBe(stateError(E.NoServerCertificate));
      await stillWorks(c, cu, s, su, 'no-cert');
      expect(nu.events).toHaveLength(0);
    });

    it('a socket after shutdown() cannot be upgraded', async () => {
      const { c } = await tcpPair();
      c.shutdown();
      const nu = new RecordingUser('never');
      expect(thrown(() => tlsp.upgradeToTls(c, nu, { context: clientCtx(), serverName: 'localhost' }))).toMatch(/^SocketStateError:/);
      await settle(50);
      expect(nu.events).toHaveLength(0);
    });
  });

  it('verification applies: a client upgrade against an untrusted (self-signed) server fails, no upgrade complete', async () => {
    const { c, s } = await tcpPair();
    const stu = new RecordingUser('srv-tls');
    const ctu = new RecordingUser('cli-tls');
    const st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: serverCtx(pki().rogue) });
    const ct = tlsp.upgradeToTls(c, ctu, { context: clientCtx(), serverName: 'localhost' });
    expect(await ctu.waitForShutdown(ct)).toBe(ShutdownReason.TlsHandshakeFailed);
    expect(ctu.names(ct)).toEqual(['socketShutdown']);
    await stu.waitForShutdown(st);
    expect(stu.count('socketUpgradeToTlsComplete')).toBe(0);
  });

  it('verification applies: the client checks the server name it was given', async () => {
    const { c, s } = await tcpPair();
    const stu = new RecordingUser('srv-tls');
    const ctu = new RecordingUser('cli-tls');
    const st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: serverCtx() });
    const ct = tlsp.upgradeToTls(c, ctu, { context: clientCtx(), serverName: 'not-this-host.example' });
    expect(await ctu.waitForShutdown(ct)).toBe(ShutdownReason.TlsHandshakeFailed);
    expect(ctu.count('socketUpgradeToTlsComplete')).toBe(0);
    await stu.waitForShutdown(st);
  });

  it('ALPN over STARTTLS: the protocol is approved before socketUpgradeToTlsComplete on both sides', async () => {
    const { c, s } = await tcpPair();
    const { ct, ctu, st, stu } = await upgradeBoth(c, s, {
      clientContext: clientCtx(['x-other', 'http/1.1']),
      serverContext: serverCtx(undefined, ['h2', 'http/1.1']),
    });
    expect(ctu.names(ct)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketUpgradeToTlsComplete']);
    expect(stu.names(st)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketUpgradeToTlsComplete']);
    expect(ctu.eventsOf('socketAcceptSelectedAlpnProtocol')[0].args).toEqual(['http/1.1']);
    expect(stu.eventsOf('socketAcceptSelectedAlpnProtocol')[0].args).toEqual(['http/1.1']);
    expect(ct.alpnProtocol).toBe('http/1.1');
    expect(st.alpnProtocol).toBe('http/1.1');
  });

  it('ALPN over STARTTLS: a refusal ends the upgraded socket with SOCKET_ALPN_SELECTION_FAILED', async () => {
    const { c, s } = await tcpPair();
    const stu = new RecordingUser('srv-tls');
    const ctu = new RecordingUser('cli-tls').on('socketAcceptSelectedAlpnProtocol', () => false);
    const st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: serverCtx(undefined, ['h2']) });
    const ct = tlsp.upgradeToTls(c, ctu, { context: clientCtx(['h2']), serverName: 'localhost' });
    expect(await ctu.waitForShutdown(ct)).toBe(ShutdownReason.AlpnSelectionFailed);
    expect(ctu.names(ct)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketShutdown']);
    await stu.waitForShutdown(st);
  });

  it('the listener counts an upgraded accepted connection as live until it ends', async () => {
    const { c, s, listener } = await tcpPair();
    expect(listener.connectionCount).toBe(1);
    const { ct, stu, st } = await upgradeBoth(c, s);
    expect(listener.connectionCount).toBe(1);
    ct.shutdown();
    expect(await stu.waitForShutdown(st)).toBe(ShutdownReason.ByPeer);
    expect(listener.connectionCount).toBe(0);
  });

  it('shutdown() of the new socket during the handshake reports NORMAL and no upgrade complete', async () => {
    const { c, s } = await tcpPair();
    const stu = new RecordingUser('srv-tls');
    const ctu = new RecordingUser('cli-tls');
    const st = tlsp.upgradeToTls(s, stu, { serverSide: true, context: serverCtx() });
    const ct = tlsp.upgradeToTls(c, ctu, { context: clientCtx(), serverName: 'localhost' });
    ct.shutdown();
    expect(await ctu.waitForShutdown(ct)).toBe(ShutdownReason.Normal);
    expect(ctu.names(ct)).toEqual(['socketShutdown']);
    await stu.waitForShutdown(st);
  });
});
