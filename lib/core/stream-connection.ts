import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { PeerCertificate, ShutdownReason, SocketOptions, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { reasonForError } from './os-errors';
import { StreamTransport } from './endpoint';
import type { ConnectionTicket } from './stream-listener';
import { RecvRequest, ReceiveBuffer } from './recv-buffer';
import { Fifo } from './fifo';
import { Deadline, clearDeadline, setDeadline } from './deadlines';
import { sendPool } from './send-pool';
import { directRead } from './direct-read';
import { enterApi, leaveApi } from './dispatcher';
import { SocketBase } from './socket-base';
import { checkBuffer, checkCount } from './validate';

/** Read-ahead bound while no recv is pending (NODE-PITFALLS: 256 KiB held a sender at ~4 MiB). */
export const DEFAULT_READ_AHEAD = 256 * 1024;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** After our FIN, how long we keep reading (and discarding) so the close does not reset the peer. */
const LINGER_MS = 2_000;

/** Which callback a finished connection reports. */
export type Completion = 'connect' | 'accept' | 'upgrade';

/**
 * The connection half of a stream socket (TCP, TLS, local): sending, receiving, the end of
 * the stream and closing, over one Node socket. How the connection comes to be (connect,
 * accept, STARTTLS) is {@link StreamSocket}'s job.
 *
 * Sends are copied (the caller may reuse its buffer at once) and written to Node in order;
 * each write's completion posts one `socketSendResult`. Received bytes go through one
 * {@link ReceiveBuffer} with pause/resume at its bound.
 */
export abstract class StreamConnection extends SocketBase {
  readonly type: 'tcp' | 'tls' | 'local';
  protected readonly flag;
  /** Node set noDelay/keepAlive on the connection already (see StreamTransport.appliesSocketOptions). */
  private readonly socketOptionsApplied: boolean;

  protected node: Socket | null = null;
  /** The plain socket under a handshake that has not produced the secure socket yet. */
  protected handshaking: Socket | null = null;
  protected readonly recvBuffer: ReceiveBuffer;
  /** Sends made before the connection is up, written once it is. */
  protected pendingSends: Buffer[] = [];
  /** Copies handed to Node whose write has not completed, oldest first. */
  private readonly inFlight = new Fifo<Buffer>();
  private readonly shutdownTimeoutMs: number;
  /** Until the completion callback ran, data is read ahead but no recv completes (it must not overtake it). */
  private completing = false;
  private alpn: string | null = null;
  /** Local sockets: what stands in for addresses (the path connected to, or bound). */
  protected pathLocal: { address: string; port: number } | null = null;
  protected pathRemote: { address: string; port: number } | null = null;
  private peerCert: PeerCertificate | null = null;
  private timer: Deadline | null = null;
  /** After our end: reading on until the peer's FIN, bounded by this (see onEnded). */
  private linger: Deadline | null = null;
  /** The peer finished sending (Node's 'end'). */
  protected eof = false;
  private paused = false;
  private sent = 0;
  private received = 0;
  private local: { address: string; port: number } | null = null;
  /** Connected, and the local address not read from Node yet (see getLocalAddress). */
  private localUnread = false;
  protected remote: { address: string; port: number } | null = null;
  /** A client's peer as its connect target says, when that is what Node would read back. */
  protected connectTarget: { address: string; port: number } | null = null;
  /** Set on an accepted socket: its listener's count of this connection, told when it ends. */
  ticket: ConnectionTicket | null = null;
  /** Bytes handed to Node and not yet written (the in-flight copies). */
  private inFlightBytes = 0;

  constructor(transport: StreamTransport, user: USocket, options: SocketOptions) {
    super(user, options);
    this.type = transport.type;
    this.flag = transport.flag;
    this.socketOptionsApplied = transport.appliesSocketOptions === true;
    this.recvBuffer = new ReceiveBuffer(checkCount('readAheadBytes', options.readAheadBytes, DEFAULT_READ_AHEAD, 1));
    this.shutdownTimeoutMs = checkCount('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS);
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
  get droppedDatagrams(): number {
    return 0;
  }

  getLocalAddress(): { address: string; port: number } | null {
    if (this.localUnread) {
      // Node keeps what it read; after the socket closed, an address never read is gone.
      const sock = this.node;
      this.local = (sock && addressOf(sock.localAddress, sock.localPort)) ?? this.pathLocal;
      this.localUnread = false;
    }
    return this.local;
  }

  protected queuedSendBytes(): number {
    let queued = this.inFlightBytes;
    for (const chunk of this.pendingSends) queued += chunk.byteLength;
    return queued;
  }

  protected readAheadBytes(): number {
    return this.recvBuffer.size;
  }

  override get alpnProtocol(): string | null {
    return this.alpn;
  }

  override getPeerCertificate(): PeerCertificate | null {
    return this.peerCert;
  }


  // ---- the completion ----------------------------------------------------------------

  /**
   * The connection carries data now. The completion is posted (unless shutdown() came first);
   * with ALPN, the user approves the protocol in the same delivery, just before it.
   */
  protected onConnected(kind: Completion, fromEvent = false): void {
    if (this.state !== 'connecting' && this.state !== 'handshaking') return;
    this.clearTimer();
    this.markHandshakeDone();
    const sock = this.node!;
    // Local sockets have no IP addresses: the path stands in, with port 0 (contract §3). The
    // local address is read when first asked for (a getsockname per connection otherwise).
    this.localUnread = true;
    this.remote ??= this.connectTarget ?? addressOf(sock.remoteAddress, sock.remotePort) ?? this.pathRemote;
    if (sock instanceof TLSSocket) this.recordSession(sock);
    if (this.log.isEnabled(this.flag)) {
      const local = this.getLocalAddress();
      this.setState('connected', `${local?.address}:${local?.port} -> ${this.remote?.address}:${this.remote?.port}`);
    } else {
      this.state = 'connected';
    }
    if (!this.socketOptionsApplied) this.applyConnectionOptions(sock);
    this.completing = true;
    // Sends queued while connecting go first: with `fromEvent` the completion below may run at
    // once, and what it sends must follow them.
    this.flushPendingSends();
    if (this.shutdownCalled) this.closeGracefully();
    // Posted without a closure (one per connection otherwise); ended sockets post nothing.
    if (this.ended) return;
    if (fromEvent) this.iomux.dispatcher.postFromEvent(this.deliverCompletion, this, kind);
    else this.iomux.dispatcher.post(this.deliverCompletion, this, kind);
  }

  private deliverCompletion(kind: Completion): void {
    if (this.state === 'takenOver' || this.shutdownCalled) return;
    if (this.alpn !== null && !this.approveAlpn(this.user, this.alpn)) return;
    const current = this.user; // the ALPN callback may have switched users
    this.completing = false;
    try {
      if (kind === 'accept') current.socketAcceptComplete?.(this);
      else if (kind === 'upgrade') current.socketUpgradeToTlsComplete?.(this);
      else current.socketConnectComplete?.(this);
    } finally {
      this.completeFromReadAhead(); // even if the callback threw: the socket must go on
    }
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
    if (this.log.isEnabled(this.flag)) {
      // Says so on every connection whose peer was not verified (setVerifyPeer(false), or a server without requireClientCertificate).
      const verified = sock.authorized ? 'verified' : `NOT verified (${String(sock.authorizationError ?? 'no certificate checked')})`;
      this.trace(`TLS ${sock.getProtocol()} ${sock.getCipher()?.name ?? ''} ALPN=${this.alpn ?? 'none'} peer=${this.peerCert?.subject?.CN ?? 'none'} ${verified}`);
    }
  }

  // ---- sending -----------------------------------------------------------------------

  send(data: Uint8Array, len?: number): void {
    this.checkIo('send');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    this.throwIfNotConnected('send');
    if (this.state !== 'connected') {
      this.pendingSends.push(sendPool.copy(data, n)); // the caller may reuse `data` at once
      return;
    }
    enterApi();
    try {
      this.write(this.writesThrough(this.node!) ? viewOf(data, n) : sendPool.copy(data, n));
    } finally {
      leaveApi();
    }
  }

  /**
   * Whether a write now is consumed before `write()` returns, so the caller's memory need not
   * be copied: a TLS socket with nothing queued hands the bytes straight to OpenSSL, which
   * encrypts them (or copies what it cannot take yet) before returning — Node's TLS layer never
   * keeps a pointer to them. A plain socket's write may keep pointing at the bytes until the
   * kernel took them all, so plain sockets always copy.
   */
  private writesThrough(sock: Socket): boolean {
    return sock instanceof TLSSocket && sock.writableLength === 0 && sock.writableCorked === 0 && !sock.destroyed;
  }

  /**
   * Hands one copy to Node. Node completes writes in order, so one shared callback and a FIFO
   * of what is in flight replace a closure per send.
   */
  private write(chunk: Buffer): void {
    this.inFlight.push(chunk);
    this.inFlightBytes += chunk.byteLength;
    this.node!.write(chunk, this.onWritten);
  }

  private readonly onWritten = (err?: Error | null): void => {
    const chunk = this.inFlight.shift();
    if (chunk !== undefined) this.inFlightBytes -= chunk.byteLength;
    if (err || chunk === undefined) return; // the socket's 'error' reports it; Node may still read a failed write's memory
    this.sent += chunk.byteLength;
    sendPool.release(chunk);
    if (!this.ended) this.iomux.dispatcher.postFromEvent(this.deliverSendResult, this);
  };

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
    this.throwIfRecvUndelivered();
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
    enterApi();
    try {
      this.resumeIfDrained();
    } finally {
      leaveApi();
    }
    this.checkPeerDone();
  }

  recvCancel(): void {
    this.checkIo('recvCancel');
    if (this.ignoresCalls) return;
    this.cancelPendingRecv(true);
  }

  protected cancelPendingRecv(keepBytes = false): void {
    const req = this.recvBuffer.cancel(keepBytes);
    if (!req) return;
    if (req.detached && keepBytes) this.recvDetached(req, false);
    else this.emit((user) => user.socketRecvCanceled?.(this, req.buffer));
  }

  /** A recv that completed, or was withdrawn because its buffer went away (see ReceiveBuffer). */
  private deliver(req: RecvRequest, fromEvent = false): void {
    if (req.detached) this.recvDetached(req, fromEvent);
    else this.emitRecvResult(req, fromEvent);
  }

  /**
   * The pending recv's buffer was detached (or shrunk) by the app: it is cancelled, never
   * written to (that would throw out of Node's read callback). Bytes not taken yet wait in the
   * read-ahead for the next recv. Bytes an exact recv had already taken left with the buffer:
   * the stream has a gap the app cannot see, so the socket ends with SOCKET_LOST.
   */
  private recvDetached(req: RecvRequest, fromEvent: boolean): void {
    this.emit((user) => user.socketRecvCanceled?.(this, req.buffer), fromEvent);
    if (req.filled === 0) {
      this.trace(`recv cancelled: its buffer was detached or shrunk while pending; ${this.recvBuffer.size} bytes wait for the next recv`);
      return;
    }
    this.trace(`recv cancelled: its buffer was detached or shrunk holding ${req.filled} bytes of the stream, which left with it -> ${ShutdownReason.Lost}`);
    this.fail(ShutdownReason.Lost);
  }

  /** @internal A chunk from Node's 'data' event (a socket that could not be switched to onread). */
  handleData(chunk: Buffer): void {
    this.take(chunk, false);
  }

  /**
   * @internal `onread` (TCP, local and TLS sockets, see {@link DIRECT_READ}): `n` bytes in the
   * scratch buffer, valid only during this call, so what the receive buffer keeps it copies.
   */
  handleRead(n: number, scratch: Uint8Array): boolean {
    this.take(scratch.subarray(0, n), true);
    return true;
  }

  /** Bytes arrived: into the pending recv or the read-ahead; pause at the bound. */
  private take(chunk: Uint8Array, transient: boolean): void {
    if (this.shutdownCalled || this.ended) return; // closing: discard what the peer still sends
    this.received += chunk.byteLength;
    const done = this.completing ? this.recvBuffer.hold(chunk, transient) : this.recvBuffer.push(chunk, transient);
    if (this.recvBuffer.full && !this.paused) {
      this.paused = true;
      this.node!.pause();
    }
    // Last: the user may run right here (direct delivery), and calls recv/shutdown from it.
    if (done) this.deliver(done, true);
  }

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

  /** @internal Node's 'end': the peer finished sending. */
  handleEnd(): void {
    this.eof = true;
    if (this.ended) {
      this.node?.destroy(); // we were lingering for this
      return;
    }
    if (this.shutdownCalled) return;
    if (this.state === 'handshaking') {
      // BY_PEER is for a connection that was up; one that ends inside the handshake failed it.
      this.trace('the peer closed the connection during the TLS handshake');
      this.fail(ShutdownReason.TlsHandshakeFailed);
      return;
    }
    this.trace(`the peer closed its side (${this.recvBuffer.size} bytes still to deliver)`);
    if (this.completing) return; // the completion callback's delivery checks the end again
    const short = this.recvBuffer.completeShort();
    if (short) this.deliver(short);
    this.checkPeerDone();
  }

  /** BY_PEER once the peer is done and every byte it sent was delivered. */
  private checkPeerDone(): void {
    if (this.eof && this.recvBuffer.size === 0 && !this.completing && !this.ended && !this.shutdownCalled) {
      this.reportShutdown(ShutdownReason.ByPeer);
    }
  }

  /** @internal Node's 'error'. */
  handleError(err: NodeJS.ErrnoException): void {
    if (this.ended || this.shutdownCalled) {
      this.trace(`error while closing: ${this.codeOf(err)} ${err.message}`);
      if (this.shutdownCalled) this.fail(ShutdownReason.Normal);
      return;
    }
    if (this.eof) {
      // The peer closed cleanly and everything it sent is in the read-ahead; only our sending
      // broke (EPIPE/ECONNRESET on a write). Deliver what arrived, then BY_PEER.
      this.trace(`sending failed after the peer closed: ${this.codeOf(err)}; delivering the ${this.recvBuffer.size} bytes left`);
      this.checkPeerDone();
      return;
    }
    const phase = this.state === 'handshaking' ? 'handshake' : this.state === 'connecting' || this.state === 'resolving' ? 'connect' : 'established';
    const reason = reasonForError(err, phase);
    this.trace(`${phase} error ${this.codeOf(err)} (${err.message}) -> ${reason}`);
    this.fail(reason);
  }

  /** @internal Node's 'close'. */
  handleClose(): void {
    if (this.linger) clearDeadline(this.linger);
    this.linger = null;
    if (this.ended || this.eof) return; // after a clean end of stream, BY_PEER waits for the reads
    // A close with no 'error' and no end of stream first: treat it as a broken connection.
    const reason =
      this.state === 'connecting'
        ? ShutdownReason.ConnectFailed
        : this.state === 'handshaking'
          ? ShutdownReason.TlsHandshakeFailed
          : this.shutdownCalled
            ? ShutdownReason.Normal
            : ShutdownReason.Lost;
    this.trace(`closed unexpectedly -> ${reason}`);
    this.fail(reason);
  }

  // ---- closing -----------------------------------------------------------------------

  /**
   * shutdown() of a connection (client or accepted): flush, FIN, NORMAL. While connecting,
   * sends queued before the connection was up are still delivered if it comes up (bounded by
   * the connect time-out); with nothing queued there is nothing to wait for.
   */
  protected shutdownConnection(): void {
    this.recvBuffer.clear();
    switch (this.state) {
      case 'connected':
        this.closeGracefully();
        return;
      case 'resolving':
      case 'connecting':
      case 'handshaking':
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
    if (this.log.isEnabled(this.flag)) this.setState('closing', `flushing ${sock.writableLength} bytes`);
    else this.state = 'closing';
    // A plain socket with nothing queued finishes at once (the FIN never waits for the peer):
    // no timer for it. Queued bytes, or a TLS close_notify, can wait for a peer that does not read.
    if (sock.writableLength > 0 || sock instanceof TLSSocket) {
      this.startTimer(this.shutdownTimeoutMs, () => {
        this.trace(`shutdown: queued data not handed to the OS within ${this.shutdownTimeoutMs} ms; closing anyway`);
        this.fail(ShutdownReason.Normal);
      });
    }
    if (this.paused) {
      this.paused = false;
      sock.resume();
    }
    sock.end(() => {
      if (this.ended) return;
      this.clearTimer();
      this.reportShutdown(ShutdownReason.Normal, true); // Node's 'finish': never inside end()
    });
  }

  /** Ends the socket now: the Node socket is destroyed and `reason` reported. */
  protected fail(reason: ShutdownReason): void {
    this.clearTimer();
    this.node?.destroy();
    // A handshake on a socket not attached yet (server side, STARTTLS): close it too, or a
    // time-out or shutdown would report the end and leave the connection open.
    this.handshaking?.destroy();
    this.handshaking = null;
    this.reportShutdown(reason);
  }

  protected override onEnded(): void {
    this.clearTimer();
    this.recvBuffer.clear();
    this.pendingSends = [];
    this.ticket?.ended();
    this.ticket = null;
    const sock = this.node;
    if (!sock || sock.destroyed) return;
    if (this.eof && sock.writableFinished) {
      sock.destroy();
      return;
    }
    if (this.eof && sock.writableLength === 0) {
      // The peer's FIN is in and nothing of ours waits: once our FIN is out, Node closes the
      // socket by itself (both directions done). No timer per connection for that.
      if (!sock.writableEnded) sock.end();
      return;
    }
    // Our side is finished (or finishing after BY_PEER). Keep reading until the peer's FIN, so
    // closing with unread bytes does not reset the connection and lose what we sent; bounded.
    if (!sock.writableEnded) sock.end();
    sock.resume();
    // Cleared by handleClose (Node's 'close'); it must not keep the process alive.
    this.linger = setDeadline(LINGER_MS, () => sock.destroy(), true);
  }

  // ---- helpers -----------------------------------------------------------------------

  /**
   * Listens to `sock`. The listeners are shared functions that find this connection through a
   * property of the Node socket: no closures per connection (memory per idle connection, #6).
   */
  protected attach(sock: Socket): void {
    this.node = sock;
    (sock as Owned)[OWNER] = this;
    sock.on('data', onNodeData);
    sock.on('end', onNodeEnd);
    sock.on('error', onNodeError);
    sock.on('close', onNodeClose);
  }

  /** Stops listening to `sock` (a STARTTLS hand-over): it is left paused, with no owner. */
  protected detach(sock: Socket): void {
    sock.pause();
    sock.removeListener('data', onNodeData);
    sock.removeListener('end', onNodeEnd);
    sock.removeListener('error', onNodeError);
    sock.removeListener('close', onNodeClose);
    delete (sock as Owned)[OWNER];
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

  protected startTimer(ms: number, fire: () => void): void {
    this.clearTimer();
    if (ms > 0) this.timer = setDeadline(ms, fire);
  }

  protected clearTimer(): void {
    if (this.timer) clearDeadline(this.timer);
    this.timer = null;
  }
}

/** The first `n` bytes of `data` as a Buffer over the same memory (no copy). */
function viewOf(data: Uint8Array, n: number): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, n);
}

/** `{ address, port }`, or null when Node has no address (a closed or local socket). */
export function addressOf(address: string | undefined, port: number | undefined): { address: string; port: number } | null {
  return address === undefined ? null : { address, port: port ?? 0 };
}

/** Where a Node socket keeps the connection that listens to it. */
const OWNER = Symbol('socket-provider.connection');
type Owned = Socket & { [OWNER]?: StreamConnection };

/** @internal The connection listening to a Node socket, if any. */
export function ownerOf(sock: Socket): StreamConnection | undefined {
  return (sock as Owned)[OWNER];
}

// Node calls event listeners and the onread callback with the Node socket as `this`.
function onNodeData(this: Socket, chunk: Buffer): void {
  (this as Owned)[OWNER]?.handleData(chunk);
}
function onNodeEnd(this: Socket): void {
  (this as Owned)[OWNER]?.handleEnd();
}
function onNodeError(this: Socket, err: NodeJS.ErrnoException): void {
  (this as Owned)[OWNER]?.handleError(err);
}
function onNodeClose(this: Socket): void {
  (this as Owned)[OWNER]?.handleClose();
}

/**
 * The `onread` settings of every plain connection: one scratch buffer, one callback that finds
 * the connection (a socket with no owner is between owners and paused: nothing to read).
 */
export const DIRECT_READ = directRead(function (this: Socket, n: number, scratch: Uint8Array): boolean {
  const owner = (this as Owned)[OWNER];
  return owner ? owner.handleRead(n, scratch) : true;
});
