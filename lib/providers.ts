import { ISocketProvider } from './api';
import { StreamSocketProvider } from './core/provider';
import { SocketErrorCode, SocketStateError } from './errors';
import { tcpTransport } from './transports/tcp';

/** Makes TCP sockets (Node's `net`). */
export function createTcpSocketProvider(): ISocketProvider {
  return new StreamSocketProvider(tcpTransport);
}

/**
 * Makes TLS sockets, and upgrades connected sockets to TLS (STARTTLS) or DTLS.
 * @throws SocketStateError `ERR_PROVIDER_NOT_IMPLEMENTED`: TLS is not implemented in this version yet.
 */
export function createTlsSocketProvider(tcpProvider?: ISocketProvider | null): ISocketProvider {
  throw new SocketStateError(SocketErrorCode.NotImplemented, 'createTlsSocketProvider: TLS is not implemented in this version yet');
}

/**
 * Makes UDP sockets (Node's `dgram`).
 * @throws SocketStateError `ERR_PROVIDER_NOT_IMPLEMENTED`: UDP is not implemented in this version yet.
 */
export function createUdpSocketProvider(): ISocketProvider {
  throw new SocketStateError(SocketErrorCode.NotImplemented, 'createUdpSocketProvider: UDP is not implemented in this version yet');
}

/**
 * Makes local sockets: Unix domain sockets (named pipes on Windows).
 * @throws SocketStateError `ERR_PROVIDER_NOT_IMPLEMENTED`: local sockets are not implemented in this version yet.
 */
export function createLocalSocketProvider(): ISocketProvider {
  throw new SocketStateError(SocketErrorCode.NotImplemented, 'createLocalSocketProvider: local sockets are not implemented in this version yet');
}
