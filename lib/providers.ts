/**
 * The composition root: the four (five, with the socket pair) factories put a transport
 * (`transports/`) under the socket core (`core/`). This is the only module that imports
 * `transports/`: the core knows no transport and no context, and a provider knows no socket
 * class (an upgrade goes through the sockets' own hand-over hook, `core/upgrade.ts`).
 */
import { IInstanceLog, ISocket, ISocketContext, ISocketProvider, SocketOptions, SocketType, UpgradeOptions, USocket } from './api';
import { SocketContext } from './context';
import { DatagramGate, DatagramSession } from './core/datagram-session';
import { DatagramSocket } from './core/datagram-socket';
import { getDefaultLog } from './core/log';
import { RudpSocket } from './core/rudp/rudp-socket';
import { StreamSocket } from './core/stream/stream-socket';
import { StreamTransport } from './core/stream/transport';
import { isUpgradable, kUpgradeTo, UpgradeOffer } from './core/upgrade';
import { checkReusePort, checkUser } from './core/validate';
import { SocketErrorCode, SocketStateError } from './errors';
import { createDtlsSession } from './transports/dtls';
import { CookieGate } from './transports/dtls-cookie';
import { localTransport } from './transports/local';
import { makePair, pairTransport } from './transports/pair';
import { tcpTransport } from './transports/tcp';
import { tlsTransport } from './transports/tls';
import { udpTransport } from './transports/udp';

// ---- the factories -----------------------------------------------------------------------

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
 * Makes rudp sockets: reliable ordered messages over UDP, one port serving many connections
 * (first version: see docs/rudp.md for what is implemented and what is not yet).
 */
export function createRudpSocketProvider(): ISocketProvider {
  return new RudpSocketProvider();
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

// ---- the providers -----------------------------------------------------------------------

/**
 * A provider of stream sockets over one transport. Providers hold no state of their own:
 * a socket does not depend on the provider that made it.
 */
class StreamSocketProvider implements ISocketProvider {
  constructor(protected readonly transport: StreamTransport) {}

  get type(): SocketType {
    return this.transport.type;
  }

  createSocketContext(log?: IInstanceLog): ISocketContext {
    return new SocketContext(log ?? getDefaultLog());
  }

  createSocket(user: USocket, options: SocketOptions = {}): ISocket {
    if (typeof options !== 'object' || options === null) throw new TypeError('createSocket: options must be an object');
    checkReusePort(this.transport.type, options.reusePort);
    return new StreamSocket(this.transport, user, options);
  }

  upgradeToTls(_socket: ISocket, _user: USocket, _options?: UpgradeOptions): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, `upgradeToTls: only the TLS provider upgrades sockets (this is the ${this.type} provider)`);
  }
}

/** The UDP provider. */
class DatagramSocketProvider implements ISocketProvider {
  readonly type = 'udp' as const;

  createSocketContext(log?: IInstanceLog): ISocketContext {
    return new SocketContext(log ?? getDefaultLog());
  }

  createSocket(user: USocket, options: SocketOptions = {}): ISocket {
    if (typeof options !== 'object' || options === null) throw new TypeError('createSocket: options must be an object');
    checkReusePort('udp', options.reusePort);
    return new DatagramSocket(udpTransport, user, options);
  }

  upgradeToTls(): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: only the TLS provider upgrades sockets (this is the udp provider)');
  }
}

/** The rudp provider. */
class RudpSocketProvider implements ISocketProvider {
  readonly type = 'rudp' as const;

  createSocketContext(log?: IInstanceLog): ISocketContext {
    return new SocketContext(log ?? getDefaultLog());
  }

  createSocket(user: USocket, options: SocketOptions = {}): ISocket {
    if (typeof options !== 'object' || options === null) throw new TypeError('createSocket: options must be an object');
    return new RudpSocket(udpTransport, user, options);
  }

  upgradeToTls(): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: only the TLS provider upgrades sockets (this is the rudp provider)');
  }
}

/** The TLS provider: TLS sockets, STARTTLS upgrades of stream sockets, DTLS upgrades of UDP sockets. */
class TlsSocketProvider extends StreamSocketProvider {
  /**
   * Takes over a connected (or accepted) TCP or local socket (STARTTLS), or a connected or
   * bound UDP socket with a DTLS context (DTLS): the old socket falls silent, the new one
   * reports `socketUpgradeToTlsComplete` after the handshake. Throws, changing nothing, when
   * the socket cannot be upgraded. The socket does the take-over itself (its `kUpgradeTo` hook).
   */
  override upgradeToTls(socket: ISocket, user: USocket, options: UpgradeOptions = {}): ISocket {
    checkUser('upgradeToTls', user);
    if (typeof options !== 'object' || options === null) throw new TypeError('upgradeToTls: options must be an object');
    if (!isUpgradable(socket)) throw new TypeError('upgradeToTls: expected a socket made by a socket-provider provider');
    return socket[kUpgradeTo](new TlsUpgrade(user, options, this.transport));
  }
}

/** What the TLS provider offers a socket to upgrade: its secure stream transport, or a DTLS session from the context. */
class TlsUpgrade implements UpgradeOffer {
  readonly serverSide: boolean;

  constructor(
    readonly user: USocket,
    readonly options: UpgradeOptions,
    readonly streamTransport: StreamTransport,
  ) {
    this.serverSide = options.serverSide === true;
  }

  /** DTLS needs a context on which enableDtls() was called; the core never reads the context, so the settings are taken here. */
  dtlsSession(gated = false): DatagramSession {
    const context = this.options.context;
    if (!(context instanceof SocketContext) || !context.dtlsSettings.enabled) {
      throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls of a UDP socket needs options.context on which enableDtls() was called');
    }
    const settings = context.dtlsSettings;
    if (this.serverSide && !settings.serverIdentity) {
      throw new SocketStateError(SocketErrorCode.NoServerCertificate, 'upgradeToTls: a DTLS server side needs a server certificate (setServerCertificate)');
    }
    return createDtlsSession(settings, { server: this.serverSide, serverName: this.options.serverName, gated });
  }

  /** The DTLS listener's stateless cookie gate (one per listener: its own secrets). */
  dtlsGate(): DatagramGate {
    return new CookieGate();
  }
}
