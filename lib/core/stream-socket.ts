import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { PeerCertificate, ShutdownReason, SocketOptions, USocket } from '../api';
import { SocketErrorCode, SocketStateError, errorCode, reasonForError } from '../errors';
import { isAddressError, resolveHost } from './address';
import { Endpoint, ResolvedEndpoint, SecureRole, StreamTransport } from './endpoint';
import { RecvRequest, ReceiveBuffer } from './recv-buffer';
import { SocketBase } from './socket-base';
import { DEFAULT_BACKLOG, ListenLimits, StreamListener } from './stream-listener';
import { checkBuffer, checkCount, checkPort, checkString } from './validate';

/** Read-ahead bound while no recv is pending (NODE-PITFALLS: 256 KiB held a sender at ~4 MiB). */
export const DEFAULT_READ_AHEAD = 256 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** A TLS peer that connects and never finishes its handshake is closed after this. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Which callback a finished connection reports. */
type Completion = 'connect' | 'accept' | 'upgrade';

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
}
/** After our FIN, how long we keep reading (and discarding) so the close does not reset the peer. */
const LINGER_MS = 2_000;

/**
 * A stream socket (TCP, local; TLS builds on it): a client or accepted connection, or a
 * listener. The connection half lives here; the listening half is a {@link StreamListener}.
 *
 * Sends are copied (the caller may reuse its buffer at once) and written to Node in order;
 * each write's completion posts one `socketSendResult`. Received bytes go through one
 * {@link ReceiveBuffer} with pause/resume at its bound.
 */
export class StreamSocket extends SocketBase {
  readonly type: 'tcp' | 'tls' | 'local';
  protected readonly flag;

