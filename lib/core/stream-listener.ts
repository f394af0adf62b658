import type { Server, Socket } from 'node:net';
import { ListenerStats, ShutdownReason, SocketOptions, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { errorCode, reasonForError } from './os-errors';
import { ResolvedEndpoint, StreamTransport } from './endpoint';
import type { StreamSocket } from './stream-socket';
import { checkUser } from './validate';

/** Node's own default backlog. */
export const DEFAULT_BACKLOG = 511;

/** The listening limits, checked when the socket is created. */
export interface ListenLimits {
  backlog: number;
  maxConnections: number;
}

/** How the listener talks back to the socket that owns it. */
export interface ListenerEvents {
  trace(message: string): void;
  /** The server is bound. */
  bound(address: string, port: number): void;
  /**
   * A connection waits. `decide(run)` must be called at delivery time with a function that
   * runs the user's `socketListenResult`; it opens the accept window around it.
   */
  offer(remoteAddr: string, remotePort: number, decide: (runCallback: () => void) => void): void;
  /** Binding or listening failed. */
  failed(reason: ShutdownReason): void;
}

/**
 * An accepted connection as its listener counts it. It moves to the successor socket when
 * the connection is upgraded (STARTTLS), carrying the bytes counted so far.
 */
export class ConnectionTicket {
  /** The sockets this connection had before `conn` (STARTTLS predecessors): their sends still in flight count when they complete. */
  private readonly previous: Array<{ readonly bytesSent: number; readonly bytesReceived: number }> = [];

  constructor(
    private readonly listener: StreamListener,
    /** The socket that has the connection now. */
    public conn: { readonly bytesSent: number; readonly bytesReceived: number },
  ) {}

  get bytesSent(): number {
    let n = this.conn.bytesSent;
    for (const p of this.previous) n += p.bytesSent;
    return n;
  }

  get bytesReceived(): number {
    let n = this.conn.bytesReceived;
    for (const p of this.previous) n += p.bytesReceived;
    return n;
  }

  /** The socket that has the connection hands it to `successor`. */
  moveTo(successor: { readonly bytesSent: number; readonly bytesReceived: number }): void {
    this.previous.push(this.conn);
    this.conn = successor;
  }

  /** The connection ended. */
  ended(): void {
    this.listener.connectionEnded(this);
  }
}

/** The offered connection whose `socketListenResult` is running now. */
interface AcceptWindow {
  sock: Socket;
  decided: boolean;
}

/**
 * The listening half of a stream socket. Node binds and listens in one step, so the server
 * listens from `bind()` on, with `pauseOnConnect`; connections that arrive before the app's
 * `listen()` are held (paused, at most `backlog`) and offered once it is called.
 */
export class StreamListener {
  private server: Server | null = null;
  private readonly held: Socket[] = [];
  /** Offered to the user and not yet decided: destroyed if the listener closes first. */
  private readonly offered = new Set<Socket>();
  private window: AcceptWindow | null = null;
  private listenCalled = false;
  private closed = false;
  private readonly live = new Set<ConnectionTicket>();
  private readonly totals: ListenerStats = { accepted: 0, denied: 0, refused: 0, live: 0, bytesSent: 0, bytesReceived: 0 };
  private address: { address: string; port: number } | null = null;
  private readonly backlog: number;
  private readonly maxConnections: number;

  constructor(
    private readonly owner: StreamSocket,
    private readonly transport: StreamTransport,
    private readonly options: SocketOptions,
    limits: ListenLimits,
    private readonly events: ListenerEvents,
  ) {
    this.backlog = limits.backlog;
    this.maxConnections = limits.maxConnections;
  }

  get listening(): boolean {
    return this.listenCalled;
  }

  get connectionCount(): number {
    return this.live.size;
  }

  /** The totals over every connection this listener accepted, open ones included. */
  stats(): ListenerStats {
    const out = { ...this.totals, live: this.live.size };
    for (const t of this.live) {
      out.bytesSent += t.bytesSent;
      out.bytesReceived += t.bytesReceived;
    }
    return out;
  }

  /** @internal From {@link ConnectionTicket.ended}. */
  connectionEnded(ticket: ConnectionTicket): void {
    if (!this.live.delete(ticket)) return;
    this.totals.bytesSent += ticket.bytesSent;
    this.totals.bytesReceived += ticket.bytesReceived;
  }

  get localAddress(): { address: string; port: number } | null {
    return this.address;
  }

  /** Binds (and, as Node does, listens) on the resolved endpoint. */
  start(endpoint: ResolvedEndpoint): void {
    const prepare = this.transport.prepareBind ?? ((_e: ResolvedEndpoint, done: (err: NodeJS.ErrnoException | null) => void) => done(null));
    prepare(endpoint, (prepErr) => {
      if (this.closed) return;
      if (prepErr) {
        this.events.trace(`bind: ${errorCode(prepErr)} ${prepErr.message}`);
        this.events.failed(reasonForError(prepErr, 'bind'));
        return;
      }
      this.listenOn(endpoint);
    });
  }

  private listenOn(endpoint: ResolvedEndpoint): void {
    if (this.closed) return;
    const server = this.transport.createServer(this.options, endpoint);
    this.server = server;
    server.on('connection', (sock: Socket) => this.onConnection(sock));
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (this.closed) return;
      const phase = this.address ? 'listen' : 'bind';
      this.events.trace(`${phase}: ${errorCode(err)} ${err.message}`);
      this.close();
      this.events.failed(reasonForError(err, phase));
    });
    server.once('listening', () => {
      if (this.closed) {
        server.close(); // shut down while Node was still binding
        return;
      }
      const afterErr = this.transport.afterBind?.(endpoint, this.options) ?? null;
      if (afterErr) {
        this.events.trace(`bind: ${errorCode(afterErr)} ${afterErr.message}`);
        this.close();
        this.events.failed(reasonForError(afterErr, 'bind'));
        return;
      }
      const info = server.address();
      this.address =
        typeof info === 'object' && info !== null ? { address: info.address, port: info.port } : { address: 'path' in endpoint ? endpoint.path : String(info), port: 0 };
      this.events.bound(this.address.address, this.address.port);
    });
    const common = { backlog: this.backlog, exclusive: true };
    if ('path' in endpoint) server.listen({ path: endpoint.path, ...common });
    else server.listen({ host: endpoint.host, port: endpoint.port, ...common });
  }

  /** The app's `listen()`: offers what was held, then everything that comes. */
  listen(): void {
    this.listenCalled = true;
    for (const sock of this.held.splice(0)) this.admit(sock);
  }

  private onConnection(sock: Socket): void {
    // A held or offered socket can still be reset by its peer: Node would throw an unhandled
    // 'error' without a listener. Our accepted socket replaces this one once accepted.
    sock.on('error', onHeldError);
    if (this.closed) {
      this.totals.refused++;
      sock.destroy();
      return;
    }
    if (this.listenCalled) {
      this.admit(sock);
    } else if (this.held.length >= this.backlog) {
      this.totals.refused++;
      this.events.trace(`refused a connection from ${peerOf(sock)}: ${this.backlog} already wait for listen()`);
      sock.destroy();
    } else {
      this.held.push(sock);
    }
  }

  /** Offers the connection unless `maxConnections` (live plus undecided) is reached. */
  private admit(sock: Socket): void {
    if (this.live.size + this.offered.size >= this.maxConnections) {
      this.totals.refused++;
      this.events.trace(`refused a connection from ${peerOf(sock)}: maxConnections ${this.maxConnections} reached`);
      sock.destroy();
      return;
    }
    this.offer(sock);
  }

  private offer(sock: Socket): void {
    this.offered.add(sock);
    const remoteAddr = sock.remoteAddress ?? '';
    const remotePort = sock.remotePort ?? 0;
    this.events.offer(remoteAddr, remotePort, (runCallback) => {
      if (!this.offered.delete(sock)) return; // destroyed when the listener closed
      if (this.closed) {
        this.totals.refused++;
        sock.destroy();
        return;
      }
      const window: AcceptWindow = { sock, decided: false };
      this.window = window;
      try {
        runCallback();
      } finally {
        this.window = null;
        if (!window.decided) this.deny(sock, 'no accept() in socketListenResult');
      }
    });
  }

  /** `accept()` inside `socketListenResult`. */
  accept(remoteUser: USocket | null): void {
    const window = this.window;
    if (!window) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    if (window.decided) throw new SocketStateError(SocketErrorCode.AlreadyAccepted, 'accept() twice for one connection');
    if (remoteUser === null) {
      window.decided = true;
      this.deny(window.sock, 'accept(null)');
      return;
    }
    checkUser('accept', remoteUser);
    if (this.closed) {
      // shutdown() of the listener earlier in this same callback: it accepts nothing more.
      window.decided = true;
      this.deny(window.sock, 'accept() after the listener was shut down');
      return;
    }
    const socket = this.owner.makeAccepted(remoteUser); // may throw: then the finally denies
    window.decided = true;
    const ticket = new ConnectionTicket(this, socket);
    this.live.add(ticket);
    this.totals.accepted++;
    socket.ticket = ticket;
    window.sock.removeListener('error', onHeldError);
    socket.adoptAccepted(window.sock);
  }

  private deny(sock: Socket, why: string): void {
    this.totals.denied++;
    this.events.trace(`denied ${peerOf(sock)} (${why})`);
    sock.destroy();
  }

  /** Stops accepting; held and undecided connections are closed, accepted ones live on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.totals.refused += this.held.length + this.offered.size;
    for (const sock of this.held.splice(0)) sock.destroy();
    for (const sock of this.offered) sock.destroy();
    this.offered.clear();
    this.server?.close();
    this.server = null;
  }
}

/** A connection's peer for log lines: a Unix-socket peer has no address. */
function peerOf(sock: Socket): string {
  return sock.remoteAddress === undefined ? 'a local peer' : `${sock.remoteAddress}:${sock.remotePort}`;
}

function onHeldError(): void {
  // Swallowed on purpose: the connection is only held; if it is accepted later, the accepted
  // socket sees it closed and reports SOCKET_ACCEPT_FAILED or its end.
}
