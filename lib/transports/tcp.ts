import { connect, createServer, Server, Socket } from 'node:net';
import { LogFlag, SocketOptions } from '../api';
import { isAddressError, parseBindHost, parseHostPort, ParseResult } from '../core/address';
import type { DirectRead } from '../core/direct-read';
import { Endpoint, ResolvedEndpoint, SecureRole, StreamDialer, StreamServer, StreamTransport } from '../core/stream/transport';

/** TCP addresses and connections over Node's `net`: names resolved by the core. */
export const tcpDialer: StreamDialer = {
  parseConnect(address: string, ipv6: boolean): ParseResult<Endpoint> {
    return parseHostPort(address, ipv6);
  },

  dial(endpoint: ResolvedEndpoint, options: SocketOptions, _role: SecureRole, onread: DirectRead): { socket: Socket; ready: string } {
    if ('path' in endpoint) throw new TypeError('a TCP socket cannot connect to a path');
    const socket = connect({
      host: endpoint.host,
      port: endpoint.port,
      family: options.ipv6 ? 6 : 4,
      // BY_PEER must wait until the app has read every byte, and our side may still send.
      allowHalfOpen: true,
      onread,
      ...nodeSocketOptions(options),
    });
    return { socket, ready: 'connect' };
  },
};

/** A TCP server that holds new connections paused until they are offered and accepted. */
export const tcpServer: StreamServer = {
  parseBind(localAddress: string | null | undefined, port: number, ipv6: boolean): ParseResult<Endpoint> {
    const host = parseBindHost(localAddress, ipv6);
    return isAddressError(host) ? host : { ...host, port };
  },

  createServer(options: SocketOptions): Server {
    return createServer({ allowHalfOpen: true, pauseOnConnect: true, ...nodeSocketOptions(options) });
  },
};

/** TCP over Node's `net`. */
export const tcpTransport: StreamTransport = {
  type: 'tcp',
  flag: LogFlag.Tcp,
  appliesSocketOptions: true,
  dialer: tcpDialer,
  server: tcpServer,
};

/**
 * TCP_NODELAY and keep-alive as Node's own socket options: Node sets them on the handle as the
 * connection comes up, which costs less than `setNoDelay()`/`setKeepAlive()` on every socket.
 */
function nodeSocketOptions(options: SocketOptions): { noDelay: boolean; keepAlive: boolean; keepAliveInitialDelay: number } {
  const keepAlive = options.keepAlive;
  return { noDelay: options.noDelay !== false, keepAlive: Boolean(keepAlive), keepAliveInitialDelay: typeof keepAlive === 'number' ? keepAlive : 0 };
}
