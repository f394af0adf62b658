import {
  IInstanceLog,
  ISocket,
  ListenerStats,
  SocketStats,
  LogFlag,
  PeerCertificate,
  QosTrafficType,
  ShutdownReason,
  SocketMode,
  SocketOptions,
  SocketType,
  USocket,
} from '../api';
import type { SendOptions } from '../api-rudp';
import { SocketErrorCode, SocketStateError } from '../errors';
import { Addresses, HostPort } from './addresses';
import { errorCode } from './os-errors';
import { IoMux, getDefaultIoMux } from './iomux';
import { getDefaultLog } from './log';
import { isAllowed, refuseTransition, SocketState, TransitionTable } from './socket-state';
import { kUpgradeTo, Upgradable, UpgradeOffer } from './upgrade';
import { Claimable, kClaim, OWNED_METHODS, OwnedSocket, ownedError } from './claim';
import { RECV_FROM, RECV_PLAIN, recvCallbacksOf, unhandledRecvText, warnUnhandledRecvOnce } from './recv-route';
import { UserView } from './user-view';
import { checkUser } from './validate';

export type { SocketState } from './socket-state';

let nextSocketId = 1;

/** `stats().lastErrorCode` of a socket that ended with `SOCKET_ADDRESS_INVALID` without an OS error: Node's code for a bad address. */
export const INVALID_ADDRESS_CODE = 'ERR_INVALID_ADDRESS';

const QOS_VALUES = new Set<string>(Object.values(QosTrafficType));

/**
 * What every transport shares: the mode lock, the state, the user and the one path by which
 * callbacks reach it. Transports add how bytes move.
 *
 * Callback rules enforced here rather than by each transport: every callback is posted to
 * the IoMux's dispatcher (never run inside an API call); after `socketShutdown` is posted
 * nothing else is; a pending recv is cancelled before it; a socket taken over by
 * `upgradeToTls` delivers nothing more, not even what it had already queued.
 */
export abstract class SocketBase implements ISocket, Upgradable, Claimable {
  abstract readonly type: SocketType;
  /** The log channel of this transport. */
  protected abstract readonly flag: LogFlag;
  /** The states and transitions of this kind of socket (`core/socket-state.ts`), checked by {@link SocketBase.setState}. */
  protected abstract get transitions(): TransitionTable;

  /** A number for log lines, unique in this process. */
  readonly id = nextSocketId++;
  protected readonly log: IInstanceLog;
  protected readonly iomux: IoMux;
  protected readonly ipv6: boolean;
  protected user: USocket;
  /** The recv callbacks the current user implements (`RECV_PLAIN | RECV_FROM`, core/recv-route.ts): set with the user, read at delivery. */
  protected recvCallbacks: number;
  /** A recv result went to no callback and was warned about (once per socket). */
  private warnedUnhandledRecv = false;
  /** Who claimed this socket (`claimSocket`, core/claim.ts), or null. */
  private owner: string | null = null;
  protected modeValue: SocketMode = 'none';
  /** The wire state: what the connection (or the bind) is doing. Written only by {@link SocketBase.setState}. */
  protected state: SocketState = 'idle';
  /** What the user has asked (`shutdown()`) and been told, apart from the wire state. */
  protected readonly view = new UserView();
  /** The local and remote ends: one value, read by every address fact. */
  readonly addresses = new Addresses();
  // ---- what stats() reports (plain fields: counting must cost nothing) ----
  private messagesSent = 0;
  protected messagesReceived = 0;
  private lastErrorCode: string | null = null;
  private connectStartedAt = 0;
  private handshakeStartedAt = 0;
  private connectMs: number | null = null;
  private handshakeMs: number | null = null;

  constructor(
    user: USocket,
    protected readonly options: SocketOptions,
  ) {
    checkUser('createSocket', user);
    this.user = user;
    this.recvCallbacks = recvCallbacksOf(user);
    this.iomux = options.iomux ?? getDefaultIoMux();
    if (this.iomux.isTerminated) {
      throw new SocketStateError(SocketErrorCode.IoMuxTerminated, 'createSocket: the IoMux was terminated');
    }
    this.log = options.log ?? getDefaultLog();
    this.ipv6 = options.ipv6 === true;
  }

