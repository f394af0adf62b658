import type { Socket } from 'node:net';
import { ShutdownReason, USocket } from '../../api';
import { SocketErrorCode, SocketStateError } from '../../errors';
import { clearDeadline, Deadline, setDeadline } from '../deadlines';
import { enterApi, leaveApi } from '../dispatcher';
import { reasonForError } from '../os-errors';
import { RecvRequest, ReceiveBuffer } from '../recv-buffer';
import { sendPool } from '../send-pool';
import { SendQueue, SendQueueOwner } from '../send-queue';
import { armTimeout, disarmTimeout } from '../timeout';
import type { HostPort, LocalAddressSource } from '../addresses';
import { ClientRole, Completion, handledWhileClosing, StreamHost, StreamLimits } from './host';
import { addressOf, detach, NodeSocketOwner } from './node-socket';
import type { ConnectionTicket } from './ticket';
import { Address, SecureSession, StreamTransport } from './transport';

/** After our FIN, how long we keep reading (and discarding) so the close does not reset the peer. */
const LINGER_MS = 2_000;

/**
 * Where a connection starts from: what its connector (or the accepting socket, or a socket
 * pair) knew, and what the app did before the connection was up.
 */
export interface ConnectionSeed {
  /** The connector's send queue, holding the sends made before the connection was up (null: none was made). */
  readonly sends: SendQueue | null;
  /** The recv made before the connection was up. */
  readonly waiting: RecvRequest | null;
  /** Bytes that reached the connector before the connection took over (copies). */
  readonly early: Uint8Array[] | null;
  /** A client's peer as its connect target says, when that is what Node would read back. */
  readonly target: Address | null;
  /** What stands in for addresses Node does not have (local sockets: a path, or `''`; port 0). */
  readonly standInLocal: Address | null;
  readonly standInRemote: Address | null;
  /** The host the client connected to, as written. */
  readonly hostAsWritten: string | undefined;
  /** An accepted connection's count at its listener. */
  readonly ticket: ConnectionTicket | null;
}

/** What a connection taken over by `upgradeToTls` hands to its successor. */
export interface HandedOver {
  sock: Socket;
  /** Bytes read from the network and not delivered: they belong to the TLS layer now. */
  readAhead: Uint8Array[];
  /** The peer had already closed its side. */
  eof: boolean;
  /** The name a TLS client verifies when the app gives none: the host as written, else the peer's IP address. */
  hostAsWritten: string | undefined;
  /** An accepted connection's count at its listener, which moves to the successor. */
  ticket: ConnectionTicket | null;
}

/**
 * The connection role of a stream socket (TCP, TLS, local, socket pair): sending, receiving,
 * the end of the stream and closing, over one Node socket that carries data. How it came to
 * be is the connector's job (or the accepting socket's); what the transport secures is asked
 * of its securer.
 *
 * Sends are copied (the caller may reuse its buffer at once) and written to Node in order; each
 * write's completion posts one `socketSendResult`. Received bytes go through one
 * {@link ReceiveBuffer} with pause/resume at its bound.
 */
export class Connection implements ClientRole, NodeSocketOwner, LocalAddressSource, SendQueueOwner {
  private node: Socket | null;
  private readonly recvBuffer: ReceiveBuffer;
  /**
   * Sends from `send()` to `socketSendResult`: those made before the connection was up are held
   * until {@link Connection.start} opens the queue; then each is one Node write, in flight until
   * Node's write callback completes it.
   */
  private readonly sends: SendQueue;
  /** Until the completion callback ran, data is read ahead but no recv completes (it must not overtake it). */
  private completing = false;
  private secureSession: SecureSession | null = null;
  /** Bounds the flush of `shutdown()`. */
  private timer: Deadline | null = null;
  /** After our end: reading on until the peer's FIN, bounded by this (see onEnded). */
  private linger: Deadline | null = null;
  /** The peer finished sending (Node's 'end'). */
  private eof = false;
  private paused = false;
  private sent = 0;
  private received = 0;
  private readonly standInLocal: Address | null;
  private readonly standInRemote: Address | null;
  private readonly hostAsWritten: string | undefined;
  private ticket: ConnectionTicket | null;
  private readonly shutdownTimeoutMs: number;

