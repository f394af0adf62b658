/**
 * `socket-provider/async`: the socket API with promises, async iterators and Node streams,
 * built on the public callback API only (docs/async.md).
 *
 * - `connect()`, `listen()`, `bind()` (UDP) open sockets and resolve once they are up;
 * - a {@link Connection} has `read(n)`, `readSome()`, `write()`, `for await`, `end()`,
 *   `closed`, `stats()`, the facts, and `startTls()` (STARTTLS, DTLS);
 * - `toMessages(conn)` carries whole messages; `toDuplex(conn)` is a `stream.Duplex`.
 *
 * Every awaitable takes `{ signal }`; every rejection carries the `ShutdownReason`.
 *
 * @packageDocumentation
 */
export { connect, listen, bind, DEFAULT_ACCEPT_QUEUE } from './open';
export { toMessages } from './messages';
export { toDuplex, type SocketDuplex, type DuplexFacts, type DuplexOptions } from './duplex';
export { SocketClosedError, AbortError } from './errors';
export { DEFAULT_READ_MAX } from './connection';
export type {
  AbortOptions,
  BindOptions,
  Connection,
  ConnectionFacts,
  ConnectOptions,
  Datagram,
  DatagramSocket,
  Listener,
  ListenOptions,
  MessageConnection,
  ReadSomeOptions,
  StartTlsOptions,
  TlsContextOptions,
  TlsOption,
} from './api';
