import { LogFlag, SocketOptions } from '../api';
import { ParseResult } from './address';
import type { Server, Socket } from 'node:net';
import type { DirectRead } from './direct-read';

/** Who a secure handshake is with: our role, and for a client the name to send and verify. */
export interface SecureRole {
  server: boolean;
  /** Client: SNI and the name to verify (`connect()`'s `serverName`, else the host as written). */
  serverName?: string;
  hostAsWritten?: string;
}

/** Where a stream socket connects or binds: a host and port, or a local path. */
export type Endpoint = { host: string; port: number; kind: 'ip' | 'name' } | { path: string };

/** An endpoint ready for Node: names resolved to addresses. */
export type ResolvedEndpoint = { host: string; port: number } | { path: string };

/**
 * What differs between stream transports (TCP, local, TLS): how addresses look and how Node
 * opens connections and servers. Everything else is the shared {@link StreamSocket}.
 */
export interface StreamTransport {
  readonly type: 'tcp' | 'tls' | 'local';
  readonly flag: LogFlag;
  /** Parses a connect address, or says why it is malformed. */
  parseConnect(address: string, ipv6: boolean): ParseResult<Endpoint>;
  /** Parses a bind address and port, or says why they are malformed. */
  parseBind(localAddress: string | null | undefined, port: number, ipv6: boolean): ParseResult<Endpoint>;
  /**
   * Opens a client connection. `ready` is the event after which the stream carries
   * application data (`connect` for TCP, `secureConnect` for TLS). Plain transports pass
   * `onread` to Node (TLS too: Node decrypts into the scratch buffer).
   */
  openConnection(endpoint: ResolvedEndpoint, options: SocketOptions, role: SecureRole, onread: DirectRead): { socket: Socket; ready: string };
  /**
   * `noDelay` and `keepAlive` reach Node with `openConnection` and `createServer` (TCP), so
   * connections need no `setNoDelay`/`setKeepAlive` of their own.
   */
  readonly appliesSocketOptions?: boolean;
  /** Plain transports (TCP, local): their connections are read with `onread` (core/direct-read.ts). */
  readonly readsDirectly?: boolean;
  /**
   * TLS only: runs the handshake over a connected plain socket (an accepted connection, or a
   * STARTTLS upgrade) and calls `done` with the secure socket, or with why it failed.
   */
  secure?(raw: Socket, role: SecureRole, options: SocketOptions, done: (err: NodeJS.ErrnoException | null, secured?: Socket) => void): void;
  /** Set when `upgradeToTls` cannot run over this transport's connections: why (thrown as NotSupported). */
  readonly cannotUpgrade?: string;
  /** Checks, before a socket is made, that the options suit this transport (TLS: a usable context). */
  checkOptions?(options: SocketOptions): void;
  /** Checks that the options can serve (TLS: a server certificate); throws if not. */
  checkServerOptions?(options: SocketOptions): void;
  /** A server that holds new connections paused until they are offered and accepted, for `endpoint` (local sockets: its file). */
  createServer(options: SocketOptions, endpoint?: ResolvedEndpoint): Server;
  /** Prepares a listening endpoint before `listen` (local sockets: a stale socket file). */
  prepareBind?(endpoint: ResolvedEndpoint, done: (err: NodeJS.ErrnoException | null) => void): void;
  /** Runs after the server listens (local sockets: the file mode). */
  afterBind?(endpoint: ResolvedEndpoint, options: SocketOptions): NodeJS.ErrnoException | null;
}
