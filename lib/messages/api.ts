/**
 * The public types of message sockets: a socket that carries whole messages instead of a
 * byte stream, made by `createMessageSocket()` over any connected socket.
 */
import type { IInstanceLog, ISocket, ShutdownReason } from '../api';
import type { SendOptions } from '../public-api';
import type { IoMux } from '../public-api';

/**
 * How a stream socket cuts its byte stream into messages (docs/messages.md has the wire
 * diagrams). Datagram sockets (UDP, DTLS) ignore it: there one datagram is one message; so does
 * rudp, where one rudp message is one message.
 *
 * - `'u32'` (the default): a 4-byte big-endian length, then that many bytes.
 * - `'varint'`: the length as an unsigned LEB128 varint (1–5 bytes), then that many bytes.
 * - `{ delimiter }`: the message, then the delimiter bytes (a string is taken as UTF-8). A
 *   message must not contain the delimiter; `sendMessage` throws `RangeError` if it does.
 */
export type MessageFraming =
  | 'u32'
  | 'varint'
  | {
      /** The bytes that end every message; a string is taken as UTF-8. */
      readonly delimiter: Uint8Array | string;
    };

/** Options for `createMessageSocket`. */
export interface MessageSocketOptions {
  /** Stream sockets: how messages are framed. Default `'u32'`. Ignored over UDP, DTLS and rudp. */
  framing?: MessageFraming;
  /**
   * The largest message in bytes, in either direction. Default 16 MiB (16 777 216), at most
   * 4 294 967 295; over rudp 512 KiB (rudp's own default `maxMessageSize`: the rudp socket's
   * option bounds what it carries too). A larger incoming message ends the connection
   * (`framingError` `ERR_MESSAGE_TOO_LARGE`); a larger outgoing one throws `RangeError`.
   */
  maxMessageSize?: number;
  /** Where framing errors are logged, under the socket's transport flag. Default: the package's log. */
  log?: IInstanceLog;
  /**
   * The IoMux the wrapped socket was made with, if not the default one. The callbacks the
   * message socket schedules itself (a message that was already buffered when `receiveNext()`
   * asked for it, the end after `shutdown()` of a socket that had ended) then run where that
   * IoMux runs callbacks: with `{ dispatch: 'manual' }`, inside `poll()`. Default: the
   * process-wide IoMux, which is also the sockets' default.
   */
  iomux?: IoMux;
  /**
   * Deliver each message as it arrives, without `receiveNext()`: the message socket asks for the
   * next message itself once `messageReceived` returned (or threw). A message already buffered is
   * posted, so other sockets get their turn between two; otherwise the socket's `recv` is made.
   * The read-ahead bound holds: while a handler runs nothing more is read, so a peer faster than
   * the app is held back by the socket's read-ahead and TCP flow control, as with `receiveNext()`.
   * (A handler that hands the message to asynchronous work returns at once: to hold the peer back
   * until that work is done, leave this off and call `receiveNext()` when ready.) With it on,
   * `receiveNext()` does nothing. Default false.
   */
  autoReceive?: boolean;
  /**
   * When data has waited for the app this long (in ms) with no `receiveNext()` pending, log a
   * warning on the socket's log (once per message socket) and emit a process warning (once per
   * process, code `SOCKET_PROVIDER_UNREAD_MESSAGE`) saying how to fix it. Default 10 000; 0
   * disables it. Not used with `autoReceive`.
   */
  unreadWarningMs?: number;
}

/**
 * Why a message socket refused what its peer sent, or could not hold it
 * (`IMessageSocket.framingError`). Each ends the connection; the message user then sees
 * `SOCKET_LOST`. A code never changes meaning.
 */
export const MessageErrorCode = {
  /** A message larger than `maxMessageSize`: by its length prefix, by the delimiter not found within the limit, or a datagram. */
  TooLarge: 'ERR_MESSAGE_TOO_LARGE',
  /** The peer closed its side in the middle of a message. */
  Truncated: 'ERR_MESSAGE_TRUNCATED',
  /** `'varint'` framing: a length prefix longer than 5 bytes. */
  BadLength: 'ERR_MESSAGE_BAD_LENGTH',
  /**
   * Memory for an incoming message could not be allocated (the process is out of memory or
   * address space). Only this connection ends; the peer's data was not at fault by itself.
   */
  NoMemory: 'ERR_MESSAGE_NO_MEMORY',
} as const;