  /**
   * Joins the IoMux (so `terminate()` reaches it). Transports call it last in their
   * constructor, once every option was checked: a constructor that throws leaves nothing behind.
   */
  protected register(): void {
    this.iomux.register(this);
  }

  /** @internal The IoMux whose queue runs this socket's callbacks (layers such as message sockets post to it). */
  get socketIoMux(): IoMux {
    return this.iomux;
  }

  get mode(): SocketMode {
    return this.modeValue;
  }

  /** True once `socketShutdown` was posted (or the socket was taken over). */
  protected get ended(): boolean {
    return this.state === 'closed' || this.state === 'takenOver';
  }

  // ---- logging and state -------------------------------------------------------------

  /** Writes a log line for this socket if its flag is on. */
  protected trace(message: string): void {
    if (this.log.isEnabled(this.flag)) this.log.log(this.flag, `#${this.id} ${message}`);
  }

  /**
   * The one writer of the state: checks the transition against the kind's table (a refused one
   * is a library bug: see `refuseTransition`) and logs `old -> new`.
   */
  protected setState(next: SocketState, why?: string): void {
    const from = this.state;
    if (!isAllowed(this.transitions, from, next)) {
      const message = `#${this.id} ${from} -> ${next} is not a transition of a ${this.constructor.name}`;
      this.trace(`internal error: ${message}`);
      refuseTransition(message);
    }
    if (this.log.isEnabled(this.flag)) {
      this.log.log(this.flag, `#${this.id} ${from} -> ${next}${why ? ` (${why})` : ''}`);
    }
    this.state = next;
  }

  // ---- callbacks -------------------------------------------------------------------

  /**
   * Posts a callback for the user current at delivery time. Ignored once the shutdown is
   * posted; dropped at delivery if the socket was taken over meanwhile.
   */
  protected emit(call: (user: USocket) => void, fromEvent = false): void {
    if (this.ended) return;
    // From a Node event handler (never an API call) it may run at once: Dispatcher.postFromEvent.
    if (fromEvent) this.iomux.dispatcher.postFromEvent(this.deliverCall, this, call);
    else this.iomux.dispatcher.post(this.deliverCall, this, call);
  }

  private deliverCall(call: (user: USocket) => void): void {
    if (this.state !== 'takenOver') call(this.user);
  }

  /** {@link SocketBase.emit} of `socketSendResult`, without a closure (the send path is hot). */
  protected emitSendResult(): void {
    if (this.ended) return;
    this.iomux.dispatcher.post(this.deliverSendResult, this);
  }

  protected deliverSendResult(): void {
    this.messagesSent++;
    if (this.state !== 'takenOver') this.user.socketSendResult?.(this);
  }

  /**
   * Posts `socketRecvResult` (without a closure: the receive path is hot); `fromEvent` may run
   * it at once (see Dispatcher.postFromEvent). Until it is delivered, the recv still counts as
   * pending: a second `recv()` throws, as the user has not been told the first one completed.
   */
  protected emitRecvResult(req: { buffer: Uint8Array; filled: number }, fromEvent = false): void {
    if (this.ended) return;
    this.view.recvPosted();
    if (fromEvent) this.iomux.dispatcher.postFromEvent(this.deliverRecvResult, this, req);
    else this.iomux.dispatcher.post(this.deliverRecvResult, this, req);
  }

  /**
   * `recv()`: a result not delivered yet is still the pending recv, also when the end is posted
   * behind it (after `shutdown()`, recv is ignored instead).
   */
  protected throwIfRecvUndelivered(): void {
    if (this.view.recvUndelivered && !this.view.shutdownAsked) {
      throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while the result of the last one is not delivered yet');
    }
  }

