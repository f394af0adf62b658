/**
 * The datagram fixtures: an end under test and the peer it talks to, for the datagram suite.
 *
 * - `connectedUdpFixture`: a connected UDP socket; its peer is a plain `dgram` socket.
 * - `boundUdpFixture`: a bound UDP socket (recv from anyone, sendTo); its peer a plain `dgram` socket.
 * - `acceptedUdpFixture()` / `acceptedDtlsFixture(pki)`: a socket accepted by a UDP / DTLS listener.
 * - `dtlsFixture(pki, 'client' | 'server')`: one end of a DTLS session after the handshake — the
 *   client side (a connected UDP socket, upgraded) or the server side (a bound UDP socket,
 *   upgraded, serving the first peer that completes a handshake); its peer is the other end.
 *
 * Loopback only, port 0; every wait bounded.
 */
import * as dgram from 'node:dgram';
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, SocketOptions, USocket } from '../../lib';
import type { TestPki } from '../../scripts/certs';
import { pollUntil, withTimeout } from '../helpers/net-helpers';
import { CallbackName, guard, guardProvider, RecordingUser } from '../helpers/recording-user';
import { closePlainSockets, plainUdp, PlainUdp } from '../helpers/udp-peers';
import { E, stateError } from './common';

export const WAIT = 15000;

/** The far side of an end: where its datagrams come from, and what it received. */
export interface DatagramPeer {
  /** The source address and port the end reports for the peer's datagrams. */
  address: string;
  port: number;
  /** Sends one datagram to the end; resolves once it was handed to the OS. */
  send(data: Uint8Array): Promise<void>;
  /** The datagrams the peer received from the end, in order. */
  received(): Buffer[];
  /** Resolves (bounded) once the peer received `n` datagrams. */
  waitReceived(n: number): Promise<void>;
}

export interface DatagramEnd {
  /** The end under test (a guarded socket: every API call on it is checked). */
  socket: ISocket;
  peer: DatagramPeer;
  /** Sends one datagram from the end to its peer: send() on a connected end, sendTo(peer) on a bound one. */
  sendToPeer(data: Uint8Array): void;
  /** Empty datagrams the end received before the test got it (an accepted socket: the one that made the offer). Default 0. */
  receivedBefore?: number;
}

/** The calls the mode lock refuses on an end, with the code each throws. */
export type LockedCall = 'connect' | 'bind' | 'send' | 'sendTo' | 'listen' | 'accept';

export interface DatagramFixture {
  /** 'connected': one peer, send(); 'bound': datagrams from anyone, sendTo(). */
  readonly kind: 'connected' | 'bound';
  /** The callback by which the end became ready (its user's first event after open()). */
  readonly readyEvent: CallbackName;
  /** Makes an end for `user` (options apply to it) and its peer; resolves once the end is ready. */
  open(user: RecordingUser, options?: SocketOptions): Promise<DatagramEnd>;
  /**
   * Makes an end and sends `sends` to its peer before the end is ready — connected UDP: before
   * socketConnectComplete; bound UDP: by sendTo on a socket that was never bound (the implicit
   * bind); DTLS: before the handshake is done. Resolves once every send got its result.
   */
  openSendingEarly(user: RecordingUser, sends: Uint8Array[]): Promise<DatagramEnd>;
  /** What the user sees before those sends' results (bound UDP: nothing, an implicit bind reports no socketBindResult). */
  readonly earlyReadyEvents: CallbackName[];
  /**
   * A datagram from another source, sent to a ready end:
   * 'received' (a bound socket hears anyone), 'counted' (the socket sees it, drops it and counts
   * it in stats().strangerDatagrams), 'filtered by the OS' (the kernel drops it for a connected
   * UDP socket: it never reaches the socket, which counts nothing).
   */
  readonly strangerAfterReady: 'received' | 'counted' | 'filtered by the OS';
  /**
   * Optional: makes an end such that a datagram from `stranger` reaches its port before the end
   * knows its peer (connected UDP: between the bind that connect() makes and the connect).
   */
  openWithEarlyStranger?(user: RecordingUser, stranger: PlainUdp): Promise<DatagramEnd>;
  /** Calls the mode lock refuses on a ready end (and after shutdown()), with the expected `thrown()` text. */
  readonly locked: Partial<Record<LockedCall, string>>;
  cleanup(): Promise<void>;
}

