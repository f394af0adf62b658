import { ShutdownReason } from './api';

/**
 * Stable codes of {@link SocketStateError}. A code never changes meaning; the message may.
 * `docs/errors.md` lists when each is thrown.
 */
export const SocketErrorCode = {
  /** A call of the other mode: `connect` on a server, `bind`/`listen` on a client, `send`/`recv` on a listening stream socket. */
  WrongMode: 'ERR_SOCKET_WRONG_MODE',
  /** A second `connect()`. */
  AlreadyConnected: 'ERR_SOCKET_ALREADY_CONNECTED',
  /** A second `bind()`. */
  AlreadyBound: 'ERR_SOCKET_ALREADY_BOUND',
  /** `listen()` before `bind()`. */
  NotBound: 'ERR_SOCKET_NOT_BOUND',
  /** A second `listen()`. */
  AlreadyListening: 'ERR_SOCKET_ALREADY_LISTENING',
  /** `send`/`recv` on a socket that was never connected (or, for UDP, never bound or connected). */
  NotConnected: 'ERR_SOCKET_NOT_CONNECTED',
  /** `connect()`/`bind()` on a mode-less socket after `shutdown()`. */
  ShutDown: 'ERR_SOCKET_SHUT_DOWN',
  /** `accept()` outside `socketListenResult`. */
  AcceptOutsideListenResult: 'ERR_SOCKET_ACCEPT_OUTSIDE_LISTEN_RESULT',
  /** A second `accept()` for the same offered connection. */
  AlreadyAccepted: 'ERR_SOCKET_ALREADY_ACCEPTED',
  /** A second `recv()` while one is pending. */
  RecvPending: 'ERR_SOCKET_RECV_PENDING',
  /** The operation does not exist for this transport or provider (e.g. `listen()` on UDP, `upgradeToTls` on TCP). */
  NotSupported: 'ERR_SOCKET_NOT_SUPPORTED',
  /** The socket was taken over by `upgradeToTls`; use the new socket. */
  TakenOver: 'ERR_SOCKET_TAKEN_OVER',
  /** The IoMux was terminated; it makes no more sockets. */
  IoMuxTerminated: 'ERR_IOMUX_TERMINATED',
  /** `IoMux.poll()` on an IoMux made without `{ dispatch: 'manual' }`. */
  IoMuxNotManual: 'ERR_IOMUX_NOT_MANUAL',
  /** `IoMux.poll()` from inside a callback that `poll()` is running. */
  IoMuxPollReentered: 'ERR_IOMUX_POLL_REENTERED',
  /** A TLS server side (a TLS listener's `bind()`, or `upgradeToTls` with `serverSide`) whose context has no server certificate. */
  NoServerCertificate: 'ERR_TLS_NO_SERVER_CERTIFICATE',
  /** The provider's transport is not implemented yet in this version. */
  NotImplemented: 'ERR_PROVIDER_NOT_IMPLEMENTED',
} as const;

/** One of the {@link SocketErrorCode} strings: the type of {@link SocketStateError.code}. */
export type SocketErrorCode = (typeof SocketErrorCode)[keyof typeof SocketErrorCode];

/**
 * A programming error: a call the socket's mode or state does not allow. Thrown
 * synchronously by the call; network errors never throw (they end in `socketShutdown`).
 */
export class SocketStateError extends Error {
  /** A stable identifier from {@link SocketErrorCode}. */
  readonly code: SocketErrorCode;

  /**
   * Made by the library; apps catch it and test `code` (the message is for people and may change).
   * @param code what was wrong, from {@link SocketErrorCode}
   * @param message which call, and why it is not allowed now
   */
  constructor(code: SocketErrorCode, message: string) {
    super(message);
    this.name = 'SocketStateError';
    this.code = code;
  }
}

/** The phase a socket was in when an OS error hit it: the same errno means different things in each. */
export type ErrorPhase = 'connect' | 'handshake' | 'bind' | 'listen' | 'accept' | 'established';

const OPEN_FAILED = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EAFNOSUPPORT', 'EPROTONOSUPPORT']);
const CONNECT_REJECTED = new Set(['ECONNREFUSED']);
const BIND_IN_USE = new Set(['EADDRINUSE']);
const ADDRESS_INVALID = new Set(['ERR_INVALID_ADDRESS', 'ERR_INVALID_IP_ADDRESS', 'ENAMETOOLONG']);
/** The fatal `no_application_protocol` alert, seen from either side. */
const NO_ALPN = new Set(['ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', 'ERR_SSL_NO_APPLICATION_PROTOCOL']);

/** The OS (or Node) error code carried by `err`, or `'UNKNOWN'`. */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

/**
 * Maps an OS error to the reason reported for it, by the phase it hit (docs/errors.md has
 * the table). Anything unrecognised gets the phase's general reason.
 */
export function reasonForError(err: unknown, phase: ErrorPhase): ShutdownReason {
  const code = errorCode(err);
  if (OPEN_FAILED.has(code) && phase !== 'established') return ShutdownReason.OpenFailed;
  if (ADDRESS_INVALID.has(code) && (phase === 'connect' || phase === 'bind')) return ShutdownReason.AddressInvalid;
  switch (phase) {
    case 'handshake':
      return NO_ALPN.has(code) ? ShutdownReason.AlpnSelectionFailed : ShutdownReason.TlsHandshakeFailed;
    case 'connect':
      return CONNECT_REJECTED.has(code) ? ShutdownReason.ConnectRejected : ShutdownReason.ConnectFailed;
    case 'bind':
      return BIND_IN_USE.has(code) ? ShutdownReason.AddrInUse : ShutdownReason.BindFailed;
    case 'listen':
      return ShutdownReason.ListenFailed;
    case 'accept':
      return ShutdownReason.AcceptFailed;
    case 'established':
      return ShutdownReason.Lost;
  }
}
