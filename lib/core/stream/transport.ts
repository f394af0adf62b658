import type { Server, Socket } from 'node:net';
import { LogFlag, PeerCertificate, SocketOptions } from '../../api';
import { ParseResult, resolveHost } from '../address';
import type { HostPort } from '../addresses';
import type { DirectRead } from '../direct-read';

/** An address and port as the API reports them (local sockets: a path, port 0). */
export type Address = HostPort;

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

type Done = (err: NodeJS.ErrnoException | null) => void;

/** Client mode: how addresses look and how Node opens a connection. */
export interface StreamDialer {
  /** Parses a connect address, or says why it is malformed. */
  parseConnect(address: string, ipv6: boolean): ParseResult<Endpoint>;
  /**
   * Opens a client connection. `ready` is the event after which the stream carries
   * application data (`connect` for TCP and local sockets, `secureConnect` for TLS). Every
   * transport passes `onread` to Node (TLS too: Node decrypts into the scratch buffer).
   */
  dial(endpoint: ResolvedEndpoint, options: SocketOptions, role: SecureRole, onread: DirectRead): { socket: Socket; ready: string };
}

/** Server mode: how bind addresses look, and the Node server that holds connections until they are accepted. */
export interface StreamServer {
  /** Parses a bind address and port, or says why they are malformed. */
  parseBind(localAddress: string | null | undefined, port: number, ipv6: boolean): ParseResult<Endpoint>;
  /** Prepares a listening endpoint before `listen` (local sockets: a stale socket file). */
  prepareBind?(endpoint: ResolvedEndpoint, done: Done): void;
  /**
   * A `net.Server` with `pauseOnConnect` (connections are held paused until offered and
   * accepted; the core reads them with `onread` once accepted) for `endpoint`.
   */
  createServer(options: SocketOptions, endpoint: ResolvedEndpoint): Server;
  /** Runs after the server listens (local sockets: the file mode). */
  afterBind?(endpoint: ResolvedEndpoint, options: SocketOptions): NodeJS.ErrnoException | null;
  /**
   * For transports whose connections have no IP addresses (local sockets): what stands in for
   * an accepted connection's addresses, given the listener's. Without it, an accepted
   * connection with no peer address is one that was reset before it was accepted.
   */
  acceptedAddresses?(bound: Address): { local: Address; remote: Address };
}

/** What a finished secure handshake agreed. */
export interface SecureSession {
  /** The ALPN protocol, or null when none was negotiated. */
  readonly alpn: string | null;
  readonly peerCertificate: PeerCertificate | null;
  /** One log line about the session (protocol, cipher, ALPN, peer, verification); null unless asked for. */
  readonly summary: string | null;
}

/**
 * The secure layer (TLS): a handshake over a connected plain stream (an accepted connection or
 * a STARTTLS take-over), and the facts of a secured connection. A transport with a securer
 * secures every connection it makes, so its sockets are secure ones (and cannot be upgraded).
 */
export interface StreamSecurer {
  /** Checks that the options can serve the secure side of a server (a certificate); throws if not. */
  checkServerOptions(options: SocketOptions): void;
  /** Runs the handshake over `raw` and calls `done` with the secure socket, or with why it failed. */
  secure(raw: Socket, role: SecureRole, options: SocketOptions, done: (err: NodeJS.ErrnoException | null, secured?: Socket) => void): void;
  /** The secure socket carries data now: hardens it (no renegotiation) and says what the handshake agreed. */
  establish(sock: Socket, describe: boolean): SecureSession;
  /**
   * Whether a write now is consumed before `write()` returns, so the caller's memory need not be
   * copied (a TLS socket with nothing queued encrypts at once). Asked on every send: keep it cheap.
   */
  writesThrough(sock: Socket): boolean;
}

/**
 * A stream transport (TCP, local, TLS, socket pairs), split by job: a transport implements the
 * jobs it has. Everything else is the shared stream core (`core/stream/`).
 */
export interface StreamTransport {
  readonly type: 'tcp' | 'tls' | 'local';
  readonly flag: LogFlag;
  /** Checks, before a socket is made, that the options suit this transport (TLS: a usable context). */
  checkOptions?(options: SocketOptions): void;
  /**
   * `noDelay` and `keepAlive` reach Node when it opens and accepts connections (TCP), so
   * connections need no `setNoDelay`/`setKeepAlive` of their own.
   */
  readonly appliesSocketOptions?: boolean;
  /** Set when `upgradeToTls` cannot run over this transport's connections: why (thrown as NotSupported). */
  readonly cannotUpgrade?: string;
  /** Client mode; without it, `connect()` is not supported. */
  readonly dialer?: StreamDialer;
  /** Server mode; without it, `bind()` is not supported. */
  readonly server?: StreamServer;
  /** Secure connections (TLS): accepted connections run a server handshake, `upgradeToTls` a handshake of either side. */
  readonly securer?: StreamSecurer;
}

/** Resolves the host of an endpoint (paths need nothing). */
export function resolveEndpoint(endpoint: Endpoint, ipv6: boolean, done: (err: NodeJS.ErrnoException | null, resolved?: ResolvedEndpoint) => void): void {
  if ('path' in endpoint) {
    process.nextTick(done, null, endpoint);
    return;
  }
  resolveHost(endpoint.host, endpoint.kind, ipv6, (err, host) => (err ? done(err) : done(null, { host, port: endpoint.port })));
}
