import { LogFlag, ShutdownReason, SocketOptions, SocketUser, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { DatagramPath, DatagramSink } from './datagram-path';
import { DatagramReceiver, DatagramResult } from './datagram-receiver';
import { RECV_FROM, RECV_PLAIN } from './recv-route';
import { DEFAULT_DATAGRAM_QUEUE, DEFAULT_SHUTDOWN_TIMEOUT_MS } from './defaults';
import { SendQueue, SendQueueOwner } from './send-queue';
import { SocketBase } from './socket-base';
import { armTimeout, Deadline, disarmTimeout } from './timeout';
import { checkBuffer, checkCount, checkTimeout } from './validate';

/**
 * What the datagram sockets (UDP, DTLS) share: the receiving side (one recv, a bounded queue,
 * the cut to length), the sending side (one {@link SendQueue}), the close after `shutdown()`
 * (flush, bounded by `shutdownTimeoutMs`, 0: no limit), the facts, and cancelling a recv. The
 * datagrams travel through a {@link DatagramPath}, which delivers to this socket as its
 * {@link DatagramSink}; how a path is opened, and what a datagram means, is the subclass's.
 */
export abstract class DatagramBase<P extends DatagramPath = DatagramPath> extends SocketBase implements DatagramSink, SendQueueOwner {
  readonly type = 'udp' as const;
  protected abstract override readonly flag: LogFlag;
  protected readonly receiver: DatagramReceiver;
  /** Sends from `send()`/`sendTo()` to `socketSendResult`. */
  protected readonly sends: SendQueue;
  /** What the datagrams travel through (null: none yet, or released). */
  protected path: P | null = null;
  protected sent = 0;
  protected received = 0;
  /** Datagrams dropped because they did not come from the connected (or locked) peer. */
  private strangers = 0;
  private readonly shutdownTimeoutMs: number;
  private closeTimer: Deadline | null = null;

  constructor(user: USocket, options: SocketOptions) {
    super(user, options);
    const limit = checkCount('datagramQueueLength', options.datagramQueueLength, DEFAULT_DATAGRAM_QUEUE, 1);
    this.shutdownTimeoutMs = checkTimeout('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS);
    this.sends = new SendQueue(this);
    this.receiver = new DatagramReceiver(
      limit,
      (result, fromEvent) => this.emitRecvFrom(result, fromEvent),
      (buffer, fromEvent) => this.emit((user) => user.socketRecvCanceled?.(this, buffer), fromEvent),
      (m) => this.trace(m),
    );
  }

  get bytesSent(): number {
    return this.sent;
  }
  get bytesReceived(): number {
    return this.received;
  }
  get connectionCount(): number {
    return 0;
  }
  /** Datagrams dropped because they arrived while the queue was full. */
  get droppedDatagrams(): number {
    return this.receiver.dropped;
  }
  /** Datagrams dropped because they did not come from the connected (DTLS: locked) peer; as `stats().strangerDatagrams`. */
  get strangerDatagrams(): number {
    return this.strangers;
  }

  protected override strangerCount(): number {
    return this.strangers;
  }

  /**
   * Whether a datagram from `address`:`port` comes from the peer. Both sides come from the OS in
   * the same form, so the plain comparison decides; only when it fails are an IPv4 address and
   * its IPv4-mapped IPv6 form (`::ffff:192.0.2.1`), and the case of hex digits, taken as equal.
   */
  protected isFromPeer(address: string, port: number): boolean {
    const peer = this.addresses.remote; // the connected (DTLS: locked) peer
    if (peer === null || peer.port !== port) return false;
    return peer.address === address || canonical(peer.address) === canonical(address);
  }

  /** Counts a datagram dropped as not from the peer; logs the 1st, 2nd, 4th, 8th… */
  protected noteStranger(address: string, port: number): void {
    const n = ++this.strangers;
    if ((n & (n - 1)) === 0) this.trace(`ignored a datagram from ${address}:${port} (not the peer); ${n} so far`);
  }

  /** One datagram per recv (cut to `len`); the mode is set by bind/connect/sendTo (DTLS: from the start). */
  recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void {
    this.throwIfTakenOver('recv');
    const n = checkBuffer('recv', buffer, len);
    this.throwIfRecvUndelivered();
    if (this.ended) return this.recvAfterEnd(buffer);
    if (this.view.shutdownAsked) return;
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'recv() on a UDP socket before bind(), connect() or sendTo()');
    this.receiver.request(buffer, n);
    this.afterRecvRequest();
  }

  /** Hook for DTLS: after a recv was registered or served. */
  protected afterRecvRequest(): void {}

  // Datagram sockets (UDP and DTLS) have no connections to listen for or accept.
  listen(): void {
    this.throwIfTakenOver('listen');
    throw new SocketStateError(SocketErrorCode.NotSupported, 'listen() on a UDP or DTLS socket: datagrams have no connections to accept');
  }

  accept(_remoteUser?: USocket | SocketUser | null): void {
    this.throwIfTakenOver('accept');
    throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() on a UDP or DTLS socket: there is no socketListenResult for datagrams');
  }

  protected queuedSendBytes(): number {
    return this.sends.queuedBytes;
  }

  protected readAheadBytes(): number {
    return this.receiver.queuedBytes;
  }

  recvCancel(): void {
    this.throwIfTakenOver('recvCancel');
    if (this.ignoresCalls) return;
    this.cancelPendingRecv();
  }

  protected cancelPendingRecv(): void {
    const buffer = this.receiver.cancel();
    if (buffer) this.emit((user) => user.socketRecvCanceled?.(this, buffer));
  }

  // ---- sending (SendQueueOwner) ---------------------------------------------------------

  /** Hands one send of {@link DatagramBase.sends} to the path (or the session). */
  abstract transmit(data: Buffer): void;

  /** The oldest send in flight finished: count it, post `socketSendResult` (see {@link SendQueueOwner}). */
  abstract sendFinished(data: Buffer, err: Error | null): void;

  // ---- receiving (DatagramSink) ------------------------------------------------------------

  abstract datagramArrived(data: Buffer, address: string, port: number): void;
  abstract pathError(err: NodeJS.ErrnoException): void;

  // ---- closing -------------------------------------------------------------------------------

  /**
   * NORMAL once every send was handed to the OS ({@link DatagramBase.finishClose}), or after
   * `shutdownTimeoutMs` (0: no limit) if that takes longer.
   */
  protected closeWhenFlushed(): void {
    if (this.ended) return;
    if (!this.sends.isEmpty) this.closeTimer ??= armTimeout(this.shutdownTimeoutMs, this.closeTimedOut);
    this.sends.whenDrained(this.flushed);
  }

  private readonly flushed = (): void => {
    this.closeTimer = disarmTimeout(this.closeTimer);
    if (!this.ended) this.finishClose();
  };

  private readonly closeTimedOut = (): void => {
    this.closeTimer = null;
    this.trace(`shutdown: ${this.sends.inFlightCount} datagrams not handed to the OS within ${this.shutdownTimeoutMs} ms; closing anyway`);
    this.reportShutdown(ShutdownReason.Normal);
  };

  /** Everything was sent after `shutdown()`: the end (DTLS sends its close_notify first). */
  protected finishClose(): void {
    this.reportShutdown(ShutdownReason.Normal);
  }

  /** The end was posted: held sends are dropped, the queue cleared, the path released. */
  protected override onEnded(): void {
    this.closeTimer = disarmTimeout(this.closeTimer);
    this.receiver.clear();
    this.sends.discard();
    const path = this.path;
    this.path = null;
    path?.close();
  }

  /** Posts a completed datagram recv (the receiver calls it). */
  private emitRecvFrom(result: DatagramResult, fromEvent: boolean): void {
    if (this.ended) return;
    this.view.recvPosted();
    if (fromEvent) this.iomux.dispatcher.postFromEvent(this.deliverRecvFrom, this, result);
    else this.iomux.dispatcher.post(this.deliverRecvFrom, this, result);
  }

  private deliverRecvFrom(r: DatagramResult): void {
    this.view.recvDelivered();
    if (this.state === 'takenOver') return;
    // The callback the user implements (core/recv-route.ts): a user with only socketRecvResult gets the datagram there.
    if ((this.recvCallbacks & RECV_FROM) !== 0) this.user.socketRecvFromResult?.(this, r.buffer, r.len, r.address, r.port);
    else if ((this.recvCallbacks & RECV_PLAIN) !== 0) this.user.socketRecvResult?.(this, r.buffer, r.len);
    else {
      this.warnUnhandledRecv(r.len, true);
      this.user.socketRecvFromResult?.(this, r.buffer, r.len, r.address, r.port); // USocket's no-op, as before
    }
  }
}

/** An IP address for comparison: lower case, an IPv4-mapped IPv6 address as its IPv4 form. */
function canonical(address: string): string {
  const a = address.toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