  constructor(
    private readonly host: StreamHost,
    private readonly transport: StreamTransport,
    sock: Socket,
    limits: StreamLimits,
    seed: ConnectionSeed,
  ) {
    this.node = sock;
    this.recvBuffer = new ReceiveBuffer(limits.readAheadBytes);
    this.shutdownTimeoutMs = limits.shutdownTimeoutMs;
    this.sends = seed.sends ?? new SendQueue();
    this.standInLocal = seed.standInLocal;
    this.standInRemote = seed.standInRemote;
    this.hostAsWritten = seed.hostAsWritten;
    this.ticket = seed.ticket;
    // Local sockets have no IP addresses: the path stands in, with port 0 (contract §3).
    host.addresses.remote = seed.target ?? addressOf(sock.remoteAddress, sock.remotePort) ?? seed.standInRemote;
    const waiting = seed.waiting;
    if (waiting) this.recvBuffer.wait(waiting.buffer, waiting.len, waiting.partial); // served once the connection is reported
    if (seed.early) {
      for (const chunk of seed.early) {
        this.received += chunk.byteLength;
        this.recvBuffer.hold(chunk);
      }
    }
  }

  // ---- facts -------------------------------------------------------------------------

  get bytesSent(): number {
    return this.sent;
  }
  get bytesReceived(): number {
    return this.received;
  }
  get session(): SecureSession | null {
    return this.secureSession;
  }
  get nodeSocket(): Socket | null {
    return this.node;
  }
  get peerEnded(): boolean {
    return this.eof;
  }

  /**
   * The socket's local address, read from Node when first asked for (`Addresses.readLocalLater`).
   * Node keeps what it read; after the socket closed (or was handed over), an address never read is gone.
   */
  readLocalAddress(): HostPort | null {
    const sock = this.node;
    return (sock && addressOf(sock.localAddress, sock.localPort)) ?? this.standInLocal;
  }

  queuedSendBytes(): number {
    return this.sends.queuedBytes;
  }

  readAheadBytes(): number {
    return this.recvBuffer.size;
  }

  /** A recv is pending, or its result is not delivered yet. */
  get recvPending(): boolean {
    return this.recvBuffer.pending !== null;
  }

  // ---- the completion ----------------------------------------------------------------

  /**
   * The connection carries data now. The completion is posted (unless shutdown() came first);
   * with ALPN, the user approves the protocol in the same delivery, just before it.
   * `fromEvent`: called from Node's event, so the completion may run at once.
   */
  start(kind: Completion, fromEvent: boolean): void {
    const host = this.host;
    const sock = this.node!;
    host.markHandshakeDone();
    const addresses = host.addresses;
    addresses.readLocalLater(this);
    const securer = this.transport.securer;
    if (securer) {
      const session = securer.establish(sock, host.logging);
      this.secureSession = session;
      if (session.summary !== null) host.trace(session.summary);
    }
    if (host.logging) {
      const { local, remote } = addresses;
      host.setState('connected', `${local?.address}:${local?.port} -> ${remote?.address}:${remote?.port}`);
    } else {
      host.setState('connected');
    }
    if (!this.transport.appliesSocketOptions) this.applyConnectionOptions(sock);
    this.completing = true;
    // Sends queued while connecting go first: with `fromEvent` the completion below may run at
    // once, and what it sends must follow them.
    this.openSends(sock);
    if (host.shutdownRequested) this.closeGracefully();
    // Posted without a closure (one per connection otherwise); ended sockets post nothing.
    if (host.ended) return;
    const dispatcher = host.iomux.dispatcher;
    if (fromEvent) dispatcher.postFromEvent(this.deliverCompletion, this, kind);
    else dispatcher.post(this.deliverCompletion, this, kind);
  }

  private deliverCompletion(kind: Completion): void {
    const host = this.host;
    if (host.state === 'takenOver' || host.shutdownRequested) return;
    const alpn = this.secureSession?.alpn ?? null;
    if (alpn !== null && !this.approveAlpn(host.user, alpn)) return;
    const current = host.user; // the ALPN callback may have switched users
    this.completing = false;
    try {
      if (kind === 'accept') current.socketAcceptComplete?.(host);
      else if (kind === 'upgrade') current.socketUpgradeToTlsComplete?.(host);
      else current.socketConnectComplete?.(host);
    } finally {
      this.completeFromReadAhead(); // even if the callback threw: the socket must go on
    }
  }

  /** Asks the user about the ALPN choice; a refusal (or a throw, re-thrown) ends the socket. */
  private approveAlpn(user: USocket, alpn: string): boolean {
    let accepted = false;
    try {
      accepted = user.socketAcceptSelectedAlpnProtocol?.(this.host, alpn) !== false;
    } finally {
      if (!accepted) {
        this.host.trace(`ALPN protocol ${JSON.stringify(alpn)} refused by socketAcceptSelectedAlpnProtocol`);
        this.fail(ShutdownReason.AlpnSelectionFailed);
      }
    }
    return accepted;
  }

  // ---- sending -----------------------------------------------------------------------