  protected deliverRecvResult(req: { buffer: Uint8Array; filled: number }): void {
    this.view.recvDelivered();
    this.messagesReceived++;
    if (this.state === 'takenOver') return;
    if ((this.recvCallbacks & RECV_PLAIN) !== 0) this.user.socketRecvResult?.(this, req.buffer, req.filled);
    else if ((this.recvCallbacks & RECV_FROM) !== 0) {
      // A stream user that implements only socketRecvFromResult: the source is the peer.
      this.user.socketRecvFromResult?.(this, req.buffer, req.filled, this.remoteAddress ?? '', this.remotePort ?? 0);
    } else {
      this.warnUnhandledRecv(req.filled, false);
      this.user.socketRecvResult?.(this, req.buffer, req.filled); // USocket's no-op, as before
    }
  }

  /**
   * A recv completed and the user implements neither recv callback: the bytes stay in the recv's
   * buffer, and it is never silent — one log line per socket, one process warning per process
   * (the log is off by default).
   */
  protected warnUnhandledRecv(len: number, datagram: boolean): void {
    if (this.warnedUnhandledRecv) return;
    this.warnedUnhandledRecv = true;
    const text = unhandledRecvText(this.user, len, datagram);
    this.trace(text);
    warnUnhandledRecvOnce(text);
  }

  /**
   * Ends the socket: cancels a pending recv, posts `socketShutdown` (NORMAL if the user asked
   * for the shutdown, whatever went wrong while closing), and nothing after it.
   */
  protected reportShutdown(reason: ShutdownReason, fromEvent = false): void {
    if (this.ended) return;
    const final = this.view.reasonSeen(reason);
    // A refused address has no OS error; stats().lastErrorCode still tells why (the log line says how).
    if (reason === ShutdownReason.AddressInvalid && this.lastErrorCode === null) this.lastErrorCode = INVALID_ADDRESS_CODE;
    this.cancelPendingRecv();
    this.setState('closed', final);
    this.iomux.unregister(this);
    this.onEnded();
    // Posted last: from a Node event it may run at once (Dispatcher.postFromEvent), and the user
    // must then find the socket ended already.
    if (fromEvent) this.iomux.dispatcher.postFromEvent(this.deliverShutdown, this, final);
    else this.iomux.dispatcher.post(this.deliverShutdown, this, final);
  }

  private deliverShutdown(final: ShutdownReason): void {
    if (this.state === 'takenOver') return;
    const view = this.view;
    const late = view.takeLateRecv();
    try {
      if (late) this.user.socketRecvCanceled?.(this, late);
    } finally {
      view.shutdownDelivered = true;
      // shutdown() may have come after the end was posted but before this delivery (§10: NORMAL);
      // the current user: the cancel above may have switched it.
      this.user.socketShutdown(this, view.reasonSeen(final));
    }
  }

  // ---- closing and hand-over: written once, each kind supplies its own part ------------

  /**
   * `shutdown()`, written once for every kind: taken over throws; after the end or a first
   * `shutdown()` it is ignored (or makes a posted end NORMAL); otherwise the end will be NORMAL,
   * a pending recv is cancelled, and the kind's {@link SocketBase.beginClose} takes over.
   */
  shutdown(): void {
    this.throwIfTakenOver('shutdown');
    if (this.ignoresCalls) return this.shutdownAfterEnd();
    this.view.shutdownAsked = true;
    this.cancelPendingRecv();
    this.beginClose();
  }

  /**
   * The kind's part of `shutdown()`: flush what is queued, close, and report the end (NORMAL
   * whatever happens, as the user asked for the shutdown). By default: at once.
   */
  protected beginClose(): void {
    this.reportShutdown(ShutdownReason.Normal);
  }

  /**
   * The options a successor inherits (an upgrade's successor, a listener's accepted sockets):
   * this socket's, with its IoMux and log, before the successor's own override them.
   */
  protected get handOverOptions(): SocketOptions {
    return { ...this.options, iomux: this.iomux, log: this.log };
  }

  /** `upgradeToTls` of this socket: see `core/upgrade.ts`. Each kind says what it can be upgraded to. */
  abstract [kUpgradeTo](offer: UpgradeOffer): ISocket;

