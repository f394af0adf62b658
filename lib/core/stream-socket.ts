import { isIPv4, type Socket } from 'node:net';
import { ListenerStats, ShutdownReason, SocketOptions, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { reasonForError } from './os-errors';
import { isAddressError, resolveHost } from './address';
import { Endpoint, ResolvedEndpoint, SecureRole, StreamTransport } from './endpoint';
import { readDirectly } from './direct-read';
import { enterApi, leaveApi } from './dispatcher';
import { Completion, DIRECT_READ, StreamConnection, ownerOf } from './stream-connection';
import { ConnectionTicket, DEFAULT_BACKLOG, ListenLimits, StreamListener } from './stream-listener';
import { checkCount, checkPort, checkString } from './validate';

export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
/** A TLS peer that connects and never finishes its handshake is closed after this. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** What a socket taken over by `upgradeToTls` hands to its successor. */
export interface HandedOver {
  sock: Socket;
  /** Bytes read from the network and not delivered: they belong to the TLS layer now. */
  readAhead: Uint8Array[];
  /** The peer had already closed its side. */
  eof: boolean;
  options: SocketOptions;
  /** The host the old socket connected to, as written (else the peer's address). */
  hostAsWritten: string | undefined;
  /** An accepted connection's listener bookkeeping, which moves to the successor. */
  ticket: ConnectionTicket | null;
}

/**
 * A stream socket (TCP, TLS, local): how a connection comes to be — `connect()`, an accepted
 * connection, a TLS handshake, a STARTTLS take-over — or a listener (the listening half is a
 * {@link StreamListener}). The connection itself is {@link StreamConnection}.
 */
export class StreamSocket extends StreamConnection {
  private listener: StreamListener | null = null;
  private readonly connectTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly listenLimits: ListenLimits;
  private hostAsWritten: string | undefined;
  /** A TLS client: Node's 'connect' starts the handshake, 'secureConnect' completes it. */
  private handshakeAfterConnect = false;
  /** A listener's options for the sockets it accepts (its own, with its IoMux and log). */
  private acceptedOptions: SocketOptions | undefined;

  constructor(
    protected readonly transport: StreamTransport,
    user: USocket,
    options: SocketOptions,
  ) {
    super(transport, user, options);
    this.connectTimeoutMs = checkCount('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.handshakeTimeoutMs = checkCount('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    transport.checkOptions?.(options);
    this.listenLimits = {
      backlog: checkCount('backlog', options.backlog, DEFAULT_BACKLOG, 1),
      maxConnections: checkCount('maxConnections', options.maxConnections, Infinity),
    };
    this.register();
  }

  get connectionCount(): number {
    return this.listener?.connectionCount ?? 0;
  }

  override getLocalAddress(): { address: string; port: number } | null {
    return this.listener ? this.listener.localAddress : super.getLocalAddress();
  }

  protected override listenerStats(): ListenerStats | null {
    return this.listener?.stats() ?? null;
  }

  // ---- client mode -------------------------------------------------------------------

  connect(address: string, serverName?: string): void {
    this.enterClientMode(() => {
      checkString('connect: address', address);
      checkString('connect: serverName', serverName, true);
    });
    this.setState('resolving', address);
    this.markConnectStart();
    const endpoint = this.transport.parseConnect(address, this.ipv6);
    if (isAddressError(endpoint)) {
      this.trace(`connect(${JSON.stringify(address)}): ${endpoint.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    this.startTimer(this.connectTimeoutMs, () => {
      this.trace(`connect to ${address} timed out after ${this.connectTimeoutMs} ms (ETIMEDOUT)`);
      this.noteError('ETIMEDOUT');
      this.fail(ShutdownReason.ConnectFailed);
    });
    resolveEndpoint(endpoint, this.ipv6, (err, resolved) => {
      if (this.state !== 'resolving') return; // shut down or timed out meanwhile
      if (err || !resolved) {
        this.trace(`connect: cannot resolve ${address}: ${this.codeOf(err)}`);
        this.fail(ShutdownReason.ConnectFailed);
        return;
      }
      if (this.shutdownCalled && this.pendingSends.length === 0) {
        this.fail(ShutdownReason.Normal);
        return;
      }
      this.hostAsWritten = 'host' in endpoint ? endpoint.host : undefined;
      if ('path' in endpoint) {
        this.pathRemote = { address: endpoint.path, port: 0 };
        this.pathLocal = { address: '', port: 0 };
      }
      this.open(resolved, { server: false, serverName: serverName ?? undefined, hostAsWritten: this.hostAsWritten });
    });
  }

  private open(endpoint: ResolvedEndpoint, role: SecureRole): void {
    let opened: { socket: Socket; ready: string };
    try {
      opened = this.transport.openConnection(endpoint, this.options, role, DIRECT_READ);
    } catch (err) {
      this.trace(`connect: cannot open a socket: ${this.codeOf(err)} ${(err as Error).message}`);
      this.fail(reasonForError(err, 'connect'));
      return;
    }
    this.setState('connecting');
    // An IPv4 literal is the peer's address as getpeername would give it (IPv6 is read back in
    // Node's canonical form; 0.0.0.0 reaches the loopback address).
    if ('host' in endpoint && endpoint.host !== '0.0.0.0' && isIPv4(endpoint.host)) this.connectTarget = { address: endpoint.host, port: endpoint.port };
    this.attach(opened.socket);
    // Shared listeners (no closures per connection); each event comes once per Node socket.
    this.handshakeAfterConnect = opened.ready !== 'connect';
    opened.socket.on('connect', onNodeConnect);
    if (this.handshakeAfterConnect) opened.socket.on(opened.ready, onNodeSecureConnect);
  }

  /** @internal Node's 'connect' of a socket this one opened. */
  handleConnect(): void {
    this.markConnected();
    if (!this.handshakeAfterConnect) this.onConnected('connect', true);
    else if (this.state === 'connecting') this.startHandshake();
  }

  /** @internal Node's 'secureConnect' of a TLS socket this one opened. */
  handleSecureConnect(): void {
    this.onConnected('connect', true);
  }

  /** From here until the secure socket is ready, a failure is a handshake failure; bounded. */
  private startHandshake(): void {
    this.setState('handshaking');
    this.markHandshakeStart();
    this.startTimer(this.handshakeTimeoutMs, () => {
      this.trace(`TLS handshake not finished within ${this.handshakeTimeoutMs} ms (ERR_TLS_HANDSHAKE_TIMEOUT)`);
      this.noteError('ERR_TLS_HANDSHAKE_TIMEOUT');
      this.fail(ShutdownReason.TlsHandshakeFailed);
    });
  }

  /**
   * Runs the transport's handshake over a connected plain socket (accepted, or STARTTLS),
   * then completes as `kind`. A failure ends the socket with the handshake's reason.
   */

  private secureThen(raw: Socket, role: SecureRole, kind: Completion): void {
    this.startHandshake();
    raw.on('error', ignoreError); // errors during the handshake surface through `done`
    this.handshaking = raw;
    this.transport.secure!(raw, role, this.options, (err, secured) => {
      this.handshaking = null;
      if (this.state !== 'handshaking') {
        (secured ?? raw).destroy(); // timed out or shut down meanwhile
        return;
      }
      if (err || !secured) {
        const reason = reasonForError(err, 'handshake');
        this.trace(`TLS handshake failed: ${this.codeOf(err)} ${err?.message ?? ''} -> ${reason}`);
        raw.destroy();
        this.fail(reason);
        return;
      }
      readDirectly(secured, DIRECT_READ, true);
      this.attach(secured);
      this.onConnected(kind);
    });
  }


  // ---- server mode (delegated to the listener) ---------------------------------------

  bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void {
    let port = 0;
    this.enterServerMode(() => {
      checkString('bind: localAddress', localAddress, true);
      port = checkPort('bind', localPort);
      if (reuseAddr !== undefined && typeof reuseAddr !== 'boolean') throw new TypeError('bind: reuseAddr must be a boolean');
      this.transport.checkServerOptions?.(this.options);
    });
    this.setState('binding');
    const endpoint = this.transport.parseBind(localAddress, port, this.ipv6);
    if (isAddressError(endpoint)) {
      this.trace(`bind(${JSON.stringify(localAddress)}, ${port}): ${endpoint.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    this.listener = new StreamListener(this, this.transport, this.options, this.listenLimits, {
      trace: (m) => this.trace(m),
      bound: (address, boundPort) => {
        if (this.state !== 'binding') return;
        this.setState('bound', `${address}:${boundPort}`);
        this.emit((user) => user.socketBindResult?.(this, address, boundPort));
      },
      offer: (remoteAddr, remotePort, decide) => this.emit((user) => decide(() => user.socketListenResult?.(this, remoteAddr, remotePort))),
      failed: (reason) => this.reportShutdown(reason),
    });
    resolveEndpoint(endpoint, this.ipv6, (err, resolved) => {
      if (this.state !== 'binding') return;
      if (err || !resolved) {
        this.trace(`bind: cannot resolve ${JSON.stringify(localAddress)}: ${this.codeOf(err)}`);
        this.reportShutdown(ShutdownReason.BindFailed);
        return;
      }
      this.listener!.start(resolved);
    });
  }

  listen(): void {
    this.throwIfTakenOver('listen');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'listen() on a client-mode socket');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotBound, 'listen() before bind()');
    if (this.listener?.listening) throw new SocketStateError(SocketErrorCode.AlreadyListening, 'listen() on a socket that is already listening');
    // A bind that failed at once (malformed address) has ended the socket: nothing to listen on.
    if (this.ignoresCalls || !this.listener) return;
    this.listener.listen();
    if (this.state === 'bound') this.setState('listening');
  }

  accept(remoteUser: USocket | null): void {
    this.throwIfTakenOver('accept');
    if (!this.listener) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    this.listener.accept(remoteUser);
  }

  /** A new socket for a connection this listener accepts: same transport, options, log and IoMux. */
  makeAccepted(user: USocket): StreamSocket {
    // One options object for every accepted connection (not a copy per connection: memory per idle connection).
    this.acceptedOptions ??= { ...this.options, iomux: this.iomux, log: this.log };
    const socket = new StreamSocket(this.transport, user, this.acceptedOptions);
    if (this.type === 'local') {
      socket.pathLocal = this.listener?.localAddress ?? null;
      socket.pathRemote = { address: '', port: 0 };
    }
    return socket;
  }

  /** Makes this (new) socket the accepted end of `sock`, or reports why it cannot be. */
  adoptAccepted(sock: Socket): void {
    this.modeValue = 'client';
    // A TCP connection reset before it was accepted has lost its peer address; a local one never had one.
    if (sock.destroyed || (this.type !== 'local' && !sock.remoteAddress)) {
      this.trace('accept: the connection closed before it was accepted');
      sock.destroy();
      this.reportShutdown(ShutdownReason.AcceptFailed);
      return;
    }
    if (this.transport.secure) {
      this.secureThen(sock, { server: true }, 'accept');
      return;
    }
    this.setState('connecting', 'accepted');
    if (this.transport.readsDirectly) readDirectly(sock, DIRECT_READ);
    this.attach(sock);
    this.onConnected('accept');
    sock.resume(); // held paused (pauseOnConnect) until accepted
  }


  /**
   * Makes this (new) socket one end of a socket pair: connected from the start, reported as
   * `kind` (connect or accept). The ends have no addresses: `''`, port 0, like a Unix-socket peer.
   */
  adoptPairEnd(sock: Socket, kind: 'connect' | 'accept'): void {
    this.modeValue = 'client';
    this.pathLocal = { address: '', port: 0 };
    this.pathRemote = { address: '', port: 0 };
    this.setState('connecting', 'socket pair');
    this.attach(sock);
    this.onConnected(kind);
  }

  // ---- STARTTLS --------------------------------------------------------------------------

  /**
   * Gives this connected socket's Node socket to a successor (`upgradeToTls`): this socket
   * falls silent, its undelivered read-ahead goes along (for the TLS layer, never the app).
   * @throws SocketStateError when it is not a connected stream socket with no recv pending.
   */
  handOver(): HandedOver {
    this.checkHandOver();
    const sock = this.node!;
    this.detach(sock);
    const readAhead = this.recvBuffer.drain();
    this.node = null;
    this.clearTimer();
    this.setState('takenOver', 'upgradeToTls');
    this.iomux.unregister(this);
    // The listener counts the connection, not the socket object: the successor ends it.
    const ticket = this.ticket;
    this.ticket = null;
    // A local socket's "remote address" is a path: no name to verify or send as SNI.
    const hostAsWritten = this.hostAsWritten ?? (this.type === 'local' ? undefined : this.remote?.address);
    return { sock, readAhead, eof: this.eof, options: this.options, hostAsWritten, ticket };
  }

  /** Throws, changing nothing, unless {@link StreamSocket.handOver} can proceed. */
  checkHandOver(): void {
    this.throwIfTakenOver('upgradeToTls');
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, 'upgradeToTls: a listening socket cannot be upgraded; upgrade the sockets it accepts');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the socket was never connected');
    if (this.transport.cannotUpgrade) throw new SocketStateError(SocketErrorCode.NotSupported, `upgradeToTls: ${this.transport.cannotUpgrade}`);
    if (this.ignoresCalls) throw new SocketStateError(SocketErrorCode.ShutDown, 'upgradeToTls: the socket has ended or is shutting down');
    if (this.state !== 'connected' || !this.node) throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the socket is not connected yet');
    if (this.recvBuffer.pending || this.recvUndelivered) throw new SocketStateError(SocketErrorCode.RecvPending, 'upgradeToTls: a recv is pending (or its result not delivered yet); cancel it first');
  }

  /** The options a successor inherits (IoMux, log, limits), before its own override them. */
  get handOverOptions(): SocketOptions {
    return { ...this.options, iomux: this.iomux, log: this.log };
  }

  /** This new socket takes over `handed` and runs the TLS handshake as client or server. */
  startUpgrade(handed: HandedOver, role: SecureRole): void {
    this.modeValue = 'client';
    this.ticket = handed.ticket;
    this.ticket?.moveTo(this);
    const { sock, readAhead } = handed;
    // Queued sends of the old socket go first (contract §6): hand over once Node has written them.
    const start = (): void => {
      if (this.state !== 'handshaking') return;
      // Bytes read ahead were meant for the TLS layer (an early ClientHello, or pipelined
      // plaintext that must fail the handshake): put them back in front of the stream.
      for (let i = readAhead.length - 1; i >= 0; i--) sock.unshift(readAhead[i]);
      this.transport.secure!(sock, role, this.options, (err, secured) => this.upgraded(sock, err, secured));
    };
    this.startHandshake();
    sock.on('error', ignoreError);
    this.handshaking = sock; // ours from now on: a failure or time-out closes it
    if (handed.eof || sock.destroyed) {
      this.trace('upgradeToTls: the peer had already closed the connection');
      this.fail(ShutdownReason.TlsHandshakeFailed);
      return;
    }
    if (sock.writableLength > 0) sock.write(EMPTY, start);
    else start();
  }

  private upgraded(raw: Socket, err: NodeJS.ErrnoException | null, secured: Socket | undefined): void {
    this.handshaking = null;
    if (this.state !== 'handshaking') {
      (secured ?? raw).destroy();
      return;
    }
    if (err || !secured) {
      const reason = reasonForError(err, 'handshake');
      this.trace(`STARTTLS handshake failed: ${this.codeOf(err)} ${err?.message ?? ''} -> ${reason}`);
      raw.destroy();
      this.fail(reason);
      return;
    }
    readDirectly(secured, DIRECT_READ, true);
    this.attach(secured);
    this.onConnected('upgrade');
  }


  // ---- closing -----------------------------------------------------------------------

  shutdown(): void {
    this.throwIfTakenOver('shutdown');
    if (this.ignoresCalls) return this.shutdownAfterEnd();
    this.shutdownCalled = true;
    this.cancelPendingRecv();
    if (this.listener) {
      this.listener.close();
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    enterApi();
    try {
      this.shutdownConnection();
    } finally {
      leaveApi();
    }
  }
}

const EMPTY = Buffer.alloc(0);

function ignoreError(): void {
  // The socket is between owners (a handshake or hand-over runs); its errors reach the new owner.
}

// Node calls event listeners with the Node socket as `this`.
function onNodeConnect(this: Socket): void {
  (ownerOf(this) as StreamSocket | undefined)?.handleConnect();
}
function onNodeSecureConnect(this: Socket): void {
  (ownerOf(this) as StreamSocket | undefined)?.handleSecureConnect();
}

/** Resolves the host of an endpoint (paths need nothing). */
function resolveEndpoint(endpoint: Endpoint, ipv6: boolean, done: (err: NodeJS.ErrnoException | null, resolved?: ResolvedEndpoint) => void): void {
  if ('path' in endpoint) {
    process.nextTick(done, null, endpoint);
    return;
  }
  resolveHost(endpoint.host, endpoint.kind, ipv6, (err, host) => (err ? done(err) : done(null, { host, port: endpoint.port })));
}
