/**
 * Message sockets: whole messages over any connected socket, framed by a length prefix or a
 * delimiter on stream sockets, one datagram each over UDP and DTLS (docs/messages.md).
 */
export { createMessageSocket, DEFAULT_MAX_MESSAGE_SIZE } from './create';
export { MessageErrorCode, UMessageSocket, type IMessageSocket, type MessageFraming, type MessageFramingKind, type MessageSocketOptions } from './api';