  send(data: Uint8Array, len: number): void {
    enterApi();
    try {
      const securer = this.transport.securer;
      this.sends.push(securer !== undefined && securer.writesThrough(this.node!) ? viewOf(data, len) : sendPool.copy(data, len));
    } finally {
      leaveApi();
    }
  }

  /**
   * @internal One send of the queue as one Node write (SendQueueOwner). Node completes writes in
   * order, so one shared callback and the queue's FIFO of what is in flight replace a closure per send.
   */
  transmit(chunk: Buffer): void {
    this.node!.write(chunk, this.onWritten);
  }

  private readonly onWritten = (err?: Error | null): void => this.sends.complete(err ?? null);

  /** @internal Node's write of the oldest send in flight completed (SendQueueOwner). */
  sendFinished(chunk: Buffer, err: Error | null): void {
    if (err) return; // the socket's 'error' reports it; Node may still read a failed write's memory
    this.sent += chunk.byteLength;
    sendPool.release(chunk);
    this.host.sendCompleted();
  }

  /** The connection is up: the queue opens, and the sends held while connecting go out in order, in one corked batch. */
  private openSends(sock: Socket): void {
    const sends = this.sends;
    if (sends.heldCount === 0) {
      sends.open(this);
      return;
    }
    sock.cork();
    sends.open(this);
    sock.uncork();
  }

  // ---- receiving ---------------------------------------------------------------------

  recv(buffer: Uint8Array, len: number, partial: boolean): void {
    const recvBuffer = this.recvBuffer;
    if (recvBuffer.pending) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    if (this.completing) {
      recvBuffer.wait(buffer, len, partial); // served once the connection is reported
      return;
    }
    const done = recvBuffer.start(buffer, len, partial) ?? (this.eof ? recvBuffer.completeShort() : null);
    if (done) this.deliver(done);
    enterApi();
    try {
      this.resumeIfDrained();
    } finally {
      leaveApi();
    }
    this.checkPeerDone();
  }

  cancelPendingRecv(keepBytes: boolean): void {
    const req = this.recvBuffer.cancel(keepBytes);
    if (!req) return;
    const host = this.host;
    if (req.detached && keepBytes) this.recvDetached(req, false);
    else host.emit((user) => user.socketRecvCanceled?.(host, req.buffer));
  }

  /** A recv that completed, or was withdrawn because its buffer went away (see ReceiveBuffer). */
  private deliver(req: RecvRequest, fromEvent = false): void {
    if (req.detached) this.recvDetached(req, fromEvent);
    else this.host.emitRecvResult(req, fromEvent);
  }

  /**
   * The pending recv's buffer was detached (or shrunk) by the app: it is cancelled, never
   * written to (that would throw out of Node's read callback). Bytes not taken yet wait in the
   * read-ahead for the next recv. Bytes an exact recv had already taken left with the buffer:
   * the stream has a gap the app cannot see, so the socket ends with SOCKET_LOST.
   */
  private recvDetached(req: RecvRequest, fromEvent: boolean): void {
    const host = this.host;
    host.emit((user) => user.socketRecvCanceled?.(host, req.buffer), fromEvent);
    if (req.filled === 0) {
      host.trace(`recv cancelled: its buffer was detached or shrunk while pending; ${this.recvBuffer.size} bytes wait for the next recv`);
      return;
    }
    host.trace(`recv cancelled: its buffer was detached or shrunk holding ${req.filled} bytes of the stream, which left with it -> ${ShutdownReason.Lost}`);
    this.fail(ShutdownReason.Lost);
  }

  handleData(chunk: Buffer): void {
    this.take(chunk, false);
  }

  handleRead(n: number, scratch: Uint8Array): boolean {
    this.take(scratch.subarray(0, n), true);
    return true;
  }