  /**
   * The hand-over (`upgradeToTls`) is done: this socket falls silent (it drops what it had
   * posted, posts nothing more, and its methods throw) and leaves its IoMux.
   */
  protected fallSilent(why: string): void {
    this.setState('takenOver', why);
    this.iomux.unregister(this);
  }

  /** Hook for transports: the shutdown was posted; release what is left. */
  protected onEnded(): void {}

  /** Cancels the pending recv, if any, with `socketRecvCanceled`. */
  protected abstract cancelPendingRecv(): void;

  // ---- statistics -------------------------------------------------------------------

  stats(): SocketStats {
    return {
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      queuedSendBytes: this.queuedSendBytes(),
      readAheadBytes: this.readAheadBytes(),
      droppedDatagrams: this.droppedDatagrams,
      strangerDatagrams: this.strangerCount(),
      connectMs: this.connectMs,
      handshakeMs: this.handshakeMs,
      lastErrorCode: this.lastErrorCode,
      listener: this.listenerStats(),
    };
  }

  /** Bytes accepted by send/sendTo and not yet handed to the OS. */
  protected abstract queuedSendBytes(): number;
  /** Bytes received and waiting for a recv. */
  protected abstract readAheadBytes(): number;
  /** Datagram sockets: datagrams dropped because they were not from the connected peer. */
  protected strangerCount(): number {
    return 0;
  }
  /** A listening socket's totals. */
  protected listenerStats(): ListenerStats | null {
    return null;
  }

  /** The error's code (`ECONNRESET`, `ERR_TLS_…`), recorded for {@link SocketBase.stats}; for log lines. */
  protected codeOf(err: unknown): string {
    const code = errorCode(err);
    this.lastErrorCode = code;
    return code;
  }

  /** Records an error that has no Node error object (a time-out of ours) for {@link SocketBase.stats}. */
  protected noteError(code: string): void {
    this.lastErrorCode = code;
  }

  /** `connect()` started (name resolution included). */
  protected markConnectStart(): void {
    this.connectStartedAt = performance.now();
  }

  /** The connection is established (before a TLS handshake). */
  protected markConnected(): void {
    if (this.connectStartedAt !== 0 && this.connectMs === null) this.connectMs = performance.now() - this.connectStartedAt;
  }

  protected markHandshakeStart(): void {
    this.handshakeStartedAt = performance.now();
  }

  protected markHandshakeDone(): void {
    if (this.handshakeStartedAt !== 0 && this.handshakeMs === null) this.handshakeMs = performance.now() - this.handshakeStartedAt;
  }

  // ---- the mode lock -----------------------------------------------------------------

  protected throwIfTakenOver(method: string): void {
    if (this.state === 'takenOver') {
      throw new SocketStateError(SocketErrorCode.TakenOver, `${method}(): this socket was taken over by upgradeToTls; use the new socket`);
    }
  }

