import { ISocket, ISocketProvider, SocketOptions, USocket } from './api';
import { StreamSocket } from './core/stream/stream-socket';
import { checkUser } from './core/validate';
import { makePair, pairTransport } from './transports/pair';
import { DatagramSocketProvider, StreamSocketProvider, TlsSocketProvider } from './core/provider';
import { tcpTransport } from './transports/tcp';
import { localTransport } from './transports/local';
import { tlsTransport } from './transports/tls';

/** Makes TCP sockets (Node's `net`). */
export function createTcpSocketProvider(): ISocketProvider {
  return new StreamSocketProvider(tcpTransport);
}

/**
 * Makes TLS sockets, and upgrades connected sockets to TLS (STARTTLS).
 * @param tcpProvider accepted for the seed's signature: a TCP provider or null. TLS runs on
 *   Node's own TCP either way (a socket does not depend on the provider that made it).
 * @throws TypeError if `tcpProvider` is a provider of another transport.
 */
export function createTlsSocketProvider(tcpProvider?: ISocketProvider | null): ISocketProvider {
  if (tcpProvider !== undefined && tcpProvider !== null && tcpProvider.type !== 'tcp') {
    throw new TypeError(`createTlsSocketProvider: expected a TCP provider or null, got a ${tcpProvider.type} provider`);
  }
  return new TlsSocketProvider(tlsTransport);
}

/** Makes UDP sockets (Node's `dgram`). */
export function createUdpSocketProvider(): ISocketProvider {
  return new DatagramSocketProvider();
}

/**
 * Makes local sockets: Unix domain sockets (a path, or `\0name` in Linux's abstract
 * namespace), named pipes on Windows (`\\.\pipe\name`).
 */
export function createLocalSocketProvider(): ISocketProvider {
  return new StreamSocketProvider(localTransport);
}

/**
 * Two connected stream sockets in this process, with no network: for testing an app's users
 * (the server side and the client side of a protocol) without ports, files or timing. Every
 * rule of the contract holds as for a local socket: copy-on-send, pull-based `recv` with the
 * read-ahead bound (a reader that stops holds the writer back), half-close, `shutdown()`
 * reasons (`SOCKET_SHUTDOWN_BY_PEER` at the other end; an end that fails without a clean
 * close is `SOCKET_LOST` there).
 *
 * `userA` gets `socketConnectComplete` (the client's view), `userB` `socketAcceptComplete`
 * (an accepted socket's view), both on a later tick. The sockets have type `'local'`, mode
 * `'client'` and no addresses (`''`, port 0). They cannot be upgraded to TLS (`upgradeToTls`
 * throws `ERR_SOCKET_NOT_SUPPORTED`): test TLS over a loopback TCP or local socket.
 *
 * @param options applied to both ends (`iomux`, `log`, `readAheadBytes`, `shutdownTimeoutMs`, …); no `context`
 * @returns `[a, b]`: the socket of `userA` and the socket of `userB`
 * @throws TypeError if a user has no `socketShutdown` method, options are malformed or carry a `context`
 * @throws SocketStateError `ERR_IOMUX_TERMINATED` if the IoMux was terminated
 */
export function createSocketPair(userA: USocket, userB: USocket, options: SocketOptions = {}): [ISocket, ISocket] {
  if (typeof options !== 'object' || options === null) throw new TypeError('createSocketPair: options must be an object');
  checkUser('createSocketPair', userA);
  checkUser('createSocketPair', userB);
  const a = new StreamSocket(pairTransport, userA, options);
  const b = new StreamSocket(pairTransport, userB, options);
  const [endA, endB] = makePair();
  a.adoptPairEnd(endA, 'connect');
  b.adoptPairEnd(endB, 'accept');
  return [a, b];
}
