import { connect, createServer, Server, Socket } from 'node:net';
import { LogFlag, SocketOptions } from '../api';
import { isAddressError, parseBindHost, parseHostPort, ParseResult } from '../core/address';
import type { DirectRead } from '../core/direct-read';
import { Endpoint, ResolvedEndpoint, SecureRole, StreamTransport } from '../core/endpoint';

/** TCP over Node's `net`: host:port addresses, names resolved by the core. */
export const tcpTransport: StreamTransport = {
  type: 'tcp',
  flag: LogFlag.Tcp,

  parseConnect(address: string, ipv6: boolean): ParseResult<Endpoint> {
    return parseHostPort(address, ipv6);
  },

  parseBind(localAddress: string | null | undefined, port: number, ipv6: boolean): ParseResult<Endpoint> {
    const host = parseBindHost(localAddress, ipv6);
    return isAddressError(host) ? host : { ...host, port };
  },

  readsDirectly: true,

  openConnection(endpoint: ResolvedEndpoint, options: SocketOptions, _role: SecureRole, onread: DirectRead): { socket: Socket; ready: string } {
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

  appliesSocketOptions: true,

  createServer(options: SocketOptions): Server {
    return createServer({ allowHalfOpen: true, pauseOnConnect: true, ...nodeSocketOptions(options) });
  },
};

/**
 * TCP_NODELAY and keep-alive as Node's own socket options: Node sets them on the handle as the
 * connection comes up, which costs less than `setNoDelay()`/`setKeepAlive()` on every socket.
 */
function nodeSocketOptions(options: SocketOptions): { noDelay: boolean; keepAlive: boolean; keepAliveInitialDelay: number } {
  const keepAlive = options.keepAlive;
  return { noDelay: options.noDelay !== false, keepAlive: Boolean(keepAlive), keepAliveInitialDelay: typeof keepAlive === 'number' ? keepAlive : 0 };
}