  /**
   * `connect()`: enters client mode, or throws. The order is the contract's: the mode lock,
   * then the arguments (`checkArgs`), then the shutdown; nothing changes if anything throws.
   */
  protected enterClientMode(checkArgs: () => void): void {
    this.throwIfTakenOver('connect');
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, 'connect() on a server-mode socket');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.AlreadyConnected, 'connect() on a socket that is already a client');
    checkArgs();
    if (this.view.shutdownAsked) throw new SocketStateError(SocketErrorCode.ShutDown, 'connect() after shutdown()');
    this.modeValue = 'client';
  }

  /** `bind()`: enters server mode, or throws; same order as {@link SocketBase.enterClientMode}. */
  protected enterServerMode(checkArgs: () => void): void {
    this.throwIfTakenOver('bind');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'bind() on a client-mode socket');
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.AlreadyBound, 'bind() on a socket that is already bound');
    checkArgs();
    if (this.view.shutdownAsked) throw new SocketStateError(SocketErrorCode.ShutDown, 'bind() after shutdown()');
    this.modeValue = 'server';
  }

  /**
   * `shutdown()` on a socket whose end is posted but not delivered yet: the user asked for the
   * shutdown before it was told of the end, so the end it is told is NORMAL (CONTRACT §10).
   */
  protected shutdownAfterEnd(): void {
    if (this.state === 'closed' && !this.view.shutdownDelivered) this.view.shutdownAsked = true;
  }

  /** Whether a call that shutdown() silences should be ignored now. */
  protected get ignoresCalls(): boolean {
    return this.view.shutdownAsked || this.ended;
  }

  /**
   * A `recv` on a socket that has ended: ignored after the user's `shutdown()` or once
   * `socketShutdown` was delivered; otherwise the end is still on its way to the user, so the
   * recv is kept and cancelled just before it.
   */
  protected recvAfterEnd(buffer: Uint8Array): void {
    this.view.keepLateRecv(buffer);
  }

  // ---- methods every transport shares ----------------------------------------------

  setUser(user: USocket): void {
    this.throwIfTakenOver('setUser');
    checkUser('setUser', user);
    this.user = user;
    this.recvCallbacks = recvCallbacksOf(user);
  }

  /**
   * `claimSocket(this, owner)` (core/claim.ts): the guarded methods become own properties that
   * throw `ERR_SOCKET_OWNED`, so an unclaimed socket's calls cost nothing more; the owner calls
   * the class's methods through the returned object.
   */
  [kClaim](owner: string): OwnedSocket {
    this.throwIfTakenOver('claimSocket');
    if (this.owner !== null) throw ownedError('claimSocket', this.owner);
    const send = this.send;
    const recv = this.recv;
    const recvCancel = this.recvCancel;
    const setUser = this.setUser;
    const shutdown = this.shutdown;
    for (const name of OWNED_METHODS) {
      const guard = (): never => {
        throw ownedError(`${name}()`, owner);
      };
      Object.defineProperty(this, name, { value: guard, configurable: true, writable: true, enumerable: false });
    }
    this.owner = owner;
    return {
      send: (data, len, options) => send.call(this, data, len, options),
      recv: (buffer, len, recvPartial) => recv.call(this, buffer, len, recvPartial),
      recvCancel: () => recvCancel.call(this),
      setUser: (user) => setUser.call(this, user),
      shutdown: () => shutdown.call(this),
    };
  }

  setQoS(type: QosTrafficType): void {
    this.throwIfTakenOver('setQoS');
    if (!QOS_VALUES.has(type)) throw new TypeError(`setQoS: unknown traffic type ${String(type)}`);
    // Node exposes no IP_TOS / DSCP setting on its sockets; the contract allows "logged, no effect".
    this.trace(`setQoS(${type}): DSCP marking is not available on Node; no effect`);
  }

  sendTo(data: Uint8Array, len: number | undefined, dstAddress: string, dstPort: number): void {
    this.throwIfTakenOver('sendTo');
    // The contract: sendTo on a non-UDP socket does nothing.
    this.trace('sendTo() on a stream socket: ignored');
  }

  get alpnProtocol(): string | null {
    return null;
  }

  getPeerCertificate(): PeerCertificate | null {
    return null;
  }

  getSrtpKeyingMaterial(): { profile: string; material: Uint8Array } | null {
    return null;
  }

  // ---- addresses: one value ({@link SocketBase.addresses}) ------------------------------

  get localAddress(): string | undefined {
    return this.addresses.local?.address;
  }
  get localPort(): number | undefined {
    return this.addresses.local?.port;
  }
  get remoteAddress(): string | undefined {
    return this.addresses.remote?.address;
  }
  get remotePort(): number | undefined {
    return this.addresses.remote?.port;
  }
  getLocalAddress(): HostPort | null {
    return this.addresses.local;
  }

  abstract connect(address: string, serverName?: string): void;
  abstract bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void;
  abstract listen(): void;
  abstract accept(remoteUser: USocket | null): void;
  abstract send(data: Uint8Array, len?: number, options?: SendOptions): void;
  abstract recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void;
  abstract recvCancel(): void;
  abstract readonly bytesSent: number;
  abstract readonly bytesReceived: number;
  abstract readonly connectionCount: number;
  abstract readonly droppedDatagrams: number;
}
