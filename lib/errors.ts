/**
 * The public error codes, and the one error class the library throws for a programming error.
 * This file imports nothing: what maps an OS error to a `ShutdownReason` is the core's
 * (`core/os-errors.ts`).
 */

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
  /**
   * The socket is owned by a layer built on it (`createMessageSocket`, or any `claimSocket`):
   * a direct `send`/`sendTo`/`recv`/`recvCancel`/`setUser`, or a second claim (a second
   * `createMessageSocket` on it). Call the layer instead.
   */
  Owned: 'ERR_SOCKET_OWNED',
  /** The IoMux was terminated; it makes no more sockets. */
  IoMuxTerminated: 'ERR_IOMUX_TERMINATED',
  /** `IoMux.poll()` on an IoMux made without `{ dispatch: 'manual' }`. */
  IoMuxNotManual: 'ERR_IOMUX_NOT_MANUAL',
  /** `IoMux.poll()` from inside a callback that `poll()` is running. */
  IoMuxPollReentered: 'ERR_IOMUX_POLL_REENTERED',
  /** A TLS server side (a TLS listener's `bind()`, or `upgradeToTls` with `serverSide`) whose context has no server certificate. */
  NoServerCertificate: 'ERR_TLS_NO_SERVER_CERTIFICATE',
  /**
   * `reusePort: true` where it cannot work: a Node.js line without the option (before 22.12 on
   * the 22 line, 23.0), a platform without load-balanced SO_REUSEPORT, or a local socket.
   */
  ReusePortUnavailable: 'ERR_SOCKET_REUSEPORT_UNAVAILABLE',
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

/** Stable codes of the errors a context throws for bad certificates or settings. */
export const ContextErrorCode = {
  /** The PEM text holds no certificate. */
  NoCertificate: 'ERR_PEM_NO_CERTIFICATE',
  /** The PEM text holds no private key. */
  NoPrivateKey: 'ERR_PEM_NO_PRIVATE_KEY',
  /** The private key does not belong to the (first) certificate. */
  KeyMismatch: 'ERR_PEM_KEY_MISMATCH',
  /** The PEM text could not be parsed (corrupt base64, unsupported or encrypted key…). */
  BadPem: 'ERR_PEM_INVALID',
  /** An ALPN protocol name is empty or longer than 255 bytes. */
  BadAlpn: 'ERR_ALPN_INVALID',
} as const;

/** One of the {@link ContextErrorCode} strings, carried as `code` by the TypeError a context method throws. */
export type ContextErrorCode = (typeof ContextErrorCode)[keyof typeof ContextErrorCode];
