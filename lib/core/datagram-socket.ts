import { isIPv4, isIPv6 } from 'node:net';
import { ISocket, ListenerStats, LogFlag, ShutdownReason, SocketOptions, SocketUser, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { isAddressError, parseBindHost, parseHostPort, resolveHost } from './address';
import { DatagramBase } from './datagram-base';
import { SecureDatagramSocket } from './datagram-secure';
import { SecureDatagramListener } from './datagram-secure-listener';
import { DatagramListener, PeerPath } from './datagram-listener';
import { DatagramHandle, DatagramSink, DatagramTransport, HandedDatagram, HostPort } from './datagram-path';
import { Datagram } from './datagram-queue';
import { DEFAULT_DATAGRAM_QUEUE, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_UDP_BUFFER } from './defaults';
import { Fifo } from '../util/fifo';
import { reasonForError } from './os-errors';
import { sendPool } from './send-pool';
import { TransitionTable, UDP_TRANSITIONS } from './socket-state';
import { kUpgradeTo, UpgradeOffer } from './upgrade';
import { checkBuffer, checkCount, checkPort, checkString, checkTimeout } from './validate';

/**
 * A UDP socket: the state machine over a {@link DatagramHandle} that a {@link DatagramTransport}
 * opens (Node's dgram, `transports/udp.ts`). `bind()` makes it a server that receives from anyone
 * and sends with `sendTo`; `connect()` a client that talks to one peer with `send` and hears
 * only that peer. Each `recv` takes one datagram, cut to the asked length.
 */
export class DatagramSocket extends DatagramBase<DatagramHandle> {
  protected readonly flag = LogFlag.Udp;

  /** Where the `sendTo` datagrams held in {@link DatagramBase.sends} go, oldest first (see sendTo). */
  private readonly heldDestinations = new Fifo<HostPort>();
  /** The last `sendTo` destination that passed the address check. */
  private lastGoodDst: string | undefined;
  private hostAsWritten: string | undefined;
  private readonly recvBufferSize: number;
  private readonly sendBufferSize: number;
  /** `listen()` made this bound socket a datagram listener (it owns the handle from then on). */
  private listener: DatagramListener | null = null;
  /** `listen()` was called while the bind was on its way: the listener starts once bound. */
  private listenAsked = false;

  constructor(
    private readonly transport: DatagramTransport,
    user: USocket,
    options: SocketOptions,
  ) {
    super(user, options);
    this.recvBufferSize = checkCount('recvBufferSize', options.recvBufferSize, DEFAULT_UDP_BUFFER, 1);
    this.sendBufferSize = checkCount('sendBufferSize', options.sendBufferSize, DEFAULT_UDP_BUFFER, 1);
    if (options.multicastGroups !== undefined && !Array.isArray(options.multicastGroups)) {
      throw new TypeError('multicastGroups: expected an array of group addresses');
    }
    checkCount('maxConnections', options.maxConnections, Infinity);
    checkTimeout('idleTimeoutMs', options.idleTimeoutMs, DEFAULT_IDLE_TIMEOUT_MS);
    this.register();
  }

  protected get transitions(): TransitionTable {
    return UDP_TRANSITIONS;
  }

  // ---- modes ---------------------------------------------------------------------------

  connect(address: string, _serverName?: string): void {
    this.enterClientMode(() => checkString('connect: address', address));
    // Until the connect completed, nobody knows who the peer is: what arrives waits (see onConnected).
    this.receiver.hold();
    this.setState('resolving', address);
    this.markConnectStart();
    const target = parseHostPort(address, this.ipv6);
    if (isAddressError(target)) {
      this.trace(`connect(${JSON.stringify(address)}): ${target.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    this.hostAsWritten = target.host;
    resolveHost(target.host, target.kind, this.ipv6, (err, host) => {
      if (this.state !== 'resolving') return;
      if (err) {
        this.trace(`connect: cannot resolve ${address}: ${this.codeOf(err)}`);
        this.reportShutdown(ShutdownReason.ConnectFailed);
        return;
      }
      const handle = this.open(false);
      if (handle === null) return;
      this.setState('connecting');
      this.applyGroupOptions(handle); // broadcast must be on before connecting to a broadcast address
      handle.connect(target.port, host, (connectErr?: Error) => {
        if (!connectErr) {
          this.onConnected();
          return;
        }
        if (this.state !== 'connecting') return;
        const reason = reasonForError(connectErr, 'connect');
        this.trace(`connect error ${this.codeOf(connectErr)} (${connectErr.message}) -> ${reason}`);
        this.reportShutdown(reason);
      });
    });
  }

  private onConnected(): void {
    if (this.state !== 'connecting') return;
    this.markConnected();
    const handle = this.path!;
    const local = (this.addresses.local = handle.localAddress());
    const peer = (this.addresses.remote = handle.remoteAddress());
    this.setState('connected', `${local.address}:${local.port} -> ${peer.address}:${peer.port}`);
    this.emit((user) => {
      if (!this.view.shutdownAsked) user.socketConnectComplete?.(this);
    });
    this.dropStrangersHeld();
    this.sends.open();
    if (this.view.shutdownAsked) this.closeWhenFlushed();
  }

  bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void {
    let port = 0;
    this.enterServerMode(() => {
      checkString('bind: localAddress', localAddress, true);
      port = checkPort('bind', localPort);
      if (reuseAddr !== undefined && typeof reuseAddr !== 'boolean') throw new TypeError('bind: reuseAddr must be a boolean');
    });
    this.setState('binding');
    const host = parseBindHost(localAddress, this.ipv6);
    if (isAddressError(host)) {
      this.trace(`bind(${JSON.stringify(localAddress)}, ${port}): ${host.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    resolveHost(host.host, host.kind, this.ipv6, (err, address) => {
      if (this.state !== 'binding') return;
      if (err) {
        this.trace(`bind: cannot resolve ${JSON.stringify(localAddress)}: ${this.codeOf(err)}`);
        this.reportShutdown(ShutdownReason.BindFailed);
        return;
      }
      this.startBind(address, port, reuseAddr === true, true);
    });
  }

  /** Binds the handle; `report` false for the implicit bind of a first `sendTo`. */
  private startBind(address: string, port: number, reuseAddr: boolean, report: boolean): void {
    const handle = this.open(reuseAddr, report);
    if (handle === null) return;
    handle.bind(address, port, () => {
      if (this.state !== 'binding') return;
      const local = (this.addresses.local = handle.localAddress());
      this.applyGroupOptions(handle);
      this.setState('bound', `${local.address}:${local.port}${report ? '' : ' (implicit, for sendTo)'}`);
      const { address: a, port: p } = local;
      if (report) this.emit((user) => user.socketBindResult?.(this, a, p));
      if (this.listenAsked) this.startListening();
    });
    // sendTo datagrams held while bind() resolved its name go first; the handle queues them
    // behind its bind (a send before bind() would make dgram bind a port of its own).
    this.sends.open();
  }

  // ---- sending ---------------------------------------------------------------------------

  send(data: Uint8Array, len?: number): void {
    this.throwIfTakenOver('send');
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, 'send() on a bound UDP socket: use sendTo(), or connect() a socket');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    if (this.modeValue === 'none')
      throw new SocketStateError(SocketErrorCode.NotConnected, 'send() on a UDP socket before connect(): use sendTo(), or connect() first');
    this.sends.push(sendPool.copy(data, n)); // held until the connect completed
  }

  override sendTo(data: Uint8Array, len: number | undefined, dstAddress: string, dstPort: number): void {
    this.throwIfTakenOver('sendTo');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'sendTo() on a connected UDP socket: use send()');
    this.throwIfListening('sendTo');
    const n = checkBuffer('sendTo', data, len);
    // A server answers the same few peers over and over: the last good address skips the parse.
    if (typeof dstAddress !== 'string' || dstAddress !== this.lastGoodDst) {
      checkString('sendTo: dstAddress', dstAddress);
      if (!(this.ipv6 ? isIPv6(dstAddress) : isIPv4(dstAddress))) {
        throw new TypeError(`sendTo: ${JSON.stringify(dstAddress)} is not an ${this.ipv6 ? 'IPv6' : 'IPv4'} address (the socket's family)`);
      }
      this.lastGoodDst = dstAddress;
    }
    const port = checkPort('sendTo', dstPort);
    if (port === 0) throw new RangeError('sendTo: port 0 is not a destination');
    if (this.ignoresCalls) return;
    if (this.modeValue === 'none') {
      // The first sendTo binds an ephemeral port: server mode, no socketBindResult (§10).
      this.modeValue = 'server';
      this.setState('binding', 'implicit bind for sendTo');
      this.startBind(this.ipv6 ? '::' : '0.0.0.0', 0, false, false);
      if (this.ended) return;
    }
    const copy = sendPool.copy(data, n);
    if (this.path === null) {
      // bind() is still resolving its name: held, in order, until the handle is open (startBind).
      this.heldDestinations.push({ address: dstAddress, port });
      this.sends.push(copy);
      return;
    }
    // Each datagram has its own destination: handed down here, counted in flight by the queue.
    // The handle queues sends made while its bind is on the way.
    this.sends.handedDown(copy);
    this.path.send(copy, port, dstAddress, this.onSent);
  }

  /**
   * @internal A held send, handed down once the handle is open: a connected socket's `send`
   * (to its peer), or a `sendTo` made while bind() resolved its name (to its own destination).
   */
  transmit(data: Buffer): void {
    const to = this.heldDestinations.shift();
    this.path!.send(data, to?.port, to?.address, this.onSent);
  }

  /** The handle's completion of the oldest send in flight: one shared callback, no closure per datagram. */
  private readonly onSent = (err: Error | null): void => this.sends.complete(err);

  /** @internal */
  sendFinished(data: Buffer, err: Error | null): void {
    const n = data.byteLength;
    if (err) {
      // The contract: a datagram the OS refuses is logged and still gets its send result.
      this.trace(`send of ${n} bytes refused: ${this.codeOf(err)} ${err.message}`);
    } else {
      this.sent += n;
      sendPool.release(data); // the handle is done with it
    }
    // The handle completes sends in a later tick or from libuv, never inside send(): direct delivery is safe.
    if (!this.ended) this.iomux.dispatcher.postFromEvent(this.deliverSendResult, this);
  }

  // ---- receiving -------------------------------------------------------------------------

  /**
   * The connect completed: of the datagrams that arrived while it was on its way, those not
   * from the peer are dropped and counted (`strangerDatagrams`). The OS filters a connected
   * socket, but not what it had queued before: dgram binds the port a moment before it connects
   * it, and a datagram that comes in between stays in the queue. A recv pending since then is
   * served from what is left, after socketConnectComplete.
   */
  private dropStrangersHeld(): void {
    for (const d of this.receiver.release((address, port) => this.isFromPeer(address, port))) {
      this.received -= d.data.byteLength;
      this.messagesReceived--;
      this.noteStranger(d.address, d.port);
    }
  }

  /** @internal */
  datagramArrived(msg: Buffer, address: string, port: number): void {
    if (this.ignoresCalls) return;
    // A connected socket: the OS's own filter misses datagrams it queued before the connect.
    if (this.addresses.remote !== null && !this.isFromPeer(address, port)) {
      this.noteStranger(address, port);
      return;
    }
    this.received += msg.byteLength;
    this.messagesReceived++;
    this.receiver.arrive(msg, address, port, true);
  }

  override recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void {
    this.throwIfTakenOver('recv');
    this.throwIfListening('recv');
    super.recv(buffer, len, recvPartial);
  }

  // ---- the datagram listener ---------------------------------------------------------------

  /**
   * `listen()` on a bound socket (or one whose `bind()` is on its way): it becomes a datagram
   * listener (`core/datagram-listener.ts`) that offers each new peer in `socketListenResult`.
   * Throws on a socket that is not bound (`ERR_SOCKET_NOT_BOUND`), a connected one
   * (`ERR_SOCKET_WRONG_MODE`), a second time, or with a recv pending.
   */
  override listen(): void {
    this.throwIfTakenOver('listen');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'listen() on a connected UDP socket: bind() a socket to listen');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotBound, 'listen() on a UDP socket that is not bound: bind() it first');
    if (this.listener || this.listenAsked) throw new SocketStateError(SocketErrorCode.AlreadyListening, 'listen() twice');
    if (this.ignoresCalls) return;
    if (this.receiver.hasPending || this.view.recvUndelivered)
      throw new SocketStateError(SocketErrorCode.RecvPending, 'listen(): a recv is pending (or its result not delivered yet); cancel it first');
    this.listenAsked = true;
    if (this.state === 'bound') this.startListening(); // else once bound (startBind)
  }

  override accept(remoteUser: USocket | SocketUser | null): void {
    this.throwIfTakenOver('accept');
    if (!this.listener) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    this.listener.accept(remoteUser);
  }

  override get connectionCount(): number {
    return this.listener?.live ?? 0;
  }

  protected override listenerStats(): ListenerStats | null {
    return this.listener?.stats() ?? null;
  }

  private throwIfListening(method: string): void {
    if (this.listener || this.listenAsked) {
      throw new SocketStateError(SocketErrorCode.WrongMode, `${method}() on a listening UDP socket: each peer talks through its accepted socket`);
    }
  }

  /** The handle goes to the listener; datagrams that came before `listen()` go to it first, as if they arrived now. */
  private startListening(): void {
    const handle = this.path!;
    this.path = null;
    const queued = this.receiver.drain();
    const o = this.options;
    this.listener = new DatagramListener(
      handle,
      {
        socket: this,
        post: (call) => this.emit(call),
        trace: (m) => this.trace(m),
        makeAccepted: (user, path, held) => this.makeAccepted(user, path, held),
      },
      {
        maxConnections: o.maxConnections ?? Infinity,
        queueLength: o.datagramQueueLength ?? DEFAULT_DATAGRAM_QUEUE,
        idleTimeoutMs: o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      },
    );
    const local = this.addresses.local!;
    this.setState('listening', `datagram listener on ${local.address}:${local.port}`);
    for (const d of queued) this.listener.datagramArrived(d.data as Buffer, d.address, d.port);
  }

  /** The per-peer socket of an accepted peer: a connected UDP socket over the listener's `path`, with this socket's options. */
  private makeAccepted(user: USocket, path: PeerPath, held: Datagram[]): DatagramSink {
    const socket = new DatagramSocket(this.transport, user, this.handOverOptions);
    socket.adoptPeer(path, held);
    return socket;
  }

  /** @internal Starts as an accepted per-peer socket: connected, mode client; `socketAcceptComplete`. */
  adoptPeer(path: PeerPath, held: Datagram[]): void {
    this.modeValue = 'client';
    this.path = path;
    const local = (this.addresses.local = path.localAddress());
    const peer = (this.addresses.remote = path.remoteAddress());
    this.setState('connected', `accepted: ${local.address}:${local.port} <- ${peer.address}:${peer.port}`);
    this.emit((u) => {
      if (!this.view.shutdownAsked) u.socketAcceptComplete?.(this);
    });
    for (const d of held) this.datagramArrived(d.data as Buffer, d.address, d.port);
    this.sends.open();
  }

  /** @internal The listener's idle time-out: the peer went silent. */
  pathLost(): void {
    if (this.ignoresCalls) return;
    this.noteError('ERR_SOCKET_IDLE_TIMEOUT');
    this.reportShutdown(ShutdownReason.Lost);
  }

  // ---- errors and closing ------------------------------------------------------------------

  /** @internal */
  pathError(err: NodeJS.ErrnoException): void {
    if (this.state === 'binding' || this.state === 'resolving' || this.state === 'connecting') {
      const phase = this.state === 'binding' ? 'bind' : 'connect';
      const reason = reasonForError(err, phase);
      this.trace(`${phase} error ${this.codeOf(err)} (${err.message}) -> ${reason}`);
      this.reportShutdown(reason);
      return;
    }
    // UDP has no connection to lose: an ICMP error (e.g. ECONNREFUSED from a connected peer
    // with no listener) concerns one datagram. Logged; the socket stays usable.
    this.trace(`error ${this.codeOf(err)} (${err.message}); the socket stays open`);
  }

  /** While a connect is on its way, sends held for it still go out: it completes, they go, then the close (onConnected). */
  protected override beginClose(): void {
    this.receiver.clear();
    if (this.listener) {
      this.reportShutdown(ShutdownReason.Normal); // a listener: stops offering (onEnded); accepted sockets live on
      return;
    }
    if (this.state === 'resolving' || this.state === 'connecting') {
      if (this.sends.heldCount === 0) this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    this.closeWhenFlushed();
  }

  /** A listener stops offering; the handle closes once its last accepted socket ended. */
  protected override onEnded(): void {
    this.listener?.close();
    super.onEnded();
  }

  // ---- DTLS hand-over ------------------------------------------------------------------------

  /**
   * `upgradeToTls` with options that allow DTLS: a {@link SecureDatagramSocket} takes over the
   * handle, as the client side (a connected socket) or the server side (connected, or bound:
   * it serves the first peer that completes a handshake). Throws, changing nothing, when the
   * options or the socket do not allow it.
   * @internal
   */
  [kUpgradeTo](offer: UpgradeOffer): ISocket {
    const session = offer.dtlsSession(); // the options first: a context that allows DTLS
    if (this.listener) return this.upgradeListener(offer);
    if (!offer.serverSide && this.modeValue !== 'client') {
      throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: a DTLS client side needs a connected UDP socket');
    }
    this.checkHandOver();
    const next = new SecureDatagramSocket(offer.user, { ...this.handOverOptions, ...offer.options }); // may throw on bad options: nothing changed yet
    next.start(this.handOver(), session, offer.serverSide);
    return next;
  }

  /** A listening socket becomes a DTLS listener (server side only): it takes over the datagram listener. */
  private upgradeListener(offer: UpgradeOffer): ISocket {
    this.throwIfTakenOver('upgradeToTls');
    if (!offer.serverSide)
      throw new SocketStateError(
        SocketErrorCode.WrongMode,
        'upgradeToTls of a listening UDP socket: only the server side ({ serverSide: true }) makes a DTLS listener',
      );
    if (this.ignoresCalls) throw new SocketStateError(SocketErrorCode.ShutDown, 'upgradeToTls: the socket has ended or is shutting down');
    const listener = this.listener!;
    const next = new SecureDatagramListener(offer.user, { ...this.handOverOptions, ...offer.options }, listener, offer.dtlsGate(), () =>
      offer.dtlsSession(true),
    );
    this.listener = null;
    next.start(listener.localAddress());
    this.fallSilent('upgradeToTls (DTLS listener)');
    return next;
  }

  /**
   * Gives the handle to the DTLS successor: this socket falls silent; datagrams that arrived and
   * were not read go along (a ClientHello may be among them).
   */
  private handOver(): HandedDatagram {
    this.checkHandOver();
    const path = this.path!;
    path.setSink(null);
    const queued = this.receiver.drain();
    this.path = null;
    this.fallSilent('upgradeToTls (DTLS)');
    return {
      path,
      queued,
      peer: this.addresses.remote,
      connected: this.modeValue === 'client',
      options: this.handOverOptions,
      hostAsWritten: this.hostAsWritten,
    };
  }

  /** Throws, changing nothing, unless {@link DatagramSocket.handOver} can proceed. */
  private checkHandOver(): void {
    this.throwIfTakenOver('upgradeToTls');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the UDP socket is neither connected nor bound');
    if (this.ignoresCalls) throw new SocketStateError(SocketErrorCode.ShutDown, 'upgradeToTls: the socket has ended or is shutting down');
    if ((this.state !== 'connected' && this.state !== 'bound') || !this.path) {
      throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the UDP socket is not connected or bound yet');
    }
    if (this.receiver.hasPending || this.view.recvUndelivered)
      throw new SocketStateError(SocketErrorCode.RecvPending, 'upgradeToTls: a recv is pending (or its result not delivered yet); cancel it first');
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** Opens the handle (`appBind`: for the app's `bind()`); null (and the socket ended) if the OS refuses one. */
  private open(reuseAddr: boolean, appBind = false): DatagramHandle | null {
    try {
      const { ipv6, recvBufferSize, sendBufferSize } = this;
      const settings = { ipv6, reuseAddr, recvBufferSize, sendBufferSize, shared: appBind, reusePort: appBind && this.options.reusePort === true };
      this.path = this.transport.open(settings, this);
      return this.path;
    } catch (err) {
      this.trace(`cannot open a UDP socket: ${this.codeOf(err)} ${(err as Error).message}`);
      this.reportShutdown(reasonForError(err, this.modeValue === 'client' ? 'connect' : 'bind'));
      return null;
    }
  }

  /** Broadcast and multicast options; each refused one is logged and the others still apply. */
  private applyGroupOptions(handle: DatagramHandle): void {
    handle.applyGroupOptions(this.options, this.modeValue === 'server', (what, err) => {
      this.trace(`${what} refused: ${this.codeOf(err)} ${(err as Error).message}`);
    });
  }
}
