/**
 * The public types of the async layer: what `connect()`, `listen()`, `bind()` and
 * `toMessages()` return, and their options.
 */
import type { ISocket, ISocketProvider, PeerCertificate, ShutdownReason, SocketOptions, SocketStats, UpgradeOptions } from '../api';
import type { MessageErrorCode } from '../messages';

/** Options every awaitable takes. */
export interface AbortOptions {
  /** Aborting it rejects the pending call with an `AbortError` (`name === 'AbortError'`). */
  signal?: AbortSignal;
}

/**
 * A socket context described as Node's `tls` options describe one; the async layer makes the
 * `ISocketContext` (used when no `context` is given). For anything else, make a context yourself.
 */
export interface TlsContextOptions {
  /** PEM text with our certificate (chain) and its private key: the server's, or with `role: 'client'` the client's. */
  certificate?: string | Uint8Array;
  /** Whose certificate `certificate` is. Default: `'client'` for connect, `'server'` for listen and a server-side startTls. */
  role?: 'client' | 'server';
  /** Whom to trust (PEM). Default: Node's root store. */
  ca?: string | Uint8Array;
  /** ALPN protocols in order of preference. */
  alpn?: readonly string[];
  /** Server: require and verify a client certificate. */
  requireClientCertificate?: boolean;
  /** False: the explicit, logged opt-out of peer verification. Default true. */
  verifyPeer?: boolean;
  /** DTLS (upgrades of UDP sockets); `'srtp'` negotiates DTLS-SRTP. */
  dtls?: boolean | 'srtp';
}

/** The `tls` option of connect, listen and startTls. */
export interface TlsOption {
  /** The context as Node's tls options (used when `context` is not given). */
  tls?: TlsContextOptions;
}

/** Options of {@link connect}: the socket's options, plus the call's own. */
export interface ConnectOptions extends SocketOptions, AbortOptions, TlsOption {
  /** TLS: the SNI name and the name the server's certificate must carry (default: the host in the address). */
  serverName?: string;
  /** TLS: approves the ALPN protocol the server chose; false ends the connect with `SOCKET_ALPN_SELECTION_FAILED`. Default: accept. */
  acceptAlpn?: (protocol: string) => boolean;
}

/** Options of {@link listen}: the listening socket's options (they apply to the accepted connections too), plus the listener's own. */
export interface ListenOptions extends SocketOptions, AbortOptions, TlsOption {
  /**
   * Connections accepted and not yet taken by `accept()` or the iterator: beyond this many,
   * new ones are denied (counted in `stats().listener.denied`). Default 128.
   */
  acceptQueue?: number;
  /** TLS: approves the ALPN protocol chosen for an incoming connection; false closes it. Default: accept. */
  acceptAlpn?: (protocol: string) => boolean;
}

/** Options of {@link bind} (a UDP socket that talks to anyone). */
export interface BindOptions extends SocketOptions, AbortOptions {
  /** Let several sockets share the port (SO_REUSEADDR). Default false. */
  reuseAddr?: boolean;
}

/** Options of `startTls()`: the upgrade's options (`serverSide`, `serverName`, `context`…), plus the call's own. */
export interface StartTlsOptions extends UpgradeOptions, AbortOptions, TlsOption {
  /** Approves the ALPN protocol chosen; false ends the upgrade with `SOCKET_ALPN_SELECTION_FAILED`. Default: accept. */
  acceptAlpn?: (protocol: string) => boolean;
}

/** Options of `readSome()`. */
export interface ReadSomeOptions extends AbortOptions {
  /** The most bytes to return (a datagram longer than this is cut to it). Default 65 536. */
  max?: number;
}

/** The facts of a connected socket, read from the socket when asked. */
export interface ConnectionFacts {
  /** The socket underneath, for anything not mirrored here. Do not call its methods: the async layer is its user. */
  readonly socket: ISocket;
  /** The local address (a path for local sockets), once known. */
  readonly localAddress: string | undefined;
  /** The local port (0 for local sockets), once known. */
  readonly localPort: number | undefined;
  /** The peer's address. */
  readonly remoteAddress: string | undefined;
  /** The peer's port. */
  readonly remotePort: number | undefined;
  /** TLS/DTLS: the negotiated ALPN protocol, or null. */
  readonly alpnProtocol: string | null;
  /** TLS/DTLS: the peer's certificate (Node's shape), or null. */
  readonly peerCertificate: PeerCertificate | null;
  /** Resolves with the reason the socket ended, once it did. Never rejects. */
  readonly closed: Promise<ShutdownReason>;
  /** A snapshot of the socket's counters (`ISocket.stats()`). */
  stats(): SocketStats;
}

/**
 * A connected socket, with promises: TCP, TLS, local, STARTTLS-upgraded; also a connected UDP
 * or DTLS socket, where every chunk is one datagram ({@link Connection.datagram}). One read is
 * pending at a time and each read is one `recv` on the socket: nothing is read ahead beyond
 * the socket's own bounded read-ahead (`readAheadBytes`, 256 KiB by default).
 */
