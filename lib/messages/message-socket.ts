import { IInstanceLog, ISocket, LogFlag, ShutdownReason, USocket } from '../api';
import type { IoMux, OwnedSocket, SendOptions } from '../public-api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { IMessageSocket, MessageErrorCode, MessageFramingKind, UMessageSocket } from './api';
import { CallbackQueue } from './callback-queue';
import { Framing } from './framing';
import { Fifo } from '../util/fifo';
import { SendQueue } from './send-queue';
import { StreamReader } from './stream-reader';
import { UnreadWatch, watchUnread } from './unread-watch';

/** What `createMessageSocket` checked and settled. */
export interface MessageSocketSettings {
  readonly kind: MessageFramingKind;
  /** Stream sockets only. */
  readonly framing: Framing | null;
  /** Stream sockets only: how far the receive buffer may grow. */
  readonly growLimit: number;
  readonly maxMessageSize: number;
  readonly log: IInstanceLog;
  /** Where the callbacks the message socket schedules itself are posted: the wrapped socket's IoMux. */
  readonly iomux: IoMux;
  /** Ask for each message after the handler of the one before returned (`autoReceive`). */
  readonly autoReceive: boolean;
  /** Warn when data waits and no `receiveNext()` was pending for this long; 0: never. */
  readonly unreadWarningMs: number;
  /** rudp: the socket's lane count (it carries whole messages, empty ones too); 0 on other sockets. */
  readonly lanes: number;
}

/**
 * Sends handed to the socket and not yet reported, beyond which frames wait in the message
 * socket's own queue as bytes: a few sends keep the socket busy; each costs it objects.
 */
export const MAX_SENDS_IN_FLIGHT = 8;

/** The largest UDP payload is 65 535 bytes: a datagram buffer one byte larger tells "too large". */
const DATAGRAM_BUFFER_LIMIT = 65_536;

const FLAGS: Record<ISocket['type'], LogFlag> = { tcp: LogFlag.Tcp, tls: LogFlag.Tls, udp: LogFlag.Udp, local: LogFlag.Local, rudp: LogFlag.Rudp };

/** The message user's check, as `checkUser` is the socket user's. */
export function checkMessageUser(what: string, user: unknown): void {
  if (typeof (user as { messageSocketShutdown?: unknown } | null)?.messageSocketShutdown !== 'function') {
    throw new TypeError(`${what}: the user must be an object with a messageSocketShutdown method`);
  }
}

/**
 * A message socket over one connected socket, built on the public `ISocket` API (plus the
 * IoMux's queue, for the few callbacks it schedules itself): it becomes the socket's user and
 * turns sends, partial recvs and the socket's end into messages. One `receiveNext()` at a time is the flow control: nothing is read from the
 * socket while the app has not asked for a message.
 */
export class MessageSocket implements IMessageSocket {
  readonly framing: MessageFramingKind;
  readonly maxMessageSize: number;
  private user: UMessageSocket;
  private readonly calls: CallbackQueue;
  /** Stream sockets: the framing and the received bytes; null on datagram sockets. */
  private readonly framer: Framing | null;
  private readonly reader: StreamReader | null;
  /** Datagram sockets: the reused buffer one datagram is received into. */
  private readonly datagramBuffer: Uint8Array | null;
  /** rudp: its lane count; 0 on other sockets. */
  private readonly lanes: number;
  private readonly log: IInstanceLog;
  private readonly flag: LogFlag;
  /** Per send handed to the socket and not yet reported: how many messages it completes. */
  private readonly inFlight = new Fifo<number>();
  /** Stream sockets: frames waiting while {@link MAX_SENDS_IN_FLIGHT} sends are in flight. */
  private readonly queue = new SendQueue();
  /** `autoReceive`: the message socket asks for each message itself. */
  private readonly autoReceive: boolean;
  /** Watches for data left unread (unread-watch.ts); null with `autoReceive` or `unreadWarningMs: 0`. */
  private readonly unread: UnreadWatch | null;

  /** A `receiveNext()` waits for its message. */
  private wanted = false;
  /** Our `recv` on the socket is pending. */
  private recvPending = false;
  /** The app called `shutdown()`. */
  private shutdownCalled = false;
  /** The socket reported its end (a BY_PEER may wait here until the buffered messages were asked for). */
  private socketEnd: ShutdownReason | null = null;
  /** `messageSocketShutdown` was posted: nothing more. */
  private ended = false;
  private sentCount = 0;
  private receivedCount = 0;
  private errorCode: MessageErrorCode | null = null;