/** A plain dgram socket as the peer of an end whose local port is `endPort()`. */
function plainPeer(plain: PlainUdp, endPort: () => number): DatagramPeer {
  return {
    address: '127.0.0.1',
    port: plain.port,
    send: (data) => plain.send(data, endPort()),
    received: () => plain.messages.map((m) => m.data),
    waitReceived: (n) => plain.waitFor(n, WAIT),
  };
}

function localPort(s: ISocket): number {
  const local = s.getLocalAddress();
  if (!local) throw new Error('the end has no local address yet');
  return local.port;
}

// ---------------------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------------------

const originalConnect = dgram.Socket.prototype.connect;

/**
 * Makes the next `dgram` connect of this process bind first (as dgram does itself) and run
 * `between(sock, port)` before the real connect: the window between dgram's implicit bind and
 * its connect, held open until `between` resolves. Patches Node's `dgram`, not the library.
 */
function holdConnectWindow(between: (sock: dgram.Socket, port: number) => Promise<void>): void {
  dgram.Socket.prototype.connect = function patched(this: dgram.Socket, ...args: unknown[]): void {
    dgram.Socket.prototype.connect = originalConnect; // once
    this.bind({ port: 0, exclusive: true }, () => {
      between(this, this.address().port).then(
        () => (originalConnect as (...a: unknown[]) => void).apply(this, args),
        (err: Error) => this.emit('error', err),
      );
    });
  } as typeof originalConnect;
}

async function udpCleanup(): Promise<void> {
  dgram.Socket.prototype.connect = originalConnect;
  closePlainSockets();
}

/** A connected UDP socket (client mode); its peer a plain dgram socket on 127.0.0.1. */
export function connectedUdpFixture(): DatagramFixture {
  const connectTo = async (user: RecordingUser, options: SocketOptions = {}, early?: (s: ISocket) => void): Promise<{ s: ISocket; plain: PlainUdp }> => {
    const plain = await plainUdp();
    const s = guardProvider(createUdpSocketProvider()).createSocket(user, options);
    s.connect(`127.0.0.1:${plain.port}`);
    early?.(s);
    await user.waitFor('socketConnectComplete', 1, WAIT, s);
    return { s, plain };
  };
  const end = (s: ISocket, plain: PlainUdp): DatagramEnd => ({
    socket: s,
    peer: plainPeer(plain, () => localPort(s)),
    sendToPeer: (data) => s.send(data),
  });
  return {
    kind: 'connected',
    readyEvent: 'socketConnectComplete',
    async open(user, options) {
      const { s, plain } = await connectTo(user, options);
      return end(s, plain);
    },
    async openSendingEarly(user, sends) {
      const { s, plain } = await connectTo(user, {}, (sock) => {
        for (const d of sends) sock.send(d);
      });
      await user.waitFor('socketSendResult', sends.length, WAIT, s);
      return end(s, plain);
    },
    earlyReadyEvents: ['socketConnectComplete'],
    // Once connected, the kernel itself drops datagrams from other sources.
    strangerAfterReady: 'filtered by the OS',
    async openWithEarlyStranger(user, stranger) {
      holdConnectWindow(async (sock, port) => {
        const read = new Promise<void>((resolve) => sock.once('message', () => resolve()));
        await stranger.send(Buffer.from('from a stranger'), port);
        await withTimeout(read, WAIT, 'the socket to read the stranger’s datagram before its connect');
      });
      const { s, plain } = await connectTo(user);
      return end(s, plain);
    },
    locked: {
      connect: stateError(E.AlreadyConnected),
      bind: stateError(E.WrongMode),
      sendTo: stateError(E.WrongMode),
      listen: stateError(E.WrongMode),
      accept: stateError(E.AcceptOutsideListenResult),
    },
    cleanup: udpCleanup,
  };
}