  /** Bytes arrived: into the pending recv or the read-ahead; pause at the bound. */
  private take(chunk: Uint8Array, transient: boolean): void {
    const host = this.host;
    if (host.shutdownRequested || host.ended) return; // closing: discard what the peer still sends
    this.received += chunk.byteLength;
    const recvBuffer = this.recvBuffer;
    const done = this.completing ? recvBuffer.hold(chunk, transient) : recvBuffer.push(chunk, transient);
    if (recvBuffer.full && !this.paused) {
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

  handleEnd(): void {
    this.eof = true;
    const host = this.host;
    if (host.ended) {
      this.node?.destroy(); // we were lingering for this
      return;
    }
    if (host.shutdownRequested) return;
    host.trace(`the peer closed its side (${this.recvBuffer.size} bytes still to deliver)`);
    if (this.completing) return; // the completion callback's delivery checks the end again
    const short = this.recvBuffer.completeShort();
    if (short) this.deliver(short);
    this.checkPeerDone();
  }

  /** BY_PEER once the peer is done and every byte it sent was delivered. */
  private checkPeerDone(): void {
    const host = this.host;
    if (this.eof && this.recvBuffer.size === 0 && !this.completing && !host.ended && !host.shutdownRequested) {
      host.reportShutdown(ShutdownReason.ByPeer);
    }
  }

  handleError(err: NodeJS.ErrnoException): void {
    const host = this.host;
    if (handledWhileClosing(host, err, (reason) => this.fail(reason))) return;
    if (this.eof) {
      // The peer closed cleanly and everything it sent is in the read-ahead; only our sending
      // broke (EPIPE/ECONNRESET on a write). Deliver what arrived, then BY_PEER.
      host.trace(`sending failed after the peer closed: ${host.codeOf(err)}; delivering the ${this.recvBuffer.size} bytes left`);
      this.checkPeerDone();
      return;
    }
    const reason = reasonForError(err, 'established');
    host.trace(`established error ${host.codeOf(err)} (${err.message}) -> ${reason}`);
    this.fail(reason);
  }

  handleClose(): void {
    if (this.linger) clearDeadline(this.linger);
    this.linger = null;
    const host = this.host;
    if (host.ended || this.eof) return; // after a clean end of stream, BY_PEER waits for the reads
    // A close with no 'error' and no end of stream first: treat it as a broken connection.
    const reason = host.shutdownRequested ? ShutdownReason.Normal : ShutdownReason.Lost;
    host.trace(`closed unexpectedly -> ${reason}`);
    this.fail(reason);
  }

  // ---- closing -----------------------------------------------------------------------

  /** shutdown(): flush, FIN, NORMAL. */
  shutdown(): void {
    this.recvBuffer.clear();
    if (this.host.state === 'connected') this.closeGracefully();
    else this.host.reportShutdown(ShutdownReason.Normal);
  }

  /** Our FIN after every queued byte; NORMAL once Node handed them all to the OS. */
  private closeGracefully(): void {
    const host = this.host;
    const sock = this.node!;
    if (host.logging) host.setState('closing', `flushing ${sock.writableLength} bytes`);
    else host.setState('closing');
    // A plain socket with nothing queued finishes at once (the FIN never waits for the peer):
    // no timer for it. Queued bytes, or a TLS close_notify, can wait for a peer that does not read.
    if (sock.writableLength > 0 || this.transport.securer !== undefined) {
      this.clearTimer();
      this.timer = armTimeout(this.shutdownTimeoutMs, () => {
        host.trace(`shutdown: queued data not handed to the OS within ${this.shutdownTimeoutMs} ms; closing anyway`);
        this.fail(ShutdownReason.Normal);
      });
    }
    if (this.paused) {
      this.paused = false;
      sock.resume();
    }
    sock.end(() => {
      if (host.ended) return;
      this.clearTimer();
      host.reportShutdown(ShutdownReason.Normal, true); // Node's 'finish': never inside end()
    });
  }

  /** Ends the socket now: the Node socket is destroyed and `reason` reported. */
  private fail(reason: ShutdownReason): void {
    this.clearTimer();
    this.node?.destroy();
    this.host.reportShutdown(reason);
  }

  onEnded(): void {
    this.clearTimer();
    this.recvBuffer.clear();
    this.sends.discard();
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

  // ---- STARTTLS ----------------------------------------------------------------------

  /**
   * Gives the Node socket away (`upgradeToTls`): this connection stops listening to it and hands
   * over its undelivered read-ahead (for the TLS layer, never the app) and its listener count.
   */
  release(): HandedOver {
    const sock = this.node!;
    detach(sock);
    const readAhead = this.recvBuffer.drain();
    this.node = null;
    this.clearTimer();
    const ticket = this.ticket;
    this.ticket = null;
    // A peer addressed by a path (local sockets) has no name to verify or send as SNI.
    const peer = this.host.addresses.remote;
    const hostAsWritten = this.hostAsWritten ?? (peer !== this.standInRemote ? peer?.address : undefined);
    return { sock, readAhead, eof: this.eof, hostAsWritten, ticket };
  }

  // ---- helpers -----------------------------------------------------------------------

  private applyConnectionOptions(sock: Socket): void {
    const options = this.host.options;
    sock.setNoDelay(options.noDelay !== false);
    const keepAlive = options.keepAlive;
    if (keepAlive) sock.setKeepAlive(true, typeof keepAlive === 'number' ? keepAlive : 0);
  }

  private clearTimer(): void {
    this.timer = disarmTimeout(this.timer);
  }
}

/** The first `n` bytes of `data` as a Buffer over the same memory (no copy). */
function viewOf(data: Uint8Array, n: number): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, n);
}
