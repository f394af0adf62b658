import type { Socket } from 'node:net';
import { ISocket, ListenerStats, LogFlag, PeerCertificate, ShutdownReason, SocketOptions, USocket } from '../../api';
import { SocketErrorCode, SocketStateError } from '../../errors';
import { readDirectly } from '../direct-read';
import { enterApi, leaveApi } from '../dispatcher';
import type { IoMux } from '../iomux';
import type { RecvRequest } from '../recv-buffer';
import { SocketBase } from '../socket-base';
import { SocketState, STREAM_TRANSITIONS, TransitionTable } from '../socket-state';
import { kUpgradeTo, UpgradeOffer } from '../upgrade';
import { checkBuffer, checkConnectArgs, checkPort, checkString } from '../validate';
import { Connection, ConnectionSeed, HandedOver } from './connection';
import { Connector } from './connector';
import { ClientRole, readLimits, StreamHost, StreamLimits } from './host';
import { Listener } from './listener';
import { attach, DIRECT_READ } from './node-socket';
import type { ConnectionTicket } from './ticket';
import { Address, SecureRole, StreamTransport } from './transport';

export type { HandedOver } from './connection';

/**
 * A stream socket (TCP, TLS, local, socket-pair ends): the façade the app holds. It keeps what
 * every stream socket has — the mode lock, the user, the IoMux, the state, the stats — and plays
 * one role at a time: in client mode a {@link Connector} until the connection is up, then the
 * {@link Connection}; in server mode a {@link Listener}. What differs between transports is
 * asked of the {@link StreamTransport}'s jobs (dialer, server, securer).
 */
export class StreamSocket extends SocketBase implements StreamHost {
  readonly type: 'tcp' | 'tls' | 'local';
  protected readonly flag: LogFlag;
  // What the roles read (StreamHost); SocketBase keeps writing them.
  declare readonly state: SocketState;
  declare readonly user: USocket;
  declare readonly iomux: IoMux;
  declare readonly options: SocketOptions;
  declare readonly ipv6: boolean;

  /** Client mode: the connector until the connection is up, then the connection. */
  private client: ClientRole | null = null;
  /** Server mode: the listener. */
  private listener: Listener | null = null;
  private readonly limits: StreamLimits;
  /** A listener's options for the sockets it accepts (its own, with its IoMux and log): one object for all of them. */
  private acceptedOptions: SocketOptions | undefined;

  /** @param limits the limits of the listener that accepted this socket's connection (checked already) */
  constructor(
    private readonly transport: StreamTransport,
    user: USocket,
    options: SocketOptions,
    limits?: StreamLimits,
  ) {
    super(user, options);
    this.type = transport.type;
    this.flag = transport.flag;
    this.limits = limits ?? readLimits(options, () => transport.checkOptions?.(options));
    this.register();
  }

  protected get transitions(): TransitionTable {
    return STREAM_TRANSITIONS;
  }

  // ---- read-only facts (the addresses: SocketBase.addresses) -----------------------

  get bytesSent(): number {
    return this.client?.bytesSent ?? 0;
  }
  get bytesReceived(): number {
    return this.client?.bytesReceived ?? 0;
  }
  get droppedDatagrams(): number {
    return 0;
  }
  get connectionCount(): number {
    return this.listener?.connectionCount ?? 0;
  }

  override get alpnProtocol(): string | null {
    return this.client?.session?.alpn ?? null;
  }

  override getPeerCertificate(): PeerCertificate | null {
    return this.client?.session?.peerCertificate ?? null;
  }

  protected queuedSendBytes(): number {
    return this.client?.queuedSendBytes() ?? 0;
  }

  protected readAheadBytes(): number {
    return this.client?.readAheadBytes() ?? 0;
  }

  protected override listenerStats(): ListenerStats | null {
    return this.listener?.stats() ?? null;
  }

  // ---- client mode -------------------------------------------------------------------

  connect(address: string, serverName?: string): void {
    const dialer = this.transport.dialer;
    this.enterClientMode(() => {
      checkConnectArgs(address, serverName);
      if (!dialer) throw new SocketStateError(SocketErrorCode.NotSupported, `connect(): this ${this.type} socket cannot connect`);
    });
    const connector = new Connector(this, this.transport, this.limits);
    this.client = connector;
    connector.connect(dialer!, address, serverName ?? undefined);
  }

  send(data: Uint8Array, len?: number): void {
    this.checkIo('send');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    this.throwIfNotConnected('send');
    this.client?.send(data, n);
  }

  recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void {
    this.checkIo('recv');
    const n = checkBuffer('recv', buffer, len);
    this.throwIfRecvUndelivered();
    if (this.ended) return this.recvAfterEnd(buffer);
    if (this.view.shutdownAsked) return;
    this.throwIfNotConnected('recv');
    this.client?.recv(buffer, n, recvPartial === true);
  }

