import { IInstanceLog, ISocket, ISocketContext, ISocketProvider, SocketOptions, SocketType, UpgradeOptions, USocket } from '../api';
import { SocketContext } from '../context';
import { SocketErrorCode, SocketStateError } from '../errors';
import { getDefaultLog } from './log';
import { StreamSocket } from './stream/stream-socket';
import { StreamTransport } from './stream/transport';
import { DatagramSocket } from './datagram-socket';
import { SecureDatagramSocket } from './datagram-secure';
import { udpTransport } from '../transports/udp';
import { createDtlsSession } from '../transports/dtls';
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

  upgradeToTls(_socket: ISocket, _user: USocket, _options?: UpgradeOptions): ISocket {
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
    return new DatagramSocket(udpTransport, user, options);
  }

  upgradeToTls(): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: only the TLS provider upgrades sockets (this is the udp provider)');
  }
}

/** The TLS provider: TLS sockets, STARTTLS upgrades of stream sockets, DTLS upgrades of UDP sockets. */
export class TlsSocketProvider extends StreamSocketProvider {
  /**
   * Takes over a connected (or accepted) TCP or local socket (STARTTLS), or a connected or
   * bound UDP socket with a DTLS context (DTLS): the old socket falls silent, the new one
   * reports `socketUpgradeToTlsComplete` after the handshake. Throws, changing nothing, when
   * the socket cannot be upgraded.
   */
  override upgradeToTls(socket: ISocket, user: USocket, options: UpgradeOptions = {}): ISocket {
    checkUser('upgradeToTls', user);
    if (typeof options !== 'object' || options === null) throw new TypeError('upgradeToTls: options must be an object');
    if (socket instanceof DatagramSocket) return upgradeToDtls(socket, user, options);
    if (socket instanceof SecureDatagramSocket) throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: the socket is already a DTLS socket');
    if (!(socket instanceof StreamSocket)) throw new TypeError('upgradeToTls: expected a socket made by a socket-provider provider');
    socket.checkHandOver(); // a TLS socket throws here: it is already secure
    const serverSide = options.serverSide === true;
    const merged: SocketOptions = { ...socket.handOverOptions, ...options };
    if (serverSide) this.transport.securer?.checkServerOptions(merged);
    const next = new StreamSocket(this.transport, user, merged); // may throw on bad options: nothing changed yet
    const handed = socket.handOver();
    next.startUpgrade(handed, { server: serverSide, serverName: options.serverName, hostAsWritten: handed.hostAsWritten });
    return next;
  }
}

/**
 * DTLS: a connected UDP socket (client or server side) or a bound one (server side: it serves
 * the first peer that completes a handshake), with a context on which enableDtls() was called.
 */
function upgradeToDtls(socket: DatagramSocket, user: USocket, options: UpgradeOptions): ISocket {
  const context = options.context;
  if (!(context instanceof SocketContext) || !context.dtlsSettings.enabled) {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls of a UDP socket needs options.context on which enableDtls() was called');
  }
  const settings = context.dtlsSettings;
  if (settings.alpn.length > 0) {
    throw new SocketStateError(
      SocketErrorCode.NotSupported,
      'upgradeToTls: ALPN is TLS-only for now; the DTLS engine has none (use a context without setAlpnProtocols for DTLS)',
    );
  }
  const serverSide = options.serverSide === true;
  if (serverSide && !settings.serverIdentity) {
    throw new SocketStateError(SocketErrorCode.NoServerCertificate, 'upgradeToTls: a DTLS server side needs a server certificate (setServerCertificate)');
  }
  if (!serverSide && socket.mode !== 'client') {
    throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: a DTLS client side needs a connected UDP socket');
  }
  socket.checkHandOver();
  const next = new SecureDatagramSocket(user, { ...socket.handOverOptions, ...options }); // may throw on bad options: nothing changed yet
  const session = createDtlsSession(settings, { server: serverSide, serverName: options.serverName });
  const handed = socket.handOver();
  next.start(handed, session, serverSide);
  return next;
}