  /**
   * @param socket the wrapped socket, for its facts
   * @param io the calls on it: the claim `createMessageSocket` made (`claimSocket`), which makes the socket's own `send`/`recv`/`setUser` throw
   */
  constructor(
    readonly socket: ISocket,
    private readonly io: OwnedSocket,
    user: UMessageSocket,
    settings: MessageSocketSettings,
  ) {
    this.user = user;
    this.calls = new CallbackQueue(settings.iomux);
    this.framing = settings.kind;
    this.maxMessageSize = settings.maxMessageSize;
    this.log = settings.log;
    this.flag = FLAGS[socket.type];
    this.framer = settings.framing;
    this.reader = settings.framing ? new StreamReader(settings.framing, settings.growLimit) : null;
    this.lanes = settings.lanes;
    // One byte more than the limit tells "too large" (rudp delivers the rest of a longer message with the next recv).
    const limit = this.lanes > 0 ? Infinity : DATAGRAM_BUFFER_LIMIT;
    this.datagramBuffer = settings.framing ? null : new Uint8Array(Math.min(settings.maxMessageSize + 1, limit));
    this.autoReceive = settings.autoReceive;
    io.setUser(new SocketSide(this));
    this.unread = this.autoReceive || settings.unreadWarningMs === 0 ? null : watchUnread(this, settings.unreadWarningMs);
    if (this.autoReceive) {
      this.wanted = true;
      this.pump(false);
    }
  }

  get messagesSent(): number {
    return this.sentCount;
  }
  get messagesReceived(): number {
    return this.receivedCount;
  }
  get framingError(): MessageErrorCode | null {
    return this.errorCode;
  }

  // ---- the app's calls ------------------------------------------------------------------

  sendMessage(message: Uint8Array, options?: SendOptions): void {
    if (!(message instanceof Uint8Array)) throw new TypeError(`sendMessage: expected a Uint8Array, got ${message === null ? 'null' : typeof message}`);
    const n = message.byteLength;
    if (n > this.maxMessageSize) throw new RangeError(`sendMessage: a message of ${n} bytes is larger than maxMessageSize ${this.maxMessageSize}`);
    if (!this.framer && n === 0 && this.lanes === 0) throw new RangeError('sendMessage: an empty message cannot be sent as a datagram');
    if (options !== undefined) this.checkOptions(options);
    // Framed before the state check: a message the framing refuses throws in every state.
    const frame = this.framer ? this.framer.frame(message) : message;
    if (this.stopped || this.socketEnd !== null) return;
    if (!this.framer || (this.queue.isEmpty && this.inFlight.length < MAX_SENDS_IN_FLIGHT)) {
      // rudp takes the options (elsewhere they mean nothing more): every message is one send there.
      if (this.lanes > 0) this.io.send(frame, undefined, options);
      else this.io.send(frame);
      this.sentCount++;
      this.inFlight.push(1);
      return;
    }
    // Memory for it may be refused (RangeError, as for any allocation in the caller's call):
    // then nothing was queued and nothing counted.
    this.queue.push(frame);
    this.sentCount++;
  }