  recvCancel(): void {
    this.checkIo('recvCancel');
    if (this.ignoresCalls) return;
    this.client?.cancelPendingRecv(true);
  }

  protected cancelPendingRecv(): void {
    this.client?.cancelPendingRecv(false);
  }

  // ---- server mode -------------------------------------------------------------------

  bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void {
    let port = 0;
    const server = this.transport.server;
    this.enterServerMode(() => {
      checkString('bind: localAddress', localAddress, true);
      port = checkPort('bind', localPort);
      if (reuseAddr !== undefined && typeof reuseAddr !== 'boolean') throw new TypeError('bind: reuseAddr must be a boolean');
      if (!server) throw new SocketStateError(SocketErrorCode.NotSupported, `bind(): this ${this.type} socket cannot listen`);
      this.transport.securer?.checkServerOptions(this.options);
    });
    const listener = new Listener(this, server!, this.limits, (user, sock, ticket) => this.acceptConnection(user, sock, ticket));
    this.listener = listener;
    listener.bind(localAddress, port);
  }

  listen(): void {
    this.throwIfTakenOver('listen');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'listen() on a client-mode socket');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotBound, 'listen() before bind()');
    if (this.listener?.listening) throw new SocketStateError(SocketErrorCode.AlreadyListening, 'listen() on a socket that is already listening');
    // A bind that failed at once (malformed address) has ended the socket: nothing to listen on.
    if (this.ignoresCalls || !this.listener) return;
    this.listener.listen();
  }

  accept(remoteUser: USocket | null): void {
    this.throwIfTakenOver('accept');
    if (!this.listener) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    this.listener.accept(remoteUser);
  }

  /** The listener's factory: a new socket for an accepted connection, with this socket's transport, options, log, IoMux and limits. */
  private acceptConnection(user: USocket, sock: Socket, ticket: ConnectionTicket): void {
    // One options object for every accepted connection (not a copy per connection: memory per idle connection).
    this.acceptedOptions ??= this.handOverOptions;
    const socket = new StreamSocket(this.transport, user, this.acceptedOptions, this.limits); // may throw: nothing started
    socket.startAccepted(sock, ticket, this.listener!.acceptedEnds);
  }

  /** Makes this (new) socket the accepted end of `sock`, or reports why it cannot be. */
  private startAccepted(sock: Socket, ticket: ConnectionTicket, ends: { local: Address; remote: Address } | null): void {
    this.modeValue = 'client';
    ticket.heldBy(this);
    // A TCP connection reset before it was accepted has lost its peer address; a local one never had one.
    if (sock.destroyed || (ends === null && !sock.remoteAddress)) {
      this.trace('accept: the connection closed before it was accepted');
      sock.destroy();
      ticket.ended();
      this.reportShutdown(ShutdownReason.AcceptFailed);
      return;
    }
    if (this.transport.securer) {
      const connector = new Connector(this, this.transport, this.limits);
      this.client = connector;
      connector.accept(sock, ticket, ends);
      return;
    }
    this.setState('connecting', 'accepted');
    // Held paused (pauseOnConnect) so far: no byte was read the other way.
    readDirectly(sock, DIRECT_READ);
    this.startConnection(sock, 'accept', seedOf(ticket, ends?.local ?? null, ends?.remote ?? null));
    sock.resume();
  }

  /**
   * Makes this (new) socket one end of a socket pair: connected from the start, reported as
   * `kind` (connect or accept). The ends have no addresses: `''`, port 0, like a Unix-socket peer.
   */
  adoptPairEnd(sock: Socket, kind: 'connect' | 'accept'): void {
    this.modeValue = 'client';
    this.setState('connecting', 'socket pair');
    this.startConnection(sock, kind, seedOf(null, { address: '', port: 0 }, { address: '', port: 0 }));
  }

  private startConnection(sock: Socket, kind: 'connect' | 'accept', seed: ConnectionSeed): void {
    const connection = new Connection(this, this.transport, sock, this.limits, seed);
    this.client = connection;
    attach(sock, connection);
    connection.start(kind, false);
  }

  // ---- STARTTLS --------------------------------------------------------------------------

  /**
   * `upgradeToTls` (STARTTLS): a socket of the offered secure transport takes over this
   * connected plain socket and runs the handshake as client or server. Throws, changing
   * nothing, when this socket cannot be taken over or the options are malformed.
   * @internal
   */
  [kUpgradeTo](offer: UpgradeOffer): ISocket {
    this.checkHandOver(); // a TLS socket throws here: it is already secure
    const transport = offer.streamTransport;
    const options: SocketOptions = { ...this.handOverOptions, ...offer.options };
    if (offer.serverSide) transport.securer?.checkServerOptions(options);
    const next = new StreamSocket(transport, offer.user, options); // may throw on bad options: nothing changed yet
    const handed = this.handOver();
    next.startUpgrade(handed, { server: offer.serverSide, serverName: offer.options.serverName, hostAsWritten: handed.hostAsWritten });
    return next;
  }

  /**
   * Gives this connected socket's Node socket to its successor: this socket falls silent, its
   * undelivered read-ahead goes along (for the TLS layer, never the app).
   */
  private handOver(): HandedOver {
    this.checkHandOver();
    const handed = (this.client as Connection).release();
    this.fallSilent('upgradeToTls');
    return handed;
  }

  /** Throws, changing nothing, unless {@link StreamSocket.handOver} can proceed. */
  private checkHandOver(): void {
    if (this.transport.securer) throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: the socket is already a TLS socket');
    this.throwIfTakenOver('upgradeToTls');
    if (this.modeValue === 'server')
      throw new SocketStateError(SocketErrorCode.WrongMode, 'upgradeToTls: a listening socket cannot be upgraded; upgrade the sockets it accepts');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the socket was never connected');
    if (this.transport.cannotUpgrade) throw new SocketStateError(SocketErrorCode.NotSupported, `upgradeToTls: ${this.transport.cannotUpgrade}`);
    if (this.ignoresCalls) throw new SocketStateError(SocketErrorCode.ShutDown, 'upgradeToTls: the socket has ended or is shutting down');
    const client = this.client;
    if (this.state !== 'connected' || !(client instanceof Connection)) {
      throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the socket is not connected yet');
    }
    if (client.recvPending || this.view.recvUndelivered)
      throw new SocketStateError(SocketErrorCode.RecvPending, 'upgradeToTls: a recv is pending (or its result not delivered yet); cancel it first');
  }

  /** This new socket (of a secure transport) takes over `handed` and runs the TLS handshake as client or server. */
  private startUpgrade(handed: HandedOver, role: SecureRole): void {
    this.modeValue = 'client';
    handed.ticket?.heldBy(this);
    const connector = new Connector(this, this.transport, this.limits);
    this.client = connector;
    connector.upgrade(handed, role);
  }

  // ---- closing (shutdown() itself: SocketBase) ------------------------------------------

  protected override beginClose(): void {
    const listener = this.listener;
    if (listener) {
      listener.shutdown();
      return;
    }
    const client = this.client;
    if (!client) {
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    enterApi();
    try {
      client.shutdown();
    } finally {
      leaveApi();
    }
  }

  protected override onEnded(): void {
    (this.client ?? this.listener)?.onEnded();
  }

  // ---- what the roles may do (StreamHost) ------------------------------------------------

  get shutdownRequested(): boolean {
    return this.view.shutdownAsked;
  }

  override get ended(): boolean {
    return super.ended;
  }

  get logging(): boolean {
    return this.log.isEnabled(this.flag);
  }

  override setState(next: SocketState, why?: string): void {
    super.setState(next, why);
  }

  override trace(message: string): void {
    super.trace(message);
  }

  override emit(call: (user: USocket) => void, fromEvent = false): void {
    super.emit(call, fromEvent);
  }

  override emitRecvResult(req: RecvRequest, fromEvent = false): void {
    super.emitRecvResult(req, fromEvent);
  }

  sendCompleted(): void {
    if (!this.ended) this.iomux.dispatcher.postFromEvent(this.deliverSendResult, this);
  }

  override reportShutdown(reason: ShutdownReason, fromEvent = false): void {
    super.reportShutdown(reason, fromEvent);
  }

  override codeOf(err: unknown): string {
    return super.codeOf(err);
  }

  override noteError(code: string): void {
    super.noteError(code);
  }

  override markConnectStart(): void {
    super.markConnectStart();
  }

  override markConnected(): void {
    super.markConnected();
  }

  override markHandshakeStart(): void {
    super.markHandshakeStart();
  }

  override markHandshakeDone(): void {
    super.markHandshakeDone();
  }

  become(connection: ClientRole): void {
    this.client = connection;
  }

  // ---- helpers -----------------------------------------------------------------------

  /** Stream I/O calls: the mode lock first (a listening socket never sends or receives). */
  private checkIo(method: string): void {
    this.throwIfTakenOver(method);
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, `${method}() on a server-mode stream socket`);
  }

  private throwIfNotConnected(method: string): void {
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, `${method}() before connect()`);
  }
}

/** Where a connection starts that had no connector: accepted plainly, or one end of a socket pair. */
function seedOf(ticket: ConnectionTicket | null, standInLocal: Address | null, standInRemote: Address | null): ConnectionSeed {
  return { sends: null, waiting: null, early: null, target: null, standInLocal, standInRemote, hostAsWritten: undefined, ticket };
}
