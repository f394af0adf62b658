/**
 * The seam between a datagram socket's state machine (`core/datagram-*.ts`) and the handle its
 * datagrams travel through. The socket knows only these interfaces, so the same socket runs
 * over Node's dgram (`transports/udp.ts`), over a DTLS session (`transports/dtls.ts`), and, for
 * a datagram listener, over one peer's slot of a shared handle that demultiplexes by peer: the
 * listener implements {@link DatagramPath} for that peer and calls the socket's
 * {@link DatagramSink} with each of the peer's datagrams.
 */
import type { SocketOptions } from '../api';
import type { HostPort } from './addresses';
import type { Datagram } from './datagram-queue';

/** An address and port, as the OS reports them (one type for every socket: `core/addresses.ts`). */
export type { HostPort } from './addresses';

/** Called once per send, in the order of the sends, never inside the `send()` that made it. */
export type SendDone = (err: Error | null) => void;

/** Where a path delivers what arrives: the socket that owns it. */
export interface DatagramSink {
  /** One datagram from `address`:`port` (straight from a Node event: a callback may run at once). */
  datagramArrived(data: Buffer, address: string, port: number): void;
  /** An error of the handle: of a bind or connect on its way, or of one datagram (an ICMP refusal). */
  pathError(err: NodeJS.ErrnoException): void;
  /** A listener's peer went silent for the idle time-out: its socket ends `SOCKET_LOST`. */
  pathLost?(): void;
}

/** What a datagram socket sends through once it has a handle. */
export interface DatagramPath {
  /**
   * Hands one datagram to the OS: to `address`:`port`, or to the connected peer when `port` is
   * undefined. `data` must not change until `done`, or ever when there is no `done`. Without
   * `done` nothing reports the send: a datagram the OS refuses is a lost datagram (rudp's loss
   * recovery sends its data again), and Node spares the tick it takes to report one.
   */
  send(data: Buffer, port: number | undefined, address: string | undefined, done?: SendDone): void;
  /** Where datagrams and errors go from now on (a hand-over moves them to the successor); null: nowhere. */
  setSink(sink: DatagramSink | null): void;
  /** The local address (the handle is bound). */
  localAddress(): HostPort;
  /** Releases the handle: nothing reaches the sink any more. Safe to call more than once. */
  close(): void;
}

/** What the socket sets on a handle it opens. */
export interface HandleSettings {
  ipv6: boolean;
  reuseAddr: boolean;
  recvBufferSize: number;
  sendBufferSize: number;
  /** The app's `bind()` (not a connect's or a first sendTo's port): in a cluster worker it shares the primary's handle. */
  shared?: boolean;
  /** SO_REUSEPORT (a `bind()` with the `reusePort` option): a handle of this process's own in the port's group. */
  reusePort?: boolean;
}

/** Broadcast and multicast options, applied when a handle is bound or connected. */
export interface GroupOptions {
  broadcast?: boolean;
  multicastGroups?: string[];
  multicastLoopback?: boolean;
}

/** A path the socket opens itself, and binds or connects: Node's dgram socket. */
export interface DatagramHandle extends DatagramPath {
  /** Binds; `done` on success (a failure comes as {@link DatagramSink.pathError}). */
  bind(address: string, port: number, done: () => void): void;
  /** Connects to `host` (an IP address) and `port`; `done(err)` either way. */
  connect(port: number, host: string, done: (err?: Error) => void): void;
  /** The connected peer. */
  remoteAddress(): HostPort;
  /**
   * Applies `options` (group membership and loopback only when `receiving`, i.e. bound); each one
   * the OS refuses goes to `refused` and the others still apply.
   */
  applyGroupOptions(options: GroupOptions, receiving: boolean, refused: (what: string, err: unknown) => void): void;
}

/** Opens handles: the dgram adapter (`transports/udp.ts`). */
export interface DatagramTransport {
  /** A new unbound handle delivering to `sink`. @throws what the OS throws when it refuses one */
  open(settings: HandleSettings, sink: DatagramSink): DatagramHandle;
}

/** What a UDP socket taken over by a DTLS upgrade hands to its successor. */
export interface HandedDatagram {
  path: DatagramPath;
  /** Datagrams received and not read: they belong to the DTLS layer now. */
  queued: Datagram[];
  /** The connected peer, if the socket was connected. */
  peer: HostPort | null;
  /** The host the socket's connect() named, as written (a DTLS client verifies it). */
  hostAsWritten: string | undefined;
  connected: boolean;
  options: SocketOptions;
}
