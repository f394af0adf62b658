import { ISocket, LogFlag, PeerCertificate, ShutdownReason, SocketOptions, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { DatagramBase } from './datagram-base';
import { HandedDatagram, HostPort } from './datagram-path';
import { DatagramSession, SessionEvents } from './datagram-session';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from './defaults';
import { sendPool } from './send-pool';
import { DTLS_TRANSITIONS, TransitionTable } from './socket-state';
import { kUpgradeTo } from './upgrade';
import { armTimeout, Deadline, disarmTimeout } from './timeout';
import { checkBuffer, checkTimeout } from './validate';

// The session seam moved to datagram-session.ts; re-exported for the DTLS adapter.
export type { DatagramSession, SessionEvents, SessionStart } from './datagram-session';

/**
 * A datagram socket secured by a {@link DatagramSession} over the path of a UDP socket it took
 * over (`upgradeToTls`). Each `send` is one protected datagram, each `recv` one decrypted
 * datagram (`socketRecvFromResult`). The handshake is bounded by `handshakeTimeoutMs` (0: no
 * limit); sends made before it is done are held; `shutdown()` flushes, then the session's close.
 */
export class SecureDatagramSocket extends DatagramBase implements SessionEvents {
  protected readonly flag = LogFlag.Tls;

  private session: DatagramSession | null = null;
  /** The peer sent close_notify: no more datagrams come. */
  private peerClosed = false;
  /** The user refused the ALPN protocol: the socket ends once its close_notify is sent. */
  private alpnRefused = false;
  private handshakeTimer: Deadline | null = null;
  private readonly handshakeTimeoutMs: number;

  constructor(user: USocket, options: SocketOptions) {
    super(user, options);
    this.handshakeTimeoutMs = checkTimeout('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    this.register();
  }

  protected get transitions(): TransitionTable {
    return DTLS_TRANSITIONS;
  }

  /** @internal `upgradeToTls` of a DTLS socket: it is secure already. */
  [kUpgradeTo](): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: the socket is already a DTLS socket');
  }

  // ---- facts -----------------------------------------------------------------------------

  override getPeerCertificate(): PeerCertificate | null {
    return this.session?.peerCertificate() ?? null;
  }

  override getSrtpKeyingMaterial(): { profile: string; material: Uint8Array } | null {
    return this.state === 'connected' && this.session ? this.session.keyingMaterial() : null;
  }

  override get alpnProtocol(): string | null {
    return this.session?.alpn() ?? null;
  }

  // ---- the handshake -------------------------------------------------------------------------

  /** Takes over `handed` and runs `session`'s handshake (`server`: our role, for the log). */
  start(handed: HandedDatagram, session: DatagramSession, server: boolean): void {
    this.modeValue = 'client'; // a secure end that sends and receives, as an accepted socket
    const path = handed.path;
    this.path = path;
    this.session = session;
    this.addresses.remote = handed.peer;
    this.addresses.local = path.localAddress();
    path.setSink(this);
    this.setState('handshaking', `DTLS ${server ? 'server' : 'client'}${handed.connected ? '' : ', serving the first peer to complete a handshake'}`);
    this.markHandshakeStart();
    this.handshakeTimer = armTimeout(this.handshakeTimeoutMs, this.handshakeTimedOut);
    session.start({ path, connected: handed.connected, peer: handed.peer, hostAsWritten: handed.hostAsWritten }, this);
    // Datagrams that came before the upgrade (an early ClientHello) go to the session first.
    for (const q of handed.queued) this.datagramArrived(q.data as Buffer, q.address, q.port);
    session.begin();
  }

  /** @internal The DTLS listener's `accept(user)`: this handshaken socket is `user`'s now (`socketAcceptComplete`). */
  handTo(user: USocket): void {
    this.setUser(user);
    this.emit((u) => {
      if (!this.view.shutdownAsked && this.approveAlpn(u)) this.user.socketAcceptComplete?.(this);
    });
  }

  /**
   * The user approves the ALPN protocol (as for TLS: in the delivery of the completion, just
   * before it; a `setUser()` inside applies to the completion). A refusal, or a throw (re-thrown),
   * sends close_notify, so the peer ends BY_PEER, then ends this socket with SOCKET_ALPN_SELECTION_FAILED.
   */
  private approveAlpn(user: USocket): boolean {
    const alpn = this.session?.alpn() ?? null;
    if (alpn === null) return true;
    let accepted = false;
    try {
      accepted = user.socketAcceptSelectedAlpnProtocol?.(this, alpn) !== false;
    } finally {
      if (!accepted) {
        this.trace(`ALPN protocol ${JSON.stringify(alpn)} refused by socketAcceptSelectedAlpnProtocol`);
        this.alpnRefused = true;
        this.session!.close(() => this.reportShutdown(ShutdownReason.AlpnSelectionFailed));
      }
    }
    return accepted;
  }

  override listen(): void {
    this.throwIfTakenOver('listen');
    throw new SocketStateError(
      SocketErrorCode.NotSupported,
      'listen() on a DTLS socket: call listen() on the bound UDP socket first, then upgradeToTls(it, user, { serverSide: true, context }) makes a DTLS listener',
    );
  }

  private readonly handshakeTimedOut = (): void => {
    this.handshakeTimer = null;
    this.trace(`DTLS handshake not finished within ${this.handshakeTimeoutMs} ms`);
    this.noteError('ERR_TLS_HANDSHAKE_TIMEOUT');
    this.reportShutdown(this.session?.handshakeTimeoutReason() ?? ShutdownReason.TlsHandshakeFailed);
  };

  /** @internal */
  datagramArrived(data: Buffer, address: string, port: number): void {
    if (this.ended) return;
    if (this.addresses.remote && !this.isFromPeer(address, port)) {
      this.noteStranger(address, port); // counted in strangerDatagrams
      return;
    }
    this.session?.receive(data, address, port, this.state === 'connected');
  }

  /** @internal */
  pathError(err: NodeJS.ErrnoException): void {
    this.trace(`UDP error ${this.codeOf(err)} (${err.message})`);
  }

  /** @internal */
  sessionSecured(peer: HostPort | null, detail: string): void {
    if (this.state !== 'handshaking') return;
    this.handshakeTimer = disarmTimeout(this.handshakeTimer);
    const locked = (this.addresses.remote ??= peer); // a bound server now serves this peer only
    this.markHandshakeDone();
    this.setState('connected', `DTLS with ${locked?.address}:${locked?.port}${detail}`);
    this.emit((user) => {
      if (!this.view.shutdownAsked && this.approveAlpn(user)) this.user.socketUpgradeToTlsComplete?.(this);
    });
    this.sends.open();
  }

  /** @internal */
  sessionFailed(why: string, reason = ShutdownReason.TlsHandshakeFailed): void {
    if (this.state !== 'handshaking') return;
    this.trace(why);
    this.reportShutdown(reason);
  }

  /** @internal */
  sessionTrace(message: string): void {
    this.trace(message);
  }

  /** @internal */
  sessionErrorCode(err: unknown): string {
    return this.codeOf(err);
  }

  /**
   * A protected alert after the handshake: the peer closed the session. BY_PEER once the
   * datagrams that arrived before it were read. During the handshake an alert is unprotected
   * and anyone may forge one, so it is logged and the handshake time-out decides.
   * @internal
   */
  sessionPeerClosed(): void {
    if (this.ended || this.view.shutdownAsked) return;
    if (this.state === 'handshaking') {
      this.trace('an alert arrived during the DTLS handshake (unauthenticated: the time-out decides)');
      return;
    }
    this.trace(`the peer closed the DTLS session (${this.receiver.queued} datagrams still to deliver)`);
    this.peerClosed = true;
    this.checkPeerDone();
  }

  /** BY_PEER once the peer closed and every datagram it sent before was delivered. */
  private checkPeerDone(): void {
    if (this.peerClosed && this.receiver.queued === 0 && !this.ended && !this.view.shutdownAsked) this.reportShutdown(ShutdownReason.ByPeer);
  }

  // ---- data ---------------------------------------------------------------------------------

  /** @internal */
  sessionData(data: Buffer): void {
    const peer = this.addresses.remote;
    if (this.ignoresCalls || this.peerClosed || this.alpnRefused || !peer) return;
    this.received += data.byteLength;
    this.messagesReceived++;
    this.receiver.arrive(data, peer.address, peer.port);
  }

  send(data: Uint8Array, len?: number): void {
    this.throwIfTakenOver('send');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    this.sends.push(sendPool.copy(data, n)); // held until the handshake is done
  }

  /** @internal */
  transmit(data: Buffer): void {
    this.session!.send(data, this.onSent);
  }

  private readonly onSent = (err: Error | null): void => this.sends.complete(err);

  /** @internal */
  sendFinished(data: Buffer, err: Error | null): void {
    if (err) {
      this.trace(`a protected datagram was refused: ${err.message}`);
    } else {
      this.sent += data.byteLength;
      sendPool.release(data); // encrypted into a record of its own: the session is done with it
    }
    this.emitSendResult();
  }

  override sendTo(): void {
    this.throwIfTakenOver('sendTo');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'sendTo() on a DTLS socket: it talks to its one peer; use send()');
  }

  /** A recv served from the queue may have taken the last datagram before the peer's close_notify. */
  protected override afterRecvRequest(): void {
    this.checkPeerDone();
  }

  // ---- modes that do not apply ------------------------------------------------------------------

  connect(): void {
    this.throwIfTakenOver('connect');
    throw new SocketStateError(SocketErrorCode.AlreadyConnected, 'connect() on a DTLS socket: it is already connected to its peer');
  }

  bind(): void {
    this.throwIfTakenOver('bind');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'bind() on a DTLS socket');
  }

  // ---- closing -------------------------------------------------------------------------------------

  /** Before the handshake is done: NORMAL at once, nothing sent (held sends are dropped). */
  protected override beginClose(): void {
    this.receiver.clear();
    if (this.state !== 'connected') {
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    this.closeWhenFlushed();
  }

  /** After the last protected datagram: close_notify, then NORMAL. */
  protected override finishClose(): void {
    this.session!.close(() => this.reportShutdown(ShutdownReason.Normal));
  }

  protected override onEnded(): void {
    this.handshakeTimer = disarmTimeout(this.handshakeTimer);
    // The session may still retransmit a flight: stop it; it sends nothing more.
    this.session?.stop();
    super.onEnded();
  }
}
