import { ISocketProvider } from './api';
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