/** A bound UDP socket (server mode: recv from anyone, sendTo); its peer a plain dgram socket on 127.0.0.1. */
export function boundUdpFixture(): DatagramFixture {
  const end = (s: ISocket, plain: PlainUdp): DatagramEnd => ({
    socket: s,
    peer: plainPeer(plain, () => localPort(s)),
    sendToPeer: (data) => s.sendTo(data, undefined, '127.0.0.1', plain.port),
  });
  return {
    kind: 'bound',
    readyEvent: 'socketBindResult',
    async open(user, options = {}) {
      const s = guardProvider(createUdpSocketProvider()).createSocket(user, options);
      s.bind('127.0.0.1', 0);
      await user.waitFor('socketBindResult', 1, WAIT, s);
      return end(s, await plainUdp());
    },
    async openSendingEarly(user, sends) {
      const plain = await plainUdp();
      const s = guardProvider(createUdpSocketProvider()).createSocket(user);
      // Never bound: the first sendTo binds an ephemeral port (no socketBindResult).
      for (const d of sends) s.sendTo(d, undefined, '127.0.0.1', plain.port);
      await user.waitFor('socketSendResult', sends.length, WAIT, s);
      return end(s, plain);
    },
    earlyReadyEvents: [],
    strangerAfterReady: 'received',
    locked: {
      connect: stateError(E.WrongMode),
      bind: stateError(E.AlreadyBound),
      send: stateError(E.WrongMode),
      accept: stateError(E.AcceptOutsideListenResult),
    },
    cleanup: udpCleanup,
  };
}

/**
 * A per-peer socket accepted by a UDP datagram listener (`listen()` on a bound socket); its peer
 * a plain dgram socket. The peer's first datagram makes the offer: a bootstrap user takes it
 * (recv) and then hands the socket to the user under test (`setUser`), which therefore sees no
 * `socketAcceptComplete` (ready = handed over). Strangers are other peers to the listener, which
 * denies them: they never reach the socket ('filtered by the OS' in the suite's terms: the socket
 * counts nothing).
 */
export function acceptedUdpFixture(): DatagramFixture {
  const listeners: ISocket[] = [];
  async function accepted(user: RecordingUser, options: SocketOptions = {}, early?: (s: ISocket) => void): Promise<DatagramEnd> {
    const plain = await plainUdp();
    let handed: ISocket | null = null;
    const bootstrap = new (class extends USocket {
      override socketAcceptComplete(s: ISocket): void {
        s.recv(new Uint8Array(64));
      }
      override socketRecvFromResult(s: ISocket): void {
        const g = guard(s);
        early?.(g); // before the hand-over: the user under test sees only what follows
        s.setUser(user);
        handed = g;
      }
      socketShutdown(): void {}
    })();
    let offers = 0;
    const lu = new RecordingUser('udp-listener', { accept: () => (offers++ === 0 ? bootstrap : null) });
    const l = guardProvider(createUdpSocketProvider()).createSocket(lu, options);
    listeners.push(l);
    l.bind('127.0.0.1', 0);
    l.listen();
    await lu.waitFor('socketBindResult', 1, WAIT, l);
    const port = localPort(l);
    await plain.send(Buffer.alloc(0), port); // empty: it adds no bytes to the socket's counts
    await pollUntil(() => handed !== null, 'the accepted socket to take the first datagram', WAIT);
    const s = handed as unknown as ISocket;
    return { socket: s, peer: plainPeer(plain, () => port), sendToPeer: (data) => s.send(data), receivedBefore: 1 };
  }
  return {
    kind: 'connected',
    readyEvent: 'socketAcceptComplete',
    open: (user, options) => accepted(user, options),
    async openSendingEarly(user, sends) {
      const end = await accepted(user, {}, (s) => {
        for (const d of sends) s.send(d);
      });
      await user.waitFor('socketSendResult', sends.length, WAIT, end.socket);
      return end;
    },
    earlyReadyEvents: [],
    strangerAfterReady: 'filtered by the OS',
    locked: {
      connect: stateError(E.AlreadyConnected),
      bind: stateError(E.WrongMode),
      sendTo: stateError(E.WrongMode),
      listen: stateError(E.WrongMode),
      accept: stateError(E.AcceptOutsideListenResult),
    },
    async cleanup() {
      for (const l of listeners.splice(0)) if (l.mode === 'server') l.shutdown();
      await udpCleanup();
    },
  };
}

// ---------------------------------------------------------------------------------------
// DTLS
// ---------------------------------------------------------------------------------------

/**
 * One end of a DTLS session between our client (a connected UDP socket, upgraded) and our
 * server (a bound UDP socket, upgraded). `side` is the end under test; the other end is its
 * peer, which keeps a recv pending and records what it receives.
 *
 * Strangers: the server end is a bound UDP socket, so a stranger's datagram reaches it and it
 * drops and counts it ('counted'); the client end is a connected UDP socket, whose kernel drops
 * strangers ('filtered by the OS': docs/dtls.md, strangerDatagrams "always 0 on a connected socket").
 */
