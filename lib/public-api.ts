/**
 * The socket API as users see it, without the layers built on it. The layers (`messages/`,
 * `cli/`) import from here, never from `core/` or `transports/`: what they can do, an app can
 * do too. `index.ts` exports this and the layers.
 */
export {
  ShutdownReason,
  QosTrafficType,
  LogFlag,
  USocket,
  type IInstanceLog,
  type ISocket,
  type ISocketProvider,
  type ISocketContext,
  type SocketOptions,
  type UpgradeOptions,
  type SocketType,
  type SocketMode,
  type PeerCertificate,
  type PeerCertificateName,
  type SocketUser,
  type SocketStats,
  type ListenerStats,
} from './api';
export { SocketStateError, SocketErrorCode, ContextErrorCode } from './errors';
export { IoMux, getDefaultIoMux, type IoMuxOptions } from './core/iomux';
export { claimSocket, type OwnedSocket } from './core/claim';
export { LOG_ENV, getDefaultLog } from './core/log';
export type { RudpSimulate } from './core/rudp/simulate';
export type { RudpOptions, RudpStats, RudpLaneStats, RudpLane, SendOptions } from './api-rudp';
export {
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  createLocalSocketProvider,
  createRudpSocketProvider,
  createSocketPair,
} from './providers';
