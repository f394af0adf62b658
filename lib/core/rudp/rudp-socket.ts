/**
 * The rudp socket (docs/rudp.md): connection-oriented reliable messages over UDP, with the
 * stream sockets' mode lock, callbacks and end rules. A client opens its own UDP handle and
 * runs the cookie handshake; a server's `listen()` hands its handle to a {@link RudpListener},
 * which makes one accepted RudpSocket per peer. The reliability is {@link Connection}'s.
 */
import { ISocket, ListenerStats, LogFlag, ShutdownReason, SocketOptions, SocketStats, SocketUser, USocket } from '../../api';
import type { SendOptions } from '../../api-rudp';
import { SocketErrorCode, SocketStateError } from '../../errors';
import { reasonForError } from '../os-errors';
import { isAddressError, parseBindHost, parseHostPort, resolveHost } from '../address';
import { DatagramHandle, DatagramSink, DatagramTransport } from '../datagram-path';
import { DEFAULT_UDP_BUFFER } from '../defaults';
import { RECV_FROM, RECV_PLAIN } from '../recv-route';
import { SocketBase } from '../socket-base';
import { TransitionTable } from '../socket-state';
import { kUpgradeTo, UpgradeOffer } from '../upgrade';
import { checkBuffer, checkCount, checkPort, checkString } from '../validate';
import { Connection, ConnectionHost, INITIAL_CREDIT } from './connection';
import { answerChallenge, kRebind, openRebound } from './migration';
import { checkSendOptions, RudpSettings, rudpSettings } from './options';
import { RudpListener } from './rudp-listener';
import { connectionStats } from './rudp-stats';
import { SendLanes, sendQueueLimit } from './send-lanes';
import { Simulator } from './simulate';
import { CloseCode, COOKIE_BYTES, HEADER, INITIAL_SIZE, newConnectionId, PacketType, readHeader, writeHeader } from './wire';

const INITIAL_RETRY_MS = 250;

/** `idle -> connected`: an accepted connection. No `closing` state is reported: a flushing socket stays `connected`. */
export const RUDP_TRANSITIONS: TransitionTable = {
  idle: ['resolving', 'binding', 'connected', 'closed'],
  resolving: ['connecting', 'closed'],
  connecting: ['handshaking', 'connected', 'closed'],
  handshaking: ['connected', 'closed'],
  connected: ['closing', 'closed'],
  binding: ['bound', 'closed'],
  bound: ['listening', 'closed'],
  listening: ['closed'],
  closing: ['closed'],
  closed: [],
  takenOver: [],
};

/** What an accepted socket sends through: the listener's handle, to its peer. */
export interface PeerLink {
  send(data: Buffer): void;
  /** The socket ended: the listener forgets it. */
  release(): void;
}

export class RudpSocket extends SocketBase implements DatagramSink, ConnectionHost {
  readonly type = 'rudp' as const;
  protected readonly flag = LogFlag.Rudp;
  readonly settings: RudpSettings;
  private handle: DatagramHandle | null = null;
  private link: PeerLink | null = null;
  private conn: Connection | null = null;
  private listener: RudpListener | null = null;
  private localCid = newConnectionId();
  private cookie: Buffer | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private closeTimer: NodeJS.Timeout | null = null;
  /** The app's messages, in lanes: queued from the first send (also while connecting), sent by the connection. */
  private readonly outgoing: SendLanes;
  private pendingRecv: { buffer: Uint8Array; len: number } | null = null;
  /** The rest of a message longer than the recv that took its start. */
  private partial: Buffer | null = null;
  /** The peer closed cleanly while messages still waited for the app: BY_PEER once they are read. */
  private peerGone = false;
  readonly simulator: Simulator | null;

  constructor(
    private readonly transport: DatagramTransport,
    user: USocket,
    options: SocketOptions,
  ) {
    super(user, options);
    this.settings = rudpSettings(options);
    this.outgoing = new SendLanes(this.settings.lanes, sendQueueLimit(this.settings.maxMessageSize), INITIAL_CREDIT);
    this.simulator = options.simulate ? new Simulator(options.simulate) : null;
    checkCount('maxConnections', options.maxConnections, Infinity);
    this.register();
  }

