/**
 * socket-provider: one callback interface over TCP, TLS, UDP, DTLS and local sockets.
 * Everything public is exported here, and only here: the socket API (`public-api.ts`), then
 * the layers built on it.
 *
 * @packageDocumentation
 */
export * from './public-api';
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
