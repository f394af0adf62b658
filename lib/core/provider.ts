import { IInstanceLog, ISocket, ISocketContext, ISocketProvider, SocketOptions, SocketType, UpgradeOptions, USocket } from '../api';
import { SocketContext } from '../context';
import { SocketErrorCode, SocketStateError } from '../errors';
import { StreamTransport } from './endpoint';
import { getDefaultLog } from './log';
import { StreamSocket } from './stream-socket';
import { DatagramSocket } from '../transports/udp';
import { checkUser } from './validate';

/**
 * A provider of stream sockets over one transport. Providers hold no state of their own:
 * a socket does not depend on the provider that made it.
 */
export class StreamSocketProvider implements ISocketProvider {
  constructor(protected readonly transport: StreamTransport) {}

  get type(): SocketType {
    return this.transport.type;
  }

  createSocketContext(log?: IInstanceLog): ISocketContext {
    return new SocketContext(log ?? getDefaultLog());
  }

  createSocket(user: USocket, options: SocketOptions = {}): ISocket {
    if (typeof options !== 'object' || options === null) throw new TypeError('createSocket: options must be an object');
    return new StreamSocket(this.transport, user, options);
  }

  upgradeToTls(socket: ISocket, user: USocket, options?: UpgradeOptions): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, `upgradeToTls: only the TLS provider upgrades sockets (this is the ${this.type} provider)`);
  }
}

/** The UDP provider. */
export class DatagramSocketProvider implements ISocketProvider {
  readonly type = 'udp' as const;

  createSocketContext(log?: IInstanceLog): ISocketContext {
    return new SocketContext(log ?? getDefaultLog());
  }

  createSocket(user: USocket, options: SocketOptions = {}): ISocket {
    if (typeof options !== 'object' || options === null) throw new TypeError('createSocket: options must be an object');
    return new DatagramSocket(user, options);
  }

  upgradeToTls(): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: only the TLS provider upgrades sockets (this is the udp provider)');
  }
}

/** The TLS provider: TLS sockets, and STARTTLS upgrades of connected stream sockets. */
export class TlsSocketProvider extends StreamSocketProvider {
  /**
   * Takes over a connected (or accepted) TCP or local socket: the old socket falls silent,
   * the new one reports `socketUpgradeToTlsComplete` after the handshake. Throws, changing
   * nothing, when the socket cannot be upgraded.
   */
  override upgradeToTls(socket: ISocket, user: USocket, options: UpgradeOptions = {}): ISocket {
    checkUser('upgradeToTls', user);
    if (typeof options !== 'object' || options === null) throw new TypeError('upgradeToTls: options must be an object');
    if (!(socket instanceof StreamSocket)) {
      if (socket && (socket as ISocket).type === 'udp') {
        throw new SocketStateError(SocketErrorCode.NotImplemented, 'upgradeToTls: DTLS over UDP is not implemented in this version yet');
      }
      throw new TypeError('upgradeToTls: expected a socket made by a socket-provider provider');
    }
    if (socket.type === 'tls') throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: the socket is already a TLS socket');
    socket.checkHandOver();
    const serverSide = options.serverSide === true;
    const merged: SocketOptions = { ...socket.handOverOptions, ...options };
    if (serverSide) this.transport.checkServerOptions?.(merged);
    const next = new StreamSocket(this.transport, user, merged); // may throw on bad options: nothing changed yet
    const handed = socket.handOver();
    next.startUpgrade(handed, { server: serverSide, serverName: options.serverName, hostAsWritten: handed.hostAsWritten });
    return next;
  }
}
