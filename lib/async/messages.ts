/**
 * Message connections: `toMessages(conn)` wraps a connection in a message socket
 * (`createMessageSocket`) and gives it promises. One `receiveNext()` is out at a time, only
 * while a `receive()` waits; a message that arrives for an aborted `receive()` waits (one
 * message at most) for the next one.
 */
import { PeerCertificate, ShutdownReason, SocketStats } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { createMessageSocket, IMessageSocket, MessageErrorCode, MessageSocketOptions, UMessageSocket } from '../messages';
import type { AbortOptions, Connection, MessageConnection } from './api';
import { AsyncSocket } from './connection';
import { AbortError, checkSignal, cleanEnd, SocketClosedError, toBytes, waiter, Waiter } from './errors';
import { Fifo } from '../util/fifo';

/**
 * Carries whole messages over `conn` (TCP, TLS, local, UDP or DTLS), framed as
 * `createMessageSocket` frames them (`options.framing`: a u32 length prefix by default; one
 * datagram per message over UDP and DTLS). `conn` is spent from here on (its `closed` resolves
 * when the message connection's does); it must have no read or write pending.
 *
 * @throws SocketStateError if `conn` has a read or write pending, or was already upgraded or wrapped;
 *   what `createMessageSocket` throws for bad options.
 */
export function toMessages(conn: Connection, options: MessageSocketOptions = {}): MessageConnection {
  if (!(conn instanceof AsyncSocket)) throw new TypeError('toMessages: expected a Connection made by connect(), listen() or startTls()');
  const mc = new AsyncMessageConnection();
  const socket = conn.takeOver('toMessages', mc);
  mc.ms = createMessageSocket(socket, mc.user, options);
  return mc;
}

/** The message socket's user. */
class MessageBridge extends UMessageSocket {
  constructor(private readonly owner: AsyncMessageConnection) {
    super();
  }
  override messageReceived(_s: IMessageSocket, message: Uint8Array): void {
    this.owner.received(message);
  }
  override messageSendResult(): void {
    this.owner.sendResult();
  }
  override messageSocketShutdown(_s: IMessageSocket, reason: ShutdownReason): void {
    this.owner.ended(reason);
  }
}

/** The implementation of {@link MessageConnection}. */
class AsyncMessageConnection implements MessageConnection {
  ms!: IMessageSocket;
  readonly closed: Promise<ShutdownReason>;
  private resolveClosed!: (reason: ShutdownReason) => void;
  readonly user: UMessageSocket;
  private readonly sends = new Fifo<Waiter<void>>();
  private pending: Waiter<Buffer | null> | null = null;
  /** A `receiveNext()` is out. */
  private asked = false;
  /** A message that arrived for an aborted receive(). */
  private stash: Buffer | null = null;
  private endReason: ShutdownReason | null = null;
  private endCalled = false;

  constructor() {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.user = new MessageBridge(this);
  }

  received(message: Uint8Array): void {
    this.asked = false;
    const data = Buffer.from(message.buffer, message.byteOffset, message.byteLength);
    const w = this.pending;
    this.pending = null;
    if (w && !w.settled) w.resolve(data);
    else this.stash = data;
  }

  sendResult(): void {
    this.sends.shift()?.resolve();
  }

  get socket() {
    return this.ms.socket;
  }
  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }
  get localPort(): number | undefined {
    return this.socket.localPort;
  }
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }
  get alpnProtocol(): string | null {
    return this.socket.alpnProtocol;
  }
  get peerCertificate(): PeerCertificate | null {
    return this.socket.getPeerCertificate();
  }
  get framingError(): MessageErrorCode | null {
    return this.ms.framingError;
  }
  stats(): SocketStats {
    return this.socket.stats();
  }

  private closedError(what: string): SocketClosedError {
    const code = this.socket.stats().lastErrorCode ?? this.ms.framingError;
    return new SocketClosedError(this.endReason ?? ShutdownReason.Normal, code, what);
  }

  receive(options: AbortOptions = {}): Promise<Buffer | null> {
    try {
      const signal = checkSignal('receive', options.signal);
      if (this.pending) throw new SocketStateError(SocketErrorCode.RecvPending, 'receive: one receive at a time');
      if (signal?.aborted) throw new AbortError('receive', signal.reason);
      if (this.stash) {
        const m = this.stash;
        this.stash = null;
        return Promise.resolve(m);
      }
      if (this.endReason !== null) return this.endReason && cleanEnd(this.endReason) ? Promise.resolve(null) : Promise.reject(this.closedError('receive'));
      // The abort leaves the receiveNext() out: its message goes to the stash.
      const { w, promise } = waiter<Buffer | null>('receive', signal, () => (this.pending = null));
      this.pending = w;
      if (!this.asked && !this.endCalled) {
        this.asked = true;
        this.ms.receiveNext();
      }
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  send(message: Uint8Array | string, options: AbortOptions = {}): Promise<void> {
    try {
      const signal = checkSignal('send', options.signal);
      const bytes = toBytes('send', message);
      if (this.endReason !== null || this.endCalled) return Promise.reject(this.closedError('send'));
      if (signal?.aborted) throw new AbortError('send', signal.reason);
      this.ms.sendMessage(bytes);
      const { w, promise } = waiter<void>('send', signal, () => undefined);
      this.sends.push(w);
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  end(): void {
    if (this.endCalled) return;
    this.endCalled = true;
    this.ms.shutdown();
  }

  ended(reason: ShutdownReason): void {
    this.endReason = reason;
    for (const s of this.sends.drain()) s.reject(this.closedError('send'));
    const w = this.pending;
    this.pending = null;
    if (w) {
      if (cleanEnd(reason)) w.resolve(null);
      else w.reject(this.closedError('receive'));
    }
    this.resolveClosed(reason);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const m = await this.receive();
      if (m === null) return;
      yield m;
    }
  }
}