  protected get transitions(): TransitionTable {
    return RUDP_TRANSITIONS;
  }

  // ---- client --------------------------------------------------------------------------

  connect(address: string, _serverName?: string): void {
    this.enterClientMode(() => checkString('connect: address', address));
    this.setState('resolving', address);
    this.markConnectStart();
    const target = parseHostPort(address, this.ipv6);
    if (isAddressError(target)) {
      this.trace(`connect(${JSON.stringify(address)}): ${target.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    resolveHost(target.host, target.kind, this.ipv6, (err, host) => {
      if (this.state !== 'resolving') return;
      if (err) {
        this.trace(`connect: cannot resolve ${address}: ${this.codeOf(err)}`);
        this.reportShutdown(ShutdownReason.ConnectFailed);
        return;
      }
      const handle = this.open(false);
      if (!handle) return;
      this.setState('connecting');
      handle.connect(target.port, host, (connectErr) => {
        if (this.state !== 'connecting') return;
        if (connectErr) {
          this.reportShutdown(reasonForError(connectErr, 'connect'));
          return;
        }
        this.addresses.local = handle.localAddress();
        this.addresses.remote = handle.remoteAddress();
        this.setState('handshaking', 'cookie handshake');
        this.markHandshakeStart();
        if (this.settings.connectTimeoutMs > 0) {
          this.connectTimer = setTimeout(() => this.connectFailed('no answer within connectTimeoutMs'), this.settings.connectTimeoutMs);
        }
        this.sendInitial();
      });
    });
  }

  private open(reuseAddr: boolean): DatagramHandle | null {
    try {
      this.handle = this.transport.open(
        { ipv6: this.ipv6, reuseAddr, recvBufferSize: DEFAULT_UDP_BUFFER, sendBufferSize: DEFAULT_UDP_BUFFER, shared: false },
        this,
      );
      return this.handle;
    } catch (err) {
      this.trace(`cannot open a UDP handle: ${this.codeOf(err)}`);
      this.reportShutdown(ShutdownReason.ConnectFailed);
      return null;
    }
  }

  private sendInitial(): void {
    if (this.state !== 'handshaking') return;
    const buf = Buffer.alloc(INITIAL_SIZE);
    writeHeader(buf, PacketType.Initial, 0, this.localCid);
    if (this.cookie) {
      buf[HEADER] = this.cookie.byteLength;
      this.cookie.copy(buf, HEADER + 1);
    }
    this.wire(buf);
    this.retryTimer = setTimeout(() => this.sendInitial(), INITIAL_RETRY_MS);
  }

  private connectFailed(why: string, reason = ShutdownReason.ConnectFailed): void {
    if (this.state !== 'handshaking' && this.state !== 'connecting') return;
    this.trace(`connect: ${why}`);
    this.reportShutdown(reason);
  }

  // ---- the handle's sink (client and listening server) -----------------------------------------

  datagramArrived(data: Buffer, address: string, port: number): void {
    if (this.simulator) this.simulator.apply(() => this.arrived(data, address, port), data.byteLength);
    else this.arrived(data, address, port);
  }

  private arrived(data: Buffer, address: string, port: number): void {
    if (this.listener) return this.listener.arrived(data, address, port);
    if (this.ended && !this.conn?.closing) return; // after the end, only the close's acknowledgement matters
    const h = readHeader(data);
    if (!h || h.dcid !== this.localCid) return;
    if (this.state === 'handshaking') {
      if (h.type === PacketType.Retry && data.byteLength >= HEADER + COOKIE_BYTES) {
        this.cookie = Buffer.from(data.subarray(HEADER, HEADER + COOKIE_BYTES));
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.sendInitial();
      } else if (h.type === PacketType.Accept) this.established(h.scid);
      else if (h.type === PacketType.Reject) this.connectFailed('the server denied the connection', ShutdownReason.ConnectRejected);
      return;
    }
    if (h.type === PacketType.PathChallenge) this.answerPathChallenge(data);
    else if (this.conn && h.type >= PacketType.Data && h.type <= PacketType.CloseAck) this.conn.receive(h.type, data);
  }

  pathError(err: NodeJS.ErrnoException): void {
    if (this.state === 'handshaking' || this.state === 'connecting') {
      this.noteError(err.code ?? 'ERROR');
      this.connectFailed(`${err.code}: nobody on the port`, err.code === 'ECONNREFUSED' ? ShutdownReason.ConnectRejected : ShutdownReason.ConnectFailed);
    } else this.trace(`UDP error ${err.code ?? ''} ignored (${err.message})`);
  }

  private established(peerCid: number): void {
    this.clearConnectTimers();
    this.markConnected();
    this.markHandshakeDone();
    this.startConnection(peerCid);
    this.setState('connected', `connection ${this.localCid.toString(16)} <-> ${peerCid.toString(16)}`);
    this.emit((user) => {
      if (!this.view.shutdownAsked) user.socketConnectComplete?.(this);
    });
    this.conn!.wake(); // the sends made while connecting
    if (this.view.shutdownAsked) this.closeWhenDelivered();
  }

  /** @internal An accepted connection: made connected by the listener. */
  startAccepted(link: PeerLink, localCid: number, peerCid: number, local: { address: string; port: number }, remote: { address: string; port: number }): void {
    this.modeValue = 'client';
    this.link = link;
    this.localCid = localCid;
    this.addresses.local = local;
    this.addresses.remote = remote;
    this.startConnection(peerCid);
    this.setState('connected', `accepted ${remote.address}:${remote.port}`);
    this.emit((user) => user.socketAcceptComplete?.(this));
  }

  /** @internal A packet of this accepted connection, from the listener. */
  packet(type: PacketType, data: Buffer): void {
    if (type === PacketType.PathChallenge) this.answerPathChallenge(data);
    else this.conn?.receive(type, data);
  }

  private startConnection(peerCid: number): void {
    const s = this.settings;
    this.conn = new Connection(
      { localCid: this.localCid, peerCid, mtu: s.mtu, maxMessageSize: s.maxMessageSize, idleTimeoutMs: s.idleTimeoutMs, keepAliveMs: s.keepAliveMs },
      this, // the socket is its connection's host (methods, not closures: an idle connection costs less)
      this.outgoing,
    );
  }

  // ---- the connection's host (ConnectionHost) ------------------------------------------------

  /** @internal */
  sendDatagram(buf: Buffer): void {
    this.wire(buf);
  }

  /** @internal */
  messagesDone(n: number): void {
    for (let i = 0; i < n; i++) this.emitSendResult();
    if (this.view.shutdownAsked && this.outgoing.pending === 0) this.finishClose();
  }

  /** @internal */
  messageReady(): void {
    this.serveRecv();
  }

  /** @internal */
  peerClosed(code: CloseCode): void {
    if (code !== CloseCode.Normal) {
      this.trace(`the peer closed the connection for an error (code ${code})`);
      this.reportShutdown(ShutdownReason.Lost, true);
    } else if (this.partial === null && this.conn?.inbound.waiting === 0) this.reportShutdown(ShutdownReason.ByPeer, true);
    else this.peerGone = true; // as on a stream: what arrived is read first
  }

  /** @internal */
  protocolError(why: string): void {
    this.trace(`${why}; closing the connection`);
    this.reportShutdown(this.view.shutdownAsked ? ShutdownReason.Normal : ShutdownReason.Lost, true);
  }

  /** @internal */
  idleTimedOut(): void {
    this.reportShutdown(this.view.shutdownAsked ? ShutdownReason.Normal : ShutdownReason.Lost, true);
  }

  /** @internal */
  closeFinished(): void {
    this.releasePath();
  }

  /** One datagram out, through the simulator if any. */
  private wire(buf: Buffer): void {
    if (this.simulator) this.simulator.apply(() => this.wireNow(buf), buf.byteLength);
    else this.wireNow(buf);
  }

  /** Unreported (no `done`): a datagram the OS refuses is a lost packet, which loss recovery sends again. */
  private wireNow(buf: Buffer): void {
    if (this.link) this.link.send(buf);
    else this.handle?.send(buf, undefined, undefined);
  }

  // ---- server --------------------------------------------------------------------------

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
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    resolveHost(host.host, host.kind, this.ipv6, (err, address) => {
      if (this.state !== 'binding') return;
      if (err) {
        this.reportShutdown(ShutdownReason.BindFailed);
        return;
      }
      const handle = this.open(reuseAddr === true);
      if (!handle) return;
      handle.bind(address, port, () => {
        if (this.state !== 'binding') return;
        const local = (this.addresses.local = handle.localAddress());
        this.setState('bound', `${local.address}:${local.port}`);
        this.emit((user) => user.socketBindResult?.(this, local.address, local.port));
        if (this.listenAsked) this.startListening();
      });
    });
  }

  private listenAsked = false;

  listen(): void {
    this.throwIfTakenOver('listen');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'listen() on a client-mode socket');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotBound, 'listen() on a socket that is not bound: bind() it first');
    if (this.listenAsked) throw new SocketStateError(SocketErrorCode.AlreadyListening, 'listen() twice');
    if (this.ignoresCalls) return;
    this.listenAsked = true;
    if (this.state === 'bound') this.startListening();
  }

  private startListening(): void {
    const options = this.handOverOptions;
    this.listener = new RudpListener(this, this.handle!, (user) => new RudpSocket(this.transport, user, options), options.maxConnections ?? Infinity);
    this.setState('listening');
  }

  accept(remoteUser: USocket | SocketUser | null): void {
    this.throwIfTakenOver('accept');
    if (!this.listener) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    this.listener.accept(remoteUser);
  }

  /** @internal The listener posts its offers through the listening socket. */
  post(call: (user: USocket) => void): void {
    this.emit(call);
  }

  /** @internal */
  traceLine(m: string): void {
    this.trace(m);
  }

  // ---- messages --------------------------------------------------------------------------

  send(data: Uint8Array, len?: number, options?: SendOptions): void {
    this.throwIfTakenOver('send');
    // A 0-byte message is a message (checkBuffer refuses an empty buffer for the streams).
    const n = data instanceof Uint8Array && data.byteLength === 0 && (len === undefined || len === 0) ? 0 : checkBuffer('send', data, len);
    const how = checkSendOptions('send', options, this.outgoing.laneCount);
    if (this.modeValue === 'server')
      throw new SocketStateError(SocketErrorCode.WrongMode, 'send() on a listening rudp socket: each peer talks through its accepted socket');
    if (this.ignoresCalls) return;
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'send() before connect()');
    if (n > this.settings.maxMessageSize) throw new RangeError(`send: ${n} bytes is more than maxMessageSize (${this.settings.maxMessageSize})`);
    const copy = Buffer.allocUnsafe(n);
    copy.set(data.subarray(0, n));
    if (this.outgoing.push(copy, how.reliable, how.lane)) this.conn?.wake();
    else if (!how.reliable)
      this.conn?.wake(); // dropped (the queue is full): its result still comes, in order
    else this.sendQueueFull();
  }

  /**
   * A reliable message found the send queue full: the app sent faster than the peer takes
   * messages, for longer than the bound allows. As a network failure, the connection ends
   * (SOCKET_LOST, logged; the peer too), rather than grow without bound or throw at a caller
   * that did nothing wrong by itself (docs/decisions.md, "rudp: a full send queue").
   */
  private sendQueueFull(): void {
    this.trace(
      `send: the send queue holds more than ${this.outgoing.limit} bytes not yet sent (the peer takes messages slower than they are sent); ` +
        'closing the connection. Send the next message from socketSendResult to stay within the bound',
    );
    this.conn?.close(CloseCode.Aborted);
    this.reportShutdown(ShutdownReason.Lost);
  }

  recv(buffer: Uint8Array, len?: number, _recvPartial?: boolean): void {
    this.throwIfTakenOver('recv');
    const n = checkBuffer('recv', buffer, len);
    this.throwIfRecvUndelivered();
    if (this.pendingRecv) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    if (this.ended) return this.recvAfterEnd(buffer);
    if (this.view.shutdownAsked) return;
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'recv() before connect()');
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, 'recv() on a listening rudp socket');
    this.pendingRecv = { buffer, len: n };
    this.serveRecv();
  }

  /** One message (or the rest of one) per recv; what does not fit waits for the next recv. */
  private serveRecv(): void {
    const req = this.pendingRecv;
    if (!req || !this.conn) return;
    const msg = this.partial ?? this.conn.takeMessage();
    if (msg === undefined) return;
    const take = Math.min(req.len, msg.byteLength);
    req.buffer.set(msg.subarray(0, take));
    this.partial = take < msg.byteLength ? msg.subarray(take) : null;
    this.pendingRecv = null;
    if (this.ended) return;
    // Messages are delivered as datagrams are (core/recv-route.ts): socketRecvFromResult if the
    // user has it (the source is the peer), else socketRecvResult; 0-byte messages are real messages.
    this.view.recvPosted();
    this.iomux.dispatcher.post(this.deliverMessage, this, { buffer: req.buffer, filled: take });
    if (this.peerGone && this.partial === null && this.conn.inbound.waiting === 0) this.reportShutdown(ShutdownReason.ByPeer);
  }

  private deliverMessage(r: { buffer: Uint8Array; filled: number }): void {
    this.view.recvDelivered();
    this.messagesReceived++;
    const u = this.user;
    if ((this.recvCallbacks & RECV_FROM) !== 0) u.socketRecvFromResult?.(this, r.buffer, r.filled, this.remoteAddress ?? '', this.remotePort ?? 0);
    else if ((this.recvCallbacks & RECV_PLAIN) !== 0) u.socketRecvResult?.(this, r.buffer, r.filled);
    else {
      this.warnUnhandledRecv(r.filled, true);
      u.socketRecvResult?.(this, r.buffer, r.filled);
    }
  }

  recvCancel(): void {
    this.throwIfTakenOver('recvCancel');
    if (this.ignoresCalls) return;
    this.cancelPendingRecv();
  }

  protected cancelPendingRecv(): void {
    const req = this.pendingRecv;
    if (!req) return;
    this.pendingRecv = null;
    this.emit((user) => user.socketRecvCanceled?.(this, req.buffer));
  }

  // ---- the end ----------------------------------------------------------------------------

  protected override beginClose(): void {
    if (this.listener) {
      this.listener.close();
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    if (this.state === 'connected' && !this.peerGone) return this.closeWhenDelivered();
    this.reportShutdown(ShutdownReason.Normal);
  }

  private closeWhenDelivered(): void {
    if (!this.conn || this.outgoing.pending === 0) return this.finishClose();
    if (this.settings.shutdownTimeoutMs > 0) {
      this.closeTimer = setTimeout(() => {
        this.trace('shutdown: shutdownTimeoutMs passed with messages unacknowledged');
        this.finishClose();
      }, this.settings.shutdownTimeoutMs);
    }
  }

  private finishClose(): void {
    this.conn?.close();
    this.reportShutdown(ShutdownReason.Normal);
  }

  private clearConnectTimers(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.retryTimer = this.connectTimer = null;
  }

  protected override onEnded(): void {
    this.clearConnectTimers();
    if (this.closeTimer) clearTimeout(this.closeTimer);
    // A close packet waiting for its acknowledgement keeps the path until then (bounded: closeFinished).
    if (!this.conn?.closing) this.releasePath();
  }

  private pathReleased = false;

  private releasePath(): void {
    if (this.pathReleased) return;
    this.pathReleased = true;
    this.conn?.stop();
    this.simulator?.stop();
    if (this.link) this.link.release();
    else if (this.listener) this.listener.close();
    else this.handle?.close();
  }

  [kUpgradeTo](_offer: UpgradeOffer): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: rudp sockets cannot be upgraded (payloads are not encrypted yet)');
  }

  // ---- migration (core/rudp/migration.ts) ---------------------------------------------------

  /** The peer checks that it reaches us on this path: the challenge's bytes go back. */
  private answerPathChallenge(data: Buffer): void {
    const peerCid = data.byteLength >= HEADER ? data.readUInt32BE(6) : 0;
    const answer = this.conn ? answerChallenge(data, this.localCid, peerCid) : null;
    if (answer) this.wire(answer);
  }

  /** @internal The listener validated the peer's new address. */
  migrated(remote: { address: string; port: number }): void {
    // RFC 9000 §9.4: a new address is a new path, whose capacity and RTT nothing known says; a
    // new port on the same address (a NAT rebinding) is most likely the same path.
    const newAddress = this.addresses.remote?.address !== remote.address;
    if (newAddress) this.conn?.newPath();
    this.addresses.remote = remote;
    this.trace(
      `the peer moved to ${remote.address}:${remote.port} (${newAddress ? 'a new address: congestion control and RTT start again' : 'the same address: congestion control and RTT kept'})`,
    );
  }

  /** @internal */
  pathRtt(): number | null {
    return this.conn?.srtt ?? null;
  }

  /**
   * @internal One end of an in-process pair (core/rudp/pair.ts): connected at once through
   * `link`; `first` reports `socketConnectComplete`, the other `socketAcceptComplete`.
   */
  startPaired(link: PeerLink, localCid: number, peerCid: number, first: boolean): void {
    this.modeValue = 'client';
    this.link = link;
    this.localCid = localCid;
    this.addresses.local = { address: '', port: 0 };
    this.addresses.remote = { address: '', port: 0 };
    this.startConnection(peerCid);
    this.setState('connected', 'socket pair');
    this.emit((user) => (first ? user.socketConnectComplete?.(this) : user.socketAcceptComplete?.(this)));
  }

  /** @internal Tests only: the client moves to a new local port, as behind a NAT that rebinds (on `localAddress` if given: a move to another address). */
  [kRebind](done: () => void, localAddress?: string): void {
    const old = this.handle;
    const remote = this.addresses.remote;
    if (!old || this.link || !remote || this.ended) return done();
    const settings = { ipv6: this.ipv6, reuseAddr: false, recvBufferSize: DEFAULT_UDP_BUFFER, sendBufferSize: DEFAULT_UDP_BUFFER, shared: false };
    openRebound(
      this.transport,
      settings,
      this,
      remote,
      (next) => {
        if (next && this.handle === old && !this.ended) {
          this.handle = next;
          old.close();
          this.addresses.local = next.localAddress();
        } else next?.close();
        done();
      },
      localAddress,
    );
  }

  // ---- facts -------------------------------------------------------------------------------

  get bytesSent(): number {
    return this.conn?.bytesOut ?? 0;
  }
  get bytesReceived(): number {
    return this.conn?.bytesIn ?? 0;
  }
  get connectionCount(): number {
    return this.listener?.live ?? 0;
  }
  get droppedDatagrams(): number {
    return 0;
  }
  protected queuedSendBytes(): number {
    return this.outgoing.unsent;
  }
  protected readAheadBytes(): number {
    return (this.partial?.byteLength ?? 0) + (this.conn?.inbound.inboxBytes ?? 0);
  }
  protected override listenerStats(): ListenerStats | null {
    return this.listener?.stats() ?? null;
  }

  override stats(): SocketStats {
    const base = super.stats();
    return this.listener ? base : connectionStats(base, this.outgoing, this.conn);
  }
}
