/**
 * socket-provider: one callback interface over TCP, TLS, UDP, DTLS and local sockets.
 * Everything public is exported here, and only here.
 *
 * @packageDocumentation
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
  type SocketStats,
  type ListenerStats,
} from './api';
export { SocketStateError, SocketErrorCode, ContextErrorCode } from './errors';
export { IoMux, type IoMuxOptions } from './core/iomux';
export { LOG_ENV } from './core/log';
export { createTcpSocketProvider, createTlsSocketProvider, createUdpSocketProvider, createLocalSocketProvider, createSocketPair } from './providers';
export {
  createMessageSocket,
  DEFAULT_MAX_MESSAGE_SIZE,
  MessageErrorCode,
  UMessageSocket,
  type IMessageSocket,
  type MessageFraming,
  type MessageFramingKind,
  type MessageSocketOptions,
} from './messages';
