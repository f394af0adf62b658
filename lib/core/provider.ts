import { IInstanceLog, ISocket, ISocketContext, ISocketProvider, SocketOptions, SocketType, UpgradeOptions, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { StreamTransport } from './endpoint';
import { StreamSocket } from './stream-socket';

/**
 * A provider of stream sockets over one transport. Providers hold no state of their own:
 * a socket does not depend on the provider that made it.
 */
export class StreamSocketProvider implements ISocketProvider {
  constructor(private readonly transport: StreamTransport) {}

  get type(): SocketType {
    return this.transport.type;
  }

  createSocketContext(log?: IInstanceLog): ISocketContext {
    throw new SocketStateError(SocketErrorCode.NotImplemented, `createSocketContext: socket contexts (TLS) are not implemented yet in this version`);
  }

  createSocket(user: USocket, options: SocketOptions = {}): ISocket {
    if (typeof options !== 'object' || options === null) throw new TypeError('createSocket: options must be an object');
    return new StreamSocket(this.transport, user, options);
  }

  upgradeToTls(socket: ISocket, user: USocket, options?: UpgradeOptions): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, `upgradeToTls: only the TLS provider upgrades sockets (this is the ${this.type} provider)`);
  }
}