  /** Send options are checked on every transport, so that code written for rudp fails the same way elsewhere. */
  private checkOptions(options: SendOptions): void {
    if (typeof options !== 'object' || options === null) throw new TypeError('sendMessage: options must be an object');
    const { reliable, lane = 0 } = options;
    if (reliable !== undefined && typeof reliable !== 'boolean') throw new TypeError('sendMessage: options.reliable must be a boolean');
    if (typeof lane !== 'number') throw new TypeError('sendMessage: options.lane must be a number');
    if (!Number.isInteger(lane) || lane < 0 || (this.lanes > 0 && lane >= this.lanes)) {
      throw new RangeError(`sendMessage: lane ${lane} is not ${this.lanes > 0 ? `one of this socket's lanes (0..${this.lanes - 1})` : 'a whole number >= 0'}`);
    }
  }

  /** Hands queued pieces to the socket while sends are free, or all of them (`all`: before closing). */
  private flushQueue(all: boolean): void {
    while (all || this.inFlight.length < MAX_SENDS_IN_FLIGHT) {
      const piece = this.queue.take();
      if (piece === null) return;
      this.inFlight.push(this.queue.takenEnds);
      this.io.send(piece);
      this.queue.recycle(piece); // send() copied it
    }
  }

  receiveNext(): void {
    // After a framing error too: the connection is closing and no message will come.
    // With autoReceive the message socket asks for each message itself.
    if (this.stopped || this.autoReceive) return;
    if (this.wanted) throw new SocketStateError(SocketErrorCode.RecvPending, 'receiveNext() while an earlier receiveNext() is still pending');
    this.wanted = true;
    this.pump(false);
  }

  shutdown(): void {
    // After a framing error too: the socket is already closing, and the end stays SOCKET_LOST.
    if (this.stopped) return;
    this.shutdownCalled = true;
    this.wanted = false;
    // The socket ended already (a BY_PEER held back for buffered messages): end here.
    if (this.socketEnd !== null) this.finish(ShutdownReason.Normal, false);
    else {
      // The socket sends what it was given before it closes: give it all.
      this.flushQueue(true);
      this.io.shutdown();
    }
  }

  setUser(user: UMessageSocket): void {
    checkMessageUser('setUser', user);
    this.user = user;
  }

  // ---- the socket's callbacks (from SocketSide) ----------------------------------------------

  onSendResult(): void {
    const done = this.inFlight.shift() ?? 0;
    if (this.ended) return;
    this.flushQueue(false);
    if (this.inFlight.length === 0) this.queue.trim();
    this.reportSent(done, true);
  }

  /** `n` messageSendResults, in order; after one that throws, the rest are posted behind it. */
  private reportSent(n: number, now: boolean): void {
    for (let left = n; left > 0; left--) {
      if (this.ended) return;
      try {
        this.calls.run(this.sendResult, now);
      } catch (e) {
        if (left > 1) this.calls.run(() => this.reportSent(left - 1, true), false);
        throw e;
      }
    }
  }

  private readonly sendResult = (): void => this.user.messageSendResult?.(this);

  onRecvResult(buffer: Uint8Array, n: number): void {
    if (!this.recvPending || !this.reader) return;
    this.recvPending = false;
    this.reader.wrote(n);
    this.pump(true);
  }

  onRecvFromResult(n: number): void {
    if (!this.recvPending || !this.datagramBuffer) return;
    this.recvPending = false;
    if (!this.wanted || this.stopped) return;
    if (n > this.maxMessageSize) {
      this.fail(MessageErrorCode.TooLarge, `an incoming datagram of more than ${this.maxMessageSize} bytes (maxMessageSize)`);
      return;
    }
    this.deliver(this.datagramBuffer.slice(0, n), true);
  }

  onRecvCanceled(): void {
    // Only the socket's end cancels our recv: its socketShutdown follows.
    this.recvPending = false;
  }

  onShutdown(reason: ShutdownReason): void {
    this.socketEnd = reason;
    // What was still waiting will not be sent: no results for it (the socket ended first).
    this.queue.clear();
    this.inFlight.clear();
    if (this.shutdownCalled) this.finish(ShutdownReason.Normal, true);
    else if (this.errorCode !== null) this.finish(ShutdownReason.Lost, true);
    // A clean close: the messages that arrived before it are still delivered, as they are asked for.
    else if (reason === ShutdownReason.ByPeer && this.reader?.hasPartial) this.pump(true);
    else this.finish(reason, true);
  }

  // ---- receiving -------------------------------------------------------------------------

  /** After the app's shutdown() or a framing error: no more messages. */
  private get stopped(): boolean {
    return this.shutdownCalled || this.errorCode !== null || this.ended;
  }

  /** Delivers the next message if the app asked for one and one is there; else reads more. */
  private pump(now: boolean): void {
    if (!this.wanted || this.recvPending || this.stopped) return;
    if (!this.reader) return this.recvDatagram();
    const next = this.reader.next();
    if (next && 'message' in next) return this.deliver(next.message, now);
    if (next) return this.fail(next.error.code, next.error.detail);
    if (this.socketEnd !== null) return this.endOfStream(now);
    this.recvPending = true;
    const space = this.reader.space();
    this.io.recv(space, space.byteLength, true);
  }

  private recvDatagram(): void {
    this.recvPending = true;
    this.io.recv(this.datagramBuffer!);
  }

  private deliver(message: Uint8Array, now: boolean): void {
    this.wanted = false;
    this.receivedCount++;
    this.unread?.idle();
    if (this.autoReceive) this.calls.run(() => this.receivedThenNext(message), now);
    else this.calls.run(() => this.user.messageReceived?.(this, message), now);
  }

  /**
   * `autoReceive`: the next message is asked for once the handler returned (or threw), as a
   * `receiveNext()` from it would: one already buffered is posted (other sockets get their turn
   * between two messages), else the socket's `recv` is made. A handler that is slower than the
   * peer therefore reads nothing more meanwhile: the read-ahead bound holds.
   */
  private receivedThenNext(message: Uint8Array): void {
    try {
      this.user.messageReceived?.(this, message);
    } finally {
      if (!this.stopped && !this.wanted) {
        this.wanted = true;
        this.pump(false);
      }
    }
  }

  /**
   * For the unread watch: whether data waits for the app while no `receiveNext()` is pending
   * (bytes in the message socket's buffer, or in the socket's read-ahead).
   */
  get unreadWaiting(): boolean {
    if (this.wanted || this.stopped || this.socketEnd !== null) return false;
    if (this.reader?.hasPartial) return true;
    const stats = (this.socket as Partial<Pick<ISocket, 'stats'>>).stats;
    try {
      return typeof stats === 'function' && stats.call(this.socket).readAheadBytes > 0;
    } catch {
      return false; // an ISocket of the app's own whose stats() throws: nothing known
    }
  }

  /** The unread watch found data waiting too long: one log line (this socket), one process warning (per process). */
  warnUnread(ms: number, processWarning: (text: string) => void): void {
    const text =
      `data has waited unread for more than ${ms} ms and no receiveNext() is pending: nothing is read until the app asks. ` +
      'Call ms.receiveNext() from messageReceived (or when ready for the next message), or create the message socket with { autoReceive: true }';
    this.trace(text);
    processWarning(`socket-provider: message socket (${this.framing}): ${text}`);
  }

  /** The peer closed and no whole message is left: BY_PEER, or LOST if it stopped inside one. */
  private endOfStream(now: boolean): void {
    if (this.reader?.hasPartial) {
      this.errorCode = MessageErrorCode.Truncated;
      this.trace(`the peer closed in the middle of a message (${MessageErrorCode.Truncated})`);
      this.finish(ShutdownReason.Lost, now);
    } else {
      this.finish(ShutdownReason.ByPeer, now);
    }
  }

  /** The peer broke the framing: log it, close the socket; the user sees SOCKET_LOST. */
  private fail(code: MessageErrorCode, detail: string): void {
    this.errorCode = code;
    this.wanted = false;
    this.trace(`${detail} (${code}); closing the connection`);
    // Messages the app sent before this still go out first, as they would have without the queue.
    this.flushQueue(true);
    this.io.shutdown();
  }

  private finish(reason: ShutdownReason, now: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.unread?.stop();
    this.wanted = false;
    this.calls.run(() => this.user.messageSocketShutdown(this, reason), now);
  }

  private trace(message: string): void {
    if (!this.log.isEnabled(this.flag)) return;
    const s = this.socket;
    const peer = s.remoteAddress ? ` with ${s.remoteAddress}${s.type === 'local' ? '' : `:${s.remotePort}`}` : '';
    this.log.log(this.flag, `message socket (${this.framing})${peer}: ${message}`);
  }
}

/** The message socket's user on the wrapped socket: every callback goes to the message socket. */
class SocketSide extends USocket {
  constructor(private readonly owner: MessageSocket) {
    super();
  }
  override socketSendResult(): void {
    this.owner.onSendResult();
  }
  override socketRecvResult(socket: ISocket, buffer: Uint8Array, n: number): void {
    this.owner.onRecvResult(buffer, n);
  }
  override socketRecvFromResult(socket: ISocket, buffer: Uint8Array, n: number): void {
    this.owner.onRecvFromResult(n);
  }
  override socketRecvCanceled(): void {
    this.owner.onRecvCanceled();
  }
  socketShutdown(socket: ISocket, reason: ShutdownReason): void {
    this.owner.onShutdown(reason);
  }
}
