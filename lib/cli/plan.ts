import {
  createLocalSocketProvider,
  createRudpSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocket,
  ISocketContext,
  ISocketProvider,
  USocket,
} from '../index';
import type { CliOptions } from './args';
import { DtlsConnector } from './dtls-connector';
import { MessageSession } from './message-session';
import { PeersListener } from './peers-session';
import type { SessionEnv } from './pipe-session';
import { datagramSplitter, LineSplitter, MAX_DATAGRAM, MAX_DTLS_DATAGRAM } from './split';
import { StarttlsClient, StarttlsServer } from './starttls';
import { StreamSession } from './stream-session';
import { buildContext } from './tls-context';

/** Which provider makes the first socket, and which user it gets. */
export interface Plan {
  provider: ISocketProvider;
  /**
   * connect: the socket's user. listen: with `peers`, the listener's user; for a stream type,
   * the user of the one accepted connection; for udp, the bound socket's user.
   */
  user: USocket;
  /** listen: `listen()` once bound and accept every peer (udp --peers, rudp, tls --dtls). */
  peers: boolean;
  /** Given to the first socket (tls over TCP). */
  context?: ISocketContext;
}

/** What the command line asks for, as a provider and the users of its sockets. */
export function makePlan(o: CliOptions, env: SessionEnv): Plan {
  if (o.transport === 'udp') return planUdp(o, env);
  if (o.transport === 'rudp') return planRudp(o, env);
  if (o.transport === 'tls' && o.dtls) return planDtls(o, env);
  return planStream(o, env);
}

function planUdp(o: CliOptions, env: SessionEnv): Plan {
  const split = datagramSplitter(MAX_DATAGRAM);
  const user = o.peers ? new PeersListener(env, split) : new MessageSession(env, split);
  return { provider: createUdpSocketProvider(), user, peers: o.peers };
}

function planRudp(o: CliOptions, env: SessionEnv): Plan {
  const listen = o.command === 'listen';
  const user = listen ? new PeersListener(env, new LineSplitter()) : new MessageSession(env, new LineSplitter(), o.waitPeer);
  return { provider: createRudpSocketProvider(), user, peers: listen };
}

/** DTLS is an upgrade of a UDP socket: once connected (connect) or once bound and listening (listen). */
function planDtls(o: CliOptions, env: SessionEnv): Plan {
  const tls = createTlsSocketProvider();
  const context = buildContext(tls, o, env.reporter);
  const split = datagramSplitter(MAX_DTLS_DATAGRAM);
  if (o.command === 'listen') {
    const upgrade = (bound: ISocket, user: USocket): ISocket => tls.upgradeToTls(bound, user, { serverSide: true, context, log: env.reporter.log });
    return { provider: createUdpSocketProvider(), user: new PeersListener(env, split, upgrade), peers: true };
  }
  const session = new MessageSession(env, split, o.waitPeer);
  return { provider: createUdpSocketProvider(), user: new DtlsConnector(env, tls, session, context, o.serverName), peers: false };
}

function planStream(o: CliOptions, env: SessionEnv): Plan {
  const session = new StreamSession(env, o.waitPeer);
  if (o.transport === 'local') return { provider: createLocalSocketProvider(), user: session, peers: false };
  if (o.transport === 'tcp') return { provider: createTcpSocketProvider(), user: session, peers: false };
  const tls = createTlsSocketProvider();
  const context = buildContext(tls, o, env.reporter);
  if (!o.starttls) return { provider: tls, user: session, peers: false, context };
  // STARTTLS: the connection starts as plain TCP; the TLS socket that takes it over gets the session.
  const serverSide = o.command === 'listen';
  const upgrade = (plain: ISocket): void => {
    tls.upgradeToTls(plain, session, { serverSide, context, serverName: o.serverName ?? undefined, log: env.reporter.log });
  };
  const user = serverSide ? new StarttlsServer(env, upgrade, o.starttlsTimeoutMs) : new StarttlsClient(env, upgrade, o.starttlsTimeoutMs);
  return { provider: createTcpSocketProvider(), user, peers: false };
}
