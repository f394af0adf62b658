import type { Socket } from 'node:net';
import { ISocket, ShutdownReason, SocketOptions, USocket } from '../../api';
import { DEFAULT_BACKLOG, DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_READ_AHEAD, DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../defaults';
import type { Addresses } from '../addresses';
import type { IoMux } from '../iomux';
import type { RecvRequest } from '../recv-buffer';
import type { SocketState } from '../socket-state';
import { checkCount, checkTimeout } from '../validate';
import type { SecureSession } from './transport';

/**
 * The stream socket as its roles see it. The socket (`stream-socket.ts`) is a façade: it keeps
 * the mode lock, the user, the IoMux, the state and the stats, and plays one role at a time — a
 * connector, a connection or a listener. A role changes the socket only through this surface,
 * and passes it to the user's callbacks as the socket.
 */
export interface StreamHost extends ISocket {
  readonly id: number;
  readonly state: SocketState;
  readonly options: SocketOptions;
  readonly ipv6: boolean;
  readonly iomux: IoMux;
  /** The socket's addresses: a listener sets the bound one, a connection its ends. */
  readonly addresses: Addresses;
  /** The user now (callbacks go to the user current at delivery). */
  readonly user: USocket;
  /** The user called `shutdown()` (or the IoMux was terminated): the end will be NORMAL. */
  readonly shutdownRequested: boolean;
  /** `socketShutdown` was posted, or the socket was taken over. */
  readonly ended: boolean;
  /** The log is on for this socket: build log lines only then. */
  readonly logging: boolean;

  /** The one writer of the state; logs `old -> new`. */
  setState(next: SocketState, why?: string): void;
  trace(message: string): void;
  /** Posts a callback for the user current at delivery time (see SocketBase.emit). */
  emit(call: (user: USocket) => void, fromEvent?: boolean): void;
  emitRecvResult(req: RecvRequest, fromEvent?: boolean): void;
  /** A send's bytes reached the OS (from Node's write callback): posts its `socketSendResult`. */
  sendCompleted(): void;
  /** Ends the socket: cancels a pending recv, posts `socketShutdown`, then nothing more. */
  reportShutdown(reason: ShutdownReason, fromEvent?: boolean): void;
  /** An error's code, recorded for stats(). */
  codeOf(err: unknown): string;
  /** Records an error of ours (a time-out) for stats(). */
  noteError(code: string): void;
  markConnectStart(): void;
  markConnected(): void;
  markHandshakeStart(): void;
  markHandshakeDone(): void;
  /** The connector's work is done: `connection` plays from now on. */
  become(connection: ClientRole): void;
}

/** What every role does for the socket. */
export interface StreamRole {
  /** The user's `shutdown()` (the socket has set `shutdownRequested` and cancelled the recv). */
  shutdown(): void;
  /** The end was posted: release what is left. */
  onEnded(): void;
}

/** A role of client mode (a connector, then the connection): the I/O calls and the connection's facts. */
export interface ClientRole extends StreamRole {
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly session: SecureSession | null;
  /** The Node socket the role listens to, if any (for diagnostics and tests). */
  readonly nodeSocket: Socket | null;
  /** The peer finished sending (Node's 'end'). */
  readonly peerEnded: boolean;
  queuedSendBytes(): number;
  readAheadBytes(): number;
  /** `len` checked; the socket is in client mode and not shut down. */
  send(data: Uint8Array, len: number): void;
  recv(buffer: Uint8Array, len: number, partial: boolean): void;
  /** Cancels the pending recv with `socketRecvCanceled`; `keepBytes`: what it took goes back to the read-ahead. */
  cancelPendingRecv(keepBytes: boolean): void;
}

/** Which callback a finished connection reports. */
export type Completion = 'connect' | 'accept' | 'upgrade';

/** The limits of a stream socket, checked when it is made; the sockets a listener accepts share its object. */
export interface StreamLimits {
  readonly readAheadBytes: number;
  readonly shutdownTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly backlog: number;
  readonly maxConnections: number;
}

/**
 * Checks the limit options, in the order they have always been checked; `checkTransport` (the
 * transport's own option checks) runs after the time-outs.
 * @throws RangeError on a malformed option
 */
export function readLimits(options: SocketOptions, checkTransport: () => void): StreamLimits {
  const readAheadBytes = checkCount('readAheadBytes', options.readAheadBytes, DEFAULT_READ_AHEAD, 1);
  const shutdownTimeoutMs = checkTimeout('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS);
  const connectTimeoutMs = checkTimeout('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
  const handshakeTimeoutMs = checkTimeout('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
  checkTransport();
  return {
    readAheadBytes,
    shutdownTimeoutMs,
    connectTimeoutMs,
    handshakeTimeoutMs,
    backlog: checkCount('backlog', options.backlog, DEFAULT_BACKLOG, 1),
    maxConnections: checkCount('maxConnections', options.maxConnections, Infinity),
  };
}

/**
 * An error after the end was posted or the user asked to shut down only tells how the close
 * went: it is logged, and a requested shutdown still ends NORMAL. Shared by the connector and
 * the connection so both treat a closing socket alike.
 * @returns true when the error was of a closing socket (the caller has nothing more to do)
 */
export function handledWhileClosing(host: StreamHost, err: NodeJS.ErrnoException, fail: (reason: ShutdownReason) => void): boolean {
  if (!host.ended && !host.shutdownRequested) return false;
  host.trace(`error while closing: ${host.codeOf(err)} ${err.message}`);
  if (host.shutdownRequested) fail(ShutdownReason.Normal);
  return true;
}