export interface Connection extends ConnectionFacts, AsyncIterable<Buffer> {
  /** UDP and DTLS: each `readSome`/chunk is one datagram and each `write` one datagram; `read(n)` is not available. */
  readonly datagram: boolean;
  /**
   * Exactly `n` bytes. If the socket ends first, rejects with a {@link SocketClosedError} whose
   * `partial` holds the bytes that did arrive (fewer than `n`). Streams only.
   */
  read(n: number, options?: AbortOptions): Promise<Buffer>;
  /**
   * Whatever is there, 1 to `max` bytes (a datagram: the next one, cut to `max`), as soon as
   * there is something; `null` once the peer closed (or `end()` was called) and every byte was
   * read. Rejects with a {@link SocketClosedError} if the socket ended with an error.
   */
  readSome(options?: ReadSomeOptions): Promise<Buffer | null>;
  /**
   * Sends `data` (a string as UTF-8). Resolves once the bytes were handed to the OS
   * (`socketSendResult`), so awaiting each write is the flow control. The data is copied at
   * once. Rejects with a {@link SocketClosedError} if the socket ends first. Aborting stops the
   * wait only: the bytes were already queued and will be sent.
   */
  write(data: Uint8Array | string, options?: AbortOptions): Promise<void>;
  /** Sends what was written, then closes (both ways: the socket API has no half-close). `closed` then resolves. */
  end(): void;
  /**
   * STARTTLS (a TCP or local connection) or DTLS (a connected UDP one, with a context that has
   * `enableDtls()`): waits until every write was sent, then upgrades. Resolves with the secure
   * connection once its handshake is done; this object is then spent (its `closed` resolves
   * when the new one's does, its `end()` ends the new one). No read may be pending.
   */
  startTls(tlsProvider: ISocketProvider, options?: StartTlsOptions): Promise<Connection>;
  /** The chunks as they arrive (`readSome()` until `null`); breaking out of the loop leaves the connection open. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer>;
}

/** A listening socket: `for await (const conn of listener)`, or `await accept()`. */
export interface Listener extends AsyncIterable<Connection> {
  /** The listening socket underneath. Do not call its methods. */
  readonly socket: ISocket;
  /** The bound address (a path for local sockets). */
  readonly address: string;
  /** The bound port (the real one when 0 was asked; 0 for local sockets). */
  readonly port: number;
  /** Resolves with the reason the listener ended (`SOCKET_SHUTDOWN_NORMAL` after `close()`). Never rejects. */
  readonly closed: Promise<ShutdownReason>;
  /** The next accepted connection (TLS: handshake done); `null` once the listener is closed. */
  accept(options?: AbortOptions): Promise<Connection | null>;
  /** Stops accepting; connections accepted and not yet taken are closed; those taken live on. */
  close(): void;
  /** The listening socket's counters, with the totals over its connections in `listener`. */
  stats(): SocketStats;
  /** The accepted connections; the loop ends when the listener is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Connection>;
}

/** One datagram received by a bound UDP socket. */
export interface Datagram {
  /** The payload (cut to the asked `max`). */
  data: Buffer;
  /** The sender's address. */
  address: string;
  /** The sender's port. */
  port: number;
}

/** A bound UDP socket: datagrams from anyone, `sendTo` anyone. */
export interface DatagramSocket extends AsyncIterable<Datagram> {
  /** The socket underneath. Do not call its methods. */
  readonly socket: ISocket;
  /** The bound address. */
  readonly address: string;
  /** The bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Resolves with the reason the socket ended. Never rejects. */
  readonly closed: Promise<ShutdownReason>;
  /** The next datagram; `null` once the socket was closed. One pending at a time. */
  recvFrom(options?: ReadSomeOptions): Promise<Datagram | null>;
  /** Sends one datagram to `address:port` (an IP literal); resolves once it was handed to the OS. */
  sendTo(data: Uint8Array | string, address: string, port: number, options?: AbortOptions): Promise<void>;
  /** Closes the socket. */
  close(): void;
  /** A snapshot of the socket's counters (`droppedDatagrams` tells what the bounded queue dropped). */
  stats(): SocketStats;
  /**
   * DTLS server side on this bound socket (a context with `enableDtls()`, `serverSide: true`):
   * resolves with the connection to the first peer that completes a handshake. This object is
   * then spent.
   */
  startTls(tlsProvider: ISocketProvider, options?: StartTlsOptions): Promise<Connection>;
  /** The datagrams as they arrive; the loop ends when the socket is closed. */
  [Symbol.asyncIterator](): AsyncIterator<Datagram>;
}

/** A connection that carries whole messages (`toMessages(conn)`), framed as `createMessageSocket` frames them. */
export interface MessageConnection extends ConnectionFacts, AsyncIterable<Buffer> {
  /** Why the peer's data was refused, or null (then the end is `SOCKET_LOST`). */
  readonly framingError: MessageErrorCode | null;
  /** The next message; `null` once the peer closed (or `end()` was called). One pending at a time. */
  receive(options?: AbortOptions): Promise<Buffer | null>;
  /** Sends one message (a string as UTF-8); resolves once its bytes were handed to the OS. */
  send(message: Uint8Array | string, options?: AbortOptions): Promise<void>;
  /** Sends what was queued, then closes. */
  end(): void;
  /** The messages as they arrive; breaking out of the loop leaves the connection open. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer>;
}