export function dtlsFixture(pki: TestPki, side: 'client' | 'server'): DatagramFixture {
  let serverCtx: ISocketContext | null = null;
  let clientCtx: ISocketContext | null = null;
  const contexts = (): { server: ISocketContext; client: ISocketContext } => {
    if (!serverCtx) {
      serverCtx = createTlsSocketProvider().createSocketContext();
      serverCtx.setServerCertificate(pki.server);
      serverCtx.enableDtls();
    }
    if (!clientCtx) {
      clientCtx = createTlsSocketProvider().createSocketContext();
      clientCtx.setCertificateAuthority(pki.ca);
      clientCtx.enableDtls();
    }
    return { server: serverCtx, client: clientCtx };
  };

  async function session(user: RecordingUser, options: SocketOptions, early?: (s: ISocket) => void): Promise<DatagramEnd> {
    const udp = guardProvider(createUdpSocketProvider());
    const tlsp = guardProvider(createTlsSocketProvider());
    const ctx = contexts();
    const peerUser = new RecordingUser(side === 'client' ? 'dtls-server-peer' : 'dtls-client-peer')
      .on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(2048)))
      .on('socketRecvFromResult', (s, buf: Uint8Array) => s.recv(buf));
    const serverUser = side === 'server' ? user : peerUser;
    const clientUser = side === 'client' ? user : peerUser;

    const su = new RecordingUser('server-udp');
    const sUdp = udp.createSocket(su);
    sUdp.bind('127.0.0.1', 0);
    await su.waitFor('socketBindResult', 1, WAIT, sUdp);
    const serverPort = su.eventsOf('socketBindResult', sUdp)[0].args[1] as number;
    const server = tlsp.upgradeToTls(sUdp, serverUser, { serverSide: true, context: ctx.server, ...(side === 'server' ? options : {}) });
    if (side === 'server') early?.(server);

    const cu = new RecordingUser('client-udp');
    const cUdp = udp.createSocket(cu);
    cUdp.connect(`127.0.0.1:${serverPort}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, cUdp);
    const clientPort = localPort(cUdp);
    const client = tlsp.upgradeToTls(cUdp, clientUser, { context: ctx.client, ...(side === 'client' ? options : {}) });
    if (side === 'client') early?.(client);

    for (const [u, s] of [
      [serverUser, server],
      [clientUser, client],
    ] as const) {
      await u.waitUntil(() => u.count('socketUpgradeToTlsComplete', s) + u.count('socketShutdown', s) > 0, 'the DTLS handshake', WAIT);
      if (u.count('socketShutdown', s) > 0) throw new Error(`the DTLS handshake failed: ${String(u.shutdownReason(s))}`);
    }

    const [mine, theirs, theirPort] = side === 'client' ? [client, server, serverPort] : [server, client, clientPort];
    let peerSends = 0;
    return {
      socket: mine,
      sendToPeer: (data) => mine.send(data),
      peer: {
        address: '127.0.0.1',
        port: theirPort,
        async send(data) {
          const n = ++peerSends;
          theirs.send(data);
          await peerUser.waitFor('socketSendResult', n, WAIT, theirs);
        },
        received: () => peerUser.eventsOf('socketRecvFromResult', theirs).map((e) => e.data as Buffer),
        waitReceived: (n) => peerUser.waitFor('socketRecvFromResult', n, WAIT, theirs),
      },
    };
  }

  return {
    kind: 'connected',
    readyEvent: 'socketUpgradeToTlsComplete',
    open: (user, options = {}) => session(user, options),
    async openSendingEarly(user, sends) {
      const end = await session(user, {}, (s) => {
        for (const d of sends) s.send(d);
      });
      await user.waitFor('socketSendResult', sends.length, WAIT, end.socket);
      return end;
    },
    earlyReadyEvents: ['socketUpgradeToTlsComplete'],
    strangerAfterReady: side === 'server' ? 'counted' : 'filtered by the OS',
    locked: {
      connect: stateError(E.AlreadyConnected),
      bind: stateError(E.WrongMode),
      sendTo: stateError(E.WrongMode),
      listen: stateError(E.NotSupported),
      accept: stateError(E.AcceptOutsideListenResult),
    },
    async cleanup() {
      closePlainSockets();
    },
  };
}

/**
 * A per-peer DTLS socket accepted by a DTLS listener (`listen()` on a bound UDP socket, then
 * `upgradeToTls(serverSide)`); its peer is our DTLS client (a connected UDP socket, upgraded),
 * which keeps a recv pending. The listener offers the peer once its handshake is done; a
 * bootstrap user takes the accepted socket and hands it to the user under test (`setUser`), which
 * therefore sees no `socketAcceptComplete` (ready = handed over). Strangers are new peers to the
 * listener (a handshake attempt each): they never reach the socket ('filtered by the OS' in the
 * suite's terms: the socket counts nothing).
 */
export function acceptedDtlsFixture(pki: TestPki): DatagramFixture {
  const listeners: ISocket[] = [];
  async function accepted(user: RecordingUser, options: SocketOptions = {}, early?: (s: ISocket) => void): Promise<DatagramEnd> {
    const udp = guardProvider(createUdpSocketProvider());
    const tlsp = guardProvider(createTlsSocketProvider());
    const serverCtx = tlsp.createSocketContext();
    serverCtx.setServerCertificate(pki.server);
    serverCtx.enableDtls();
    const clientCtx = tlsp.createSocketContext();
    clientCtx.setCertificateAuthority(pki.ca);
    clientCtx.enableDtls();
    let handed: ISocket | null = null;
    const bootstrap = new (class extends USocket {
      override socketAcceptComplete(s: ISocket): void {
        const g = guard(s);
        early?.(g); // before the hand-over: the user under test sees only what follows
        s.setUser(user);
        handed = g;
      }
      socketShutdown(): void {}
    })();
    let offers = 0;
    const lu = new RecordingUser('dtls-listener', { accept: () => (offers++ === 0 ? bootstrap : null) });
    const bu = new RecordingUser('udp-listener');
    const u = udp.createSocket(bu, options);
    u.bind('127.0.0.1', 0);
    u.listen();
    await bu.waitFor('socketBindResult', 1, WAIT, u);
    const port = localPort(u);
    const l = tlsp.upgradeToTls(u, lu, { serverSide: true, context: serverCtx });
    listeners.push(l);

    const peerUser = new RecordingUser('dtls-client-peer')
      .on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(2048)))
      .on('socketRecvFromResult', (s, buf: Uint8Array) => s.recv(buf));
    const cu = new RecordingUser('client-udp');
    const cUdp = udp.createSocket(cu);
    cUdp.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, cUdp);
    const clientPort = localPort(cUdp);
    const client = tlsp.upgradeToTls(cUdp, peerUser, { context: clientCtx });
    await peerUser.waitFor('socketUpgradeToTlsComplete', 1, WAIT, client);
    await pollUntil(() => handed !== null, 'the DTLS listener to hand over the accepted socket', WAIT);
    const s = handed as unknown as ISocket;
    let peerSends = 0;
    return {
      socket: s,
      sendToPeer: (data) => s.send(data),
      peer: {
        address: '127.0.0.1',
        port: clientPort,
        async send(data) {
          const n = ++peerSends;
          client.send(data);
          await peerUser.waitFor('socketSendResult', n, WAIT, client);
        },
        received: () => peerUser.eventsOf('socketRecvFromResult', client).map((e) => e.data as Buffer),
        waitReceived: (n) => peerUser.waitFor('socketRecvFromResult', n, WAIT, client),
      },
    };
  }
  return {
    kind: 'connected',
    readyEvent: 'socketAcceptComplete',
    open: (user, options) => accepted(user, options),
    async openSendingEarly(user, sends) {
      const end = await accepted(user, {}, (s) => {
        for (const d of sends) s.send(d);
      });
      await user.waitFor('socketSendResult', sends.length, WAIT, end.socket);
      return end;
    },
    earlyReadyEvents: [],
    strangerAfterReady: 'filtered by the OS',
    locked: {
      connect: stateError(E.AlreadyConnected),
      bind: stateError(E.WrongMode),
      sendTo: stateError(E.WrongMode),
      listen: stateError(E.NotSupported),
      accept: stateError(E.AcceptOutsideListenResult),
    },
    async cleanup() {
      for (const l of listeners.splice(0)) if (l.mode === 'server') l.shutdown();
      closePlainSockets();
    },
  };
}