  protected node: Socket | null = null;
  private listener: StreamListener | null = null;
  private readonly recvBuffer: ReceiveBuffer;
  /** Sends made before the connection is up, written once it is. */
  private pendingSends: Buffer[] = [];
  private readonly connectTimeoutMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly listenLimits: ListenLimits;
  /** Until the completion callback ran, data is read ahead but no recv completes (it must not overtake it). */
  private completing = false;
  private alpn: string | null = null;
  /** Local sockets: what stands in for addresses (the path connected to, or bound). */
  private pathLocal: { address: string; port: number } | null = null;
  private pathRemote: { address: string; port: number } | null = null;
  private hostAsWritten: string | undefined;
  private peerCert: PeerCertificate | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The peer finished sending (Node's 'end'). */
  private eof = false;
  private paused = false;
  private sent = 0;
  private received = 0;
  private local: { address: string; port: number } | null = null;
  private remote: { address: string; port: number } | null = null;
  /** Set on an accepted socket: told when this connection ends, for `connectionCount`. */
  onConnectionEnded: (() => void) | null = null;

  constructor(
    protected readonly transport: StreamTransport,
    user: USocket,
    options: SocketOptions,
  ) {
    super(user, options);
    this.type = transport.type;
    this.flag = transport.flag;
    this.recvBuffer = new ReceiveBuffer(checkCount('readAheadBytes', options.readAheadBytes, DEFAULT_READ_AHEAD, 1));
    this.connectTimeoutMs = checkCount('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.shutdownTimeoutMs = checkCount('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS);
    this.handshakeTimeoutMs = checkCount('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    transport.checkOptions?.(options);
    this.listenLimits = {
      backlog: checkCount('backlog', options.backlog, DEFAULT_BACKLOG, 1),
      maxConnections: checkCount('maxConnections', options.maxConnections, Infinity),
    };
    this.register();
  }

  // ---- read-only facts -------------------------------------------------------------

  get localAddress(): string | undefined {
    return this.getLocalAddress()?.address;
  }
  get localPort(): number | undefined {
    return this.getLocalAddress()?.port;
  }
  get remoteAddress(): string | undefined {
    return this.remote?.address;
  }
  get remotePort(): number | undefined {
    return this.remote?.port;
  }
  get bytesSent(): number {
    return this.sent;
  }
  get bytesReceived(): number {
    return this.received;
  }
  get connectionCount(): number {
    return this.listener?.connectionCount ?? 0;
  }
  get droppedDatagrams(): number {
    return 0;
  }

  getLocalAddress(): { address: string; port: number } | null {
    if (this.listener) return this.listener.localAddress;
    return this.local;
  }

  override get alpnProtocol(): string | null {
    return this.alpn;
  }

  override getPeerCertificate(): PeerCertificate | null {
    return this.peerCert;
  }

  // ---- client mode -------------------------------------------------------------------

  connect(address: string, serverName?: string): void {
    this.enterClientMode(() => {
      checkString('connect: address', address);
      checkString('connect: serverName', serverName, true);
    });
    this.setState('resolving', address);
    const endpoint = this.transport.parseConnect(address, this.ipv6);
    if (isAddressError(endpoint)) {
      this.trace(`connect(${JSON.stringify(address)}): ${endpoint.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    this.startTimer(this.connectTimeoutMs, () => {
      this.trace(`connect to ${address} timed out after ${this.connectTimeoutMs} ms (ETIMEDOUT)`);
      this.fail(ShutdownReason.ConnectFailed);
    });
    resolveEndpoint(endpoint, this.ipv6, (err, resolved) => {
      if (this.state !== 'resolving') return; // shut down or timed out meanwhile
      if (err || !resolved) {
        this.trace(`connect: cannot resolve ${address}: ${errorCode(err)}`);
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
      opened = this.transport.openConnection(endpoint, this.options, role);
    } catch (err) {
      this.trace(`connect: cannot open a socket: ${errorCode(err)} ${(err as Error).message}`);
      this.fail(reasonForError(err, 'connect'));
      return;
    }
    this.setState('connecting');
    this.attach(opened.socket);
    if (opened.ready !== 'connect') opened.socket.once('connect', () => this.state === 'connecting' && this.startHandshake());
    opened.socket.once(opened.ready, () => this.onConnected('connect'));
  }

  /** From here until the secure socket is ready, a failure is a handshake failure; bounded. */
  private startHandshake(): void {
    this.setState('handshaking');
    this.startTimer(this.handshakeTimeoutMs, () => {
      this.trace(`TLS handshake not finished within ${this.handshakeTimeoutMs} ms (ERR_TLS_HANDSHAKE_TIMEOUT)`);
      this.fail(ShutdownReason.TlsHandshakeFailed);
    });
  }

  /**
   * The connection carries data now. The completion is posted (unless shutdown() came first);
   * with ALPN, the user approves the protocol in the same delivery, just before it.
   */
  private onConnected(kind: Completion): void {
    if (this.state !== 'connecting' && this.state !== 'handshaking') return;
    this.clearTimer();
    const sock = this.node!;
    // Local sockets have no IP addresses: the path stands in, with port 0 (contract §3).
    this.local = addressOf(sock.localAddress, sock.localPort) ?? this.pathLocal;
    this.remote = addressOf(sock.remoteAddress, sock.remotePort) ?? this.pathRemote;
    if (sock instanceof TLSSocket) this.recordSession(sock);
    this.setState('connected', `${this.local?.address}:${this.local?.port} -> ${this.remote?.address}:${this.remote?.port}`);
    this.applyConnectionOptions(sock);
    this.completing = true;
    this.emit((user) => {
      if (this.shutdownCalled) return;
      if (this.alpn !== null && !this.approveAlpn(user, this.alpn)) return;
      const current = this.user; // the ALPN callback may have switched users
      this.completing = false;
      try {
        if (kind === 'accept') current.socketAcceptComplete?.(this);
        else if (kind === 'upgrade') current.socketUpgradeToTlsComplete?.(this);
        else current.socketConnectComplete?.(this);
      } finally {
        this.completeFromReadAhead(); // even if the callback threw: the socket must go on
      }
    });
    this.flushPendingSends();
    if (this.shutdownCalled) this.closeGracefully();
  }

  /** Asks the user about the ALPN choice; a refusal (or a throw, re-thrown) ends the socket. */
  private approveAlpn(user: USocket, alpn: string): boolean {
    let accepted = false;
    try {
      accepted = user.socketAcceptSelectedAlpnProtocol?.(this, alpn) !== false;
    } finally {
      if (!accepted) {
        this.trace(`ALPN protocol ${JSON.stringify(alpn)} refused by socketAcceptSelectedAlpnProtocol`);
        this.fail(ShutdownReason.AlpnSelectionFailed);
      }
    }
    return accepted;
  }

  private recordSession(sock: TLSSocket): void {
    this.alpn = typeof sock.alpnProtocol === 'string' ? sock.alpnProtocol : null;
    const cert = sock.getPeerCertificate(true);
    this.peerCert = cert && Object.keys(cert).length > 0 ? cert : null;
    // Renegotiation is a DoS and injection surface nobody here needs (TLS 1.3 has none).
    sock.disableRenegotiation();
    this.trace(`TLS ${sock.getProtocol()} ${sock.getCipher()?.name ?? ''} ALPN=${this.alpn ?? 'none'} peer=${this.peerCert?.subject?.CN ?? 'none'}`);
  }

  /**
   * Runs the transport's handshake over a connected plain socket (accepted, or STARTTLS),
   * then completes as `kind`. A failure ends the socket with the handshake's reason.
   */
  private secureThen(raw: Socket, role: SecureRole, kind: Completion): void {
    this.startHandshake();
    raw.on('error', ignoreError); // errors during the handshake surface through `done`
    this.transport.secure!(raw, role, this.options, (err, secured) => {
      if (this.state !== 'handshaking') {
        (secured ?? raw).destroy(); // timed out or shut down meanwhile
        return;
      }
      if (err || !secured) {
        const reason = reasonForError(err, 'handshake');
        this.trace(`TLS handshake failed: ${errorCode(err)} ${err?.message ?? ''} -> ${reason}`);
        raw.destroy();
        this.fail(reason);
        return;
      }
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
        this.trace(`bind: cannot resolve ${JSON.stringify(localAddress)}: ${errorCode(err)}`);
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
    const socket = new StreamSocket(this.transport, user, { ...this.options, iomux: this.iomux, log: this.log });
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
    this.attach(sock);
    this.onConnected('accept');
    sock.resume(); // held paused (pauseOnConnect) until accepted
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
    sock.pause();
    sock.removeListener('data', this.onData);
    sock.removeListener('end', this.onEnd);
    sock.removeListener('error', this.onError);
    sock.removeListener('close', this.onClose);
    const readAhead = this.recvBuffer.drain();
    this.node = null;
    this.clearTimer();
    this.setState('takenOver', 'upgradeToTls');
    this.iomux.unregister(this);
    return { sock, readAhead, eof: this.eof, options: this.options, hostAsWritten: this.hostAsWritten ?? this.remote?.address };
  }

  /** Throws, changing nothing, unless {@link StreamSocket.handOver} can proceed. */
  checkHandOver(): void {
    this.throwIfTakenOver('upgradeToTls');
    if (this.modeValue !== 'client') {
      throw new SocketStateError(SocketErrorCode.WrongMode, `upgradeToTls: only a connected or accepted socket can be upgraded (this one is ${this.modeValue === 'server' ? 'a listener' : 'not connected'})`);
    }
    if (this.ignoresCalls) throw new SocketStateError(SocketErrorCode.ShutDown, 'upgradeToTls: the socket has ended or is shutting down');
    if (this.state !== 'connected' || !this.node) throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the socket is not connected yet');
    if (this.recvBuffer.pending) throw new SocketStateError(SocketErrorCode.RecvPending, 'upgradeToTls: a recv is pending; cancel it first');
  }

  /** The options a successor inherits (IoMux, log, limits), before its own override them. */
  get handOverOptions(): SocketOptions {
    return { ...this.options, iomux: this.iomux, log: this.log };
  }

  /** This new socket takes over `handed` and runs the TLS handshake as client or server. */
  startUpgrade(handed: HandedOver, role: SecureRole): void {
    this.modeValue = 'client';
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
    if (handed.eof || sock.destroyed) {
      this.trace('upgradeToTls: the peer had already closed the connection');
      this.fail(ShutdownReason.TlsHandshakeFailed);
      return;
    }
    if (sock.writableLength > 0) sock.write(EMPTY, start);
    else start();
  }

  private upgraded(raw: Socket, err: NodeJS.ErrnoException | null, secured: Socket | undefined): void {
    if (this.state !== 'handshaking') {
      (secured ?? raw).destroy();
      return;
    }
    if (err || !secured) {
      const reason = reasonForError(err, 'handshake');
      this.trace(`STARTTLS handshake failed: ${errorCode(err)} ${err?.message ?? ''} -> ${reason}`);
      raw.destroy();
      this.fail(reason);
      return;
    }
    this.attach(secured);
    this.onConnected('upgrade');
  }

  // ---- sending -----------------------------------------------------------------------

  send(data: Uint8Array, len?: number): void {
    this.checkIo('send');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    this.throwIfNotConnected('send');
    // Copy now: the caller may reuse `data` as soon as we return.
    const copy = Buffer.allocUnsafe(n);
    copy.set(n === data.byteLength ? data : data.subarray(0, n));
    if (this.state === 'connected') this.write(copy);
    else this.pendingSends.push(copy);
  }

  private write(chunk: Buffer): void {
    const n = chunk.byteLength;
    this.node!.write(chunk, (err) => {
      if (err) return; // the socket's 'error' reports it
      this.sent += n;
      this.emit((user) => user.socketSendResult?.(this));
    });
  }

  private flushPendingSends(): void {
    const queued = this.pendingSends;
    if (queued.length === 0) return;
    this.pendingSends = [];
    const sock = this.node!;
    sock.cork();
    for (const chunk of queued) this.write(chunk);
    sock.uncork();
  }

  // ---- receiving ---------------------------------------------------------------------

  recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void {
    this.checkIo('recv');
    const n = checkBuffer('recv', buffer, len);
    if (this.ended) return this.recvAfterEnd(buffer);
    if (this.shutdownCalled) return;
    this.throwIfNotConnected('recv');
    if (this.recvBuffer.pending) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    if (this.completing || this.state !== 'connected') {
      this.recvBuffer.wait(buffer, n, recvPartial === true); // served once the connection is reported
      return;
    }
    const done = this.recvBuffer.start(buffer, n, recvPartial === true) ?? (this.eof ? this.recvBuffer.completeShort() : null);
    if (done) this.deliver(done);
    this.resumeIfDrained();
    this.checkPeerDone();
  }

  recvCancel(): void {
    this.checkIo('recvCancel');
    if (this.ignoresCalls) return;
    this.cancelPendingRecv(true);
  }

  protected cancelPendingRecv(keepBytes = false): void {
    const req = this.recvBuffer.cancel(keepBytes);
    if (req) this.emit((user) => user.socketRecvCanceled?.(this, req.buffer));
  }

  private deliver(req: RecvRequest): void {
    this.emit((user) => user.socketRecvResult?.(this, req.buffer, req.filled));
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.shutdownCalled || this.ended) return; // closing: discard what the peer still sends
    this.received += chunk.byteLength;
    const done = this.completing ? this.recvBuffer.hold(chunk) : this.recvBuffer.push(chunk);
    if (done) this.deliver(done);
    if (this.recvBuffer.full && !this.paused) {
      this.paused = true;
      this.node!.pause();
    }
  };

  /** After the completion callback: a recv made before it may be served from what arrived. */
  private completeFromReadAhead(): void {
    const done = this.recvBuffer.retry() ?? (this.eof ? this.recvBuffer.completeShort() : null);
    if (done) this.deliver(done);
    this.resumeIfDrained();
    this.checkPeerDone();
  }

  private resumeIfDrained(): void {
    if (this.paused && !this.recvBuffer.full) {
      this.paused = false;
      this.node?.resume();
    }
  }

  private readonly onEnd = (): void => {
    this.eof = true;
    if (this.ended) {
      this.node?.destroy(); // we were lingering for this
      return;
    }
    if (this.shutdownCalled) return;
    this.trace(`the peer closed its side (${this.recvBuffer.size} bytes still to deliver)`);
    if (this.completing) return; // the completion callback's delivery checks the end again
    const short = this.recvBuffer.completeShort();
    if (short) this.deliver(short);
    this.checkPeerDone();
  };

  /** BY_PEER once the peer is done and every byte it sent was delivered. */
  private checkPeerDone(): void {
    if (this.eof && this.recvBuffer.size === 0 && !this.completing && !this.ended && !this.shutdownCalled) {
      this.reportShutdown(ShutdownReason.ByPeer);
    }
  }

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (this.ended || this.shutdownCalled) {
      this.trace(`error while closing: ${errorCode(err)} ${err.message}`);
      if (this.shutdownCalled) this.fail(ShutdownReason.Normal);
      return;
    }
    if (this.eof) {
      // The peer closed cleanly and everything it sent is in the read-ahead; only our sending
      // broke (EPIPE/ECONNRESET on a write). Deliver what arrived, then BY_PEER.
      this.trace(`sending failed after the peer closed: ${errorCode(err)}; delivering the ${this.recvBuffer.size} bytes left`);
      this.checkPeerDone();
      return;
    }
    const phase = this.state === 'handshaking' ? 'handshake' : this.state === 'connecting' || this.state === 'resolving' ? 'connect' : 'established';
    const reason = reasonForError(err, phase);
    this.trace(`${phase} error ${errorCode(err)} (${err.message}) -> ${reason}`);
    this.fail(reason);
  };

  private readonly onClose = (): void => {
    if (this.ended || this.eof) return; // after a clean end of stream, BY_PEER waits for the reads
    // A close with no 'error' and no end of stream first: treat it as a broken connection.
    const reason = this.state === 'connecting' ? ShutdownReason.ConnectFailed : this.shutdownCalled ? ShutdownReason.Normal : ShutdownReason.Lost;
    this.trace(`closed unexpectedly -> ${reason}`);
    this.fail(reason);
  };

  // ---- closing -----------------------------------------------------------------------

  shutdown(): void {
    this.throwIfTakenOver('shutdown');
    if (this.ignoresCalls) return;
    this.shutdownCalled = true;
    this.cancelPendingRecv();
    this.recvBuffer.clear();
    if (this.listener) {
      this.listener.close();
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    switch (this.state) {
      case 'connected':
        this.closeGracefully();
        return;
      case 'resolving':
      case 'connecting':
        // Sends queued before the connection was up are still delivered if it comes up
        // (bounded by the connect timeout); with nothing queued there is nothing to wait for.
        if (this.pendingSends.length === 0) this.fail(ShutdownReason.Normal);
        else this.trace('shutdown() while connecting: queued sends go out once connected');
        return;
      default:
        this.reportShutdown(ShutdownReason.Normal);
    }
  }

  /** Our FIN after every queued byte; NORMAL once Node handed them all to the OS. */
  private closeGracefully(): void {
    const sock = this.node!;
    this.setState('closing', `flushing ${sock.writableLength} bytes`);
    this.startTimer(this.shutdownTimeoutMs, () => {
      this.trace(`shutdown: queued data not handed to the OS within ${this.shutdownTimeoutMs} ms; closing anyway`);
      this.fail(ShutdownReason.Normal);
    });
    if (this.paused) {
      this.paused = false;
      sock.resume();
    }
    sock.end(() => {
      if (this.ended) return;
      this.clearTimer();
      this.reportShutdown(ShutdownReason.Normal);
    });
  }

  /** Ends the socket now: the Node socket is destroyed and `reason` reported. */
  protected fail(reason: ShutdownReason): void {
    this.clearTimer();
    this.node?.destroy();
    this.reportShutdown(reason);
  }

  protected override onEnded(): void {
    this.clearTimer();
    this.recvBuffer.clear();
    this.pendingSends = [];
    this.onConnectionEnded?.();
    this.onConnectionEnded = null;
    const sock = this.node;
    if (!sock || sock.destroyed) return;
    if (this.eof && sock.writableFinished) {
      sock.destroy();
      return;
    }
    // Our side is finished (or finishing after BY_PEER). Keep reading until the peer's FIN, so
    // closing with unread bytes does not reset the connection and lose what we sent; bounded.
    if (!sock.writableEnded) sock.end();
    sock.resume();
    const linger = setTimeout(() => sock.destroy(), LINGER_MS);
    linger.unref();
    sock.once('close', () => clearTimeout(linger));
  }

  // ---- helpers -----------------------------------------------------------------------

  private attach(sock: Socket): void {
    this.node = sock;
    sock.on('data', this.onData);
    sock.on('end', this.onEnd);
    sock.on('error', this.onError);
    sock.on('close', this.onClose);
  }

  private applyConnectionOptions(sock: Socket): void {
    sock.setNoDelay(this.options.noDelay !== false);
    const keepAlive = this.options.keepAlive;
    if (keepAlive) sock.setKeepAlive(true, typeof keepAlive === 'number' ? keepAlive : 0);
  }

  /** Stream I/O calls: the mode lock first (a listening socket never sends or receives). */
  private checkIo(method: string): void {
    this.throwIfTakenOver(method);
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, `${method}() on a server-mode stream socket`);
  }

  private throwIfNotConnected(method: string): void {
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, `${method}() before connect()`);
  }

  private startTimer(ms: number, fire: () => void): void {
    this.clearTimer();
    if (ms > 0) this.timer = setTimeout(fire, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

const EMPTY = Buffer.alloc(0);

function ignoreError(): void {
  // The socket is between owners (a handshake or hand-over runs); its errors reach the new owner.
}

function addressOf(address: string | undefined, port: number | undefined): { address: string; port: number } | null {
  return address === undefined ? null : { address, port: port ?? 0 };
}

/** Resolves the host of an endpoint (paths need nothing). */
function resolveEndpoint(endpoint: Endpoint, ipv6: boolean, done: (err: NodeJS.ErrnoException | null, resolved?: ResolvedEndpoint) => void): void {
  if ('path' in endpoint) {
    process.nextTick(done, null, endpoint);
    return;
  }
  resolveHost(endpoint.host, endpoint.kind, ipv6, (err, host) => (err ? done(err) : done(null, { host, port: endpoint.port })));
}
