import { ISocket } from '../api';
import { claimSocket, getDefaultIoMux, getDefaultLog, IoMux } from '../public-api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { IMessageSocket, MessageFraming, MessageSocketOptions, UMessageSocket } from './api';
import { DelimiterFraming, Framing, MAX_MESSAGE_SIZE_LIMIT, U32Framing, VarintFraming } from './framing';
import { checkMessageUser, MessageSocket, MessageSocketSettings } from './message-socket';
import { READ_CHUNK } from './stream-reader';

/** The default `maxMessageSize`: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;

/** The default `maxMessageSize` over rudp: the rudp socket's own default (docs/rudp.md). */
const RUDP_DEFAULT_MAX_MESSAGE_SIZE = 512 * 1024;

/** The default `unreadWarningMs`: 10 s. */
export const DEFAULT_UNREAD_WARNING_MS = 10_000;

/** Who owns a wrapped socket, as its methods' `ERR_SOCKET_OWNED` errors say. */
const OWNER = 'a message socket (createMessageSocket)';

const SOCKET_METHODS = ['send', 'recv', 'shutdown', 'setUser'] as const;

/**
 * Wraps a connected socket (TCP, TLS, local, STARTTLS-upgraded, UDP or DTLS) in a message
 * socket whose callbacks go to `user`. The message socket becomes the socket's user: from
 * here on, call the message socket, not the socket. Wrap it once it is connected: in
 * `socketConnectComplete`, `socketAcceptComplete` or `socketUpgradeToTlsComplete`, or later,
 * with no `recv` of your own pending. Nothing is read until the first `receiveNext()`.
 *
 * @throws TypeError for a non-socket, a user without `messageSocketShutdown`, a bad framing or `iomux`;
 * RangeError for a bad `maxMessageSize` or an empty delimiter; SocketStateError if the socket is
 * not connected (`ERR_SOCKET_NOT_CONNECTED`), is a listener or bound UDP socket
 * (`ERR_SOCKET_WRONG_MODE`), was taken over by `upgradeToTls` (`ERR_SOCKET_TAKEN_OVER`), or is
 * wrapped already (`ERR_SOCKET_OWNED`). Once wrapped, the socket's own `send`, `sendTo`, `recv`,
 * `recvCancel` and `setUser` throw `ERR_SOCKET_OWNED` (its `shutdown()` and facts stay usable).
 */
export function createMessageSocket(socket: ISocket, user: UMessageSocket, options: MessageSocketOptions = {}): IMessageSocket {
  if (typeof socket !== 'object' || socket === null || SOCKET_METHODS.some((m) => typeof socket[m] !== 'function')) {
    throw new TypeError('createMessageSocket: expected an ISocket');
  }
  checkMessageUser('createMessageSocket', user);
  if (typeof options !== 'object' || options === null) throw new TypeError('createMessageSocket: options must be an object');
  const settings = settingsFor(socket, options);
  if (socket.mode === 'none') {
    throw new SocketStateError(SocketErrorCode.NotConnected, 'createMessageSocket: the socket is not connected; wrap it once connect() or accept() completed');
  }
  if (socket.mode === 'server') {
    throw new SocketStateError(
      SocketErrorCode.WrongMode,
      'createMessageSocket: a listening or bound socket carries no messages; wrap a connected or accepted socket',
    );
  }
  // Last, once everything was checked: a create that throws leaves the socket as it was.
  const io = claimSocket(socket, OWNER);
  return new MessageSocket(socket, io, user, settings);
}

function settingsFor(socket: ISocket, options: MessageSocketOptions): MessageSocketSettings {
  const max = options.maxMessageSize ?? (socket.type === 'rudp' ? RUDP_DEFAULT_MAX_MESSAGE_SIZE : DEFAULT_MAX_MESSAGE_SIZE);
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
    throw new RangeError(`maxMessageSize: expected a whole number >= 1, got ${max === null ? 'null' : `${typeof max} ${String(max)}`}`);
  }
  if (max > MAX_MESSAGE_SIZE_LIMIT) throw new RangeError(`maxMessageSize: at most ${MAX_MESSAGE_SIZE_LIMIT}, got ${max}`);
  const log = options.log ?? getDefaultLog();
  if (options.iomux !== undefined && !(options.iomux instanceof IoMux)) throw new TypeError('createMessageSocket: options.iomux must be an IoMux');
  // The wrapped socket's own IoMux by default, so that on a manual IoMux every message callback runs inside poll().
  const iomux = options.iomux ?? ioMuxOf(socket) ?? getDefaultIoMux();
  const autoReceive = options.autoReceive ?? false;
  if (typeof autoReceive !== 'boolean') throw new TypeError(`autoReceive: expected a boolean, got ${typeof autoReceive}`);
  const unreadWarningMs = options.unreadWarningMs ?? DEFAULT_UNREAD_WARNING_MS;
  if (typeof unreadWarningMs !== 'number' || !Number.isInteger(unreadWarningMs) || unreadWarningMs < 0) {
    throw new RangeError(
      `unreadWarningMs: expected a whole number >= 0, got ${unreadWarningMs === null ? 'null' : `${typeof unreadWarningMs} ${String(unreadWarningMs)}`}`,
    );
  }
  const common = { maxMessageSize: max, log, iomux, autoReceive, unreadWarningMs, lanes: 0 };
  const framing = options.framing ?? 'u32';
  // Checked for datagram sockets too, which ignore it: a bad option is a mistake anywhere.
  const delimiter = checkFraming(framing);
  if (socket.type === 'udp') return { kind: 'datagram', framing: null, growLimit: 0, ...common };
  // rudp carries whole messages itself (0 bytes too); its lanes bound the `lane` option.
  if (socket.type === 'rudp') return { kind: 'datagram', framing: null, growLimit: 0, ...common, lanes: laneCount(socket) };
  let made: Framing;
  if (delimiter) made = new DelimiterFraming(delimiter, max);
  else made = framing === 'varint' ? new VarintFraming(max) : new U32Framing(max);
  const growLimit = Math.max(READ_CHUNK, max + (delimiter?.byteLength ?? 0));
  return { kind: delimiter ? 'delimiter' : (framing as 'u32' | 'varint'), framing: made, growLimit, ...common };
}

/** The lanes of a rudp socket (its `lanes` option), as its stats tell. */
function laneCount(socket: ISocket): number {
  return socket.stats().lanes?.length ?? 1;
}

/** Checks the framing option; returns the delimiter's bytes for a delimited framing. */
function checkFraming(framing: MessageFraming): Uint8Array | null {
  if (framing === 'u32' || framing === 'varint') return null;
  const delimiter = typeof framing === 'object' && framing !== null ? (framing as { delimiter?: unknown }).delimiter : undefined;
  let bytes: Uint8Array;
  if (typeof delimiter === 'string') bytes = Buffer.from(delimiter, 'utf8');
  else if (delimiter instanceof Uint8Array)
    bytes = Uint8Array.from(delimiter); // ours: the caller may change theirs
  else throw new TypeError(`framing: expected 'u32', 'varint' or { delimiter: Uint8Array | string }, got ${JSON.stringify(framing) ?? String(framing)}`);
  if (bytes.byteLength === 0) throw new RangeError('framing: the delimiter is empty');
  return bytes;
}

/** The IoMux of a socket made by this package (its callbacks' queue); undefined for a foreign ISocket. */
function ioMuxOf(socket: ISocket): IoMux | undefined {
  const owned = (socket as { readonly socketIoMux?: unknown }).socketIoMux;
  return owned instanceof IoMux ? owned : undefined;
}