export type MessageErrorCode = (typeof MessageErrorCode)[keyof typeof MessageErrorCode];

/** The framing a message socket uses; `'datagram'` over UDP, DTLS and rudp (one datagram, or one rudp message, per message). */
export type MessageFramingKind = 'u32' | 'varint' | 'delimiter' | 'datagram';

/**
 * A socket that sends and receives whole messages. It owns the socket it wraps: once wrapped,
 * that socket's `send`, `sendTo`, `recv`, `recvCancel` and `setUser` throw `SocketStateError`
 * `ERR_SOCKET_OWNED`, and so does a second `createMessageSocket` on it (its facts may be read
 * through `socket`; its `shutdown()` ends this message socket too).
 * No method calls the user back synchronously.
 */
export interface IMessageSocket {
  /** The wrapped socket, for its facts (addresses, peer certificate, byte counts). */
  readonly socket: ISocket;
  /** How messages are framed on the wire. */
  readonly framing: MessageFramingKind;
  /** The largest message accepted or sent, in bytes. */
  readonly maxMessageSize: number;
  /** Messages handed to `sendMessage` (and not ignored). */
  readonly messagesSent: number;
  /** Messages delivered to `messageReceived`. */
  readonly messagesReceived: number;
  /** Why the peer's data was refused, or null. Set before `messageSocketShutdown(SOCKET_LOST)`. */
  readonly framingError: MessageErrorCode | null;

  /**
   * Sends one message: one `send` of the framed bytes. The message is copied before this
   * returns, so the caller may reuse it. One `messageSendResult` follows, in call order.
   * Ignored after `shutdown()`, after a framing error, or once the socket ended.
   *
   * `options` (default reliable, lane 0): over rudp the message goes reliably or not, on that
   * lane of the socket's `lanes` option. Over TCP, TLS and local sockets every message is
   * reliable and in call order (lanes are not scheduled); over UDP and DTLS every message is one
   * datagram. There the options are checked and otherwise ignored.
   * @throws TypeError if `message` is not a Uint8Array, or for options of the wrong type;
   * RangeError if it is larger than `maxMessageSize`, contains the delimiter, or is empty on a
   * UDP or DTLS socket, or for a lane that is negative, not whole, or (rudp) not one of the socket's lanes.
   */
  sendMessage(message: Uint8Array, options?: SendOptions): void;
  /**
   * Asks for the next message: one `messageReceived` follows when it is complete (or the
   * socket ends first). Nothing is read from the socket while no `receiveNext` is pending.
   * Ignored after `shutdown()`, after a framing error, once the socket ended, and with the
   * `autoReceive` option (which asks for every message itself).
   * @throws SocketStateError (`ERR_SOCKET_RECV_PENDING`) if one is already pending.
   */
  receiveNext(): void;
  /**
   * Sends what is queued, closes the socket, then reports `messageSocketShutdown(SOCKET_SHUTDOWN_NORMAL)`.
   * Messages received but not yet asked for are dropped. Ignored when called again, after a
   * framing error (the end stays `SOCKET_LOST`), or once the socket ended.
   */
  shutdown(): void;
  /** Sends every later callback to `user`, from this moment. @throws TypeError for a user without `messageSocketShutdown`. */
  setUser(user: UMessageSocket): void;
}

/**
 * The application's side of a message socket. The rules of `USocket` hold: no callback runs
 * inside a call into the message socket; one `messageSendResult` per `sendMessage`, in order;
 * `messageSocketShutdown` exactly once, last.
 */
export abstract class UMessageSocket {
  /**
   * The message asked for by `receiveNext()`. `message` is the application's to keep and
   * change: its own memory, never a view into a buffer the socket reuses.
   */
  messageReceived(socket: IMessageSocket, message: Uint8Array): void {}
  /**
   * The framed bytes of one `sendMessage` were handed to the OS (rudp: a reliable message was
   * acknowledged by the peer, an unreliable one sent); one per `sendMessage`, in call order.
   */
  messageSendResult(socket: IMessageSocket): void {}
  /**
   * The message socket ended, for `reason` (the wrapped socket's reason; `SOCKET_LOST` when
   * the peer broke the framing, with `framingError` telling how). Exactly once; nothing follows.
   */
  abstract messageSocketShutdown(socket: IMessageSocket, reason: ShutdownReason): void;
}
