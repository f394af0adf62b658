import type { Server, Socket } from 'node:net';
import { ListenerStats, ShutdownReason, USocket } from '../../api';
import { SocketErrorCode, SocketStateError } from '../../errors';
import { isAddressError } from '../address';
import { errorCode, reasonForError } from '../os-errors';
import { checkUser } from '../validate';
import { StreamHost, StreamLimits, StreamRole } from './host';
import { ConnectionTicket } from './ticket';
import { Address, resolveEndpoint, ResolvedEndpoint, StreamServer } from './transport';

/**
 * Makes the socket of a connection the app accepted, for `user`, and starts it on `sock`; the
 * socket tells `ticket` when the connection ends. It may throw before it started anything
 * (the IoMux was terminated): the connection is then denied.
 */
export type AcceptConnection = (user: USocket, sock: Socket, ticket: ConnectionTicket) => void;

/** The offered connection whose `socketListenResult` is running now. */
interface AcceptWindow {
  sock: Socket;
  decided: boolean;
}

/**
 * The listener role of a stream socket: `bind()`, `listen()`, the offers and `accept()`, and the
 * states `binding`, `bound` and `listening`. It makes the sockets of accepted connections through
 * the {@link AcceptConnection} its socket gives it, and counts them with {@link ConnectionTicket}s.
 *
 * Node binds and listens in one step, so the server listens from `bind()` on, with
 * `pauseOnConnect`; connections that arrive before the app's `listen()` are held (paused, at
 * most `backlog`) and offered once it is called.
 */
export class Listener implements StreamRole {
  private server: Server | null = null;
  private readonly held: Socket[] = [];
  /** Offered to the user and not yet decided: destroyed if the listener closes first. */
  private readonly offered = new Set<Socket>();
  private window: AcceptWindow | null = null;
  private listenCalled = false;
  private closed = false;
  private readonly live = new Set<ConnectionTicket>();
  private readonly totals: ListenerStats = { accepted: 0, denied: 0, refused: 0, live: 0, bytesSent: 0, bytesReceived: 0 };
  /** What stands in for the addresses of accepted connections (local sockets), known once bound. */
  private ends: { local: Address; remote: Address } | null = null;
  private readonly connectionEnded = (ticket: ConnectionTicket): void => {
    if (!this.live.delete(ticket)) return;
    this.totals.bytesSent += ticket.bytesSent;
    this.totals.bytesReceived += ticket.bytesReceived;
  };

  constructor(
    private readonly host: StreamHost,
    private readonly transport: StreamServer,
    private readonly limits: StreamLimits,
    private readonly makeAccepted: AcceptConnection,
  ) {}

  get listening(): boolean {
    return this.listenCalled;
  }

  get connectionCount(): number {
    return this.live.size;
  }

  /** What stands in for an accepted connection's addresses where Node has none (local sockets). */
  get acceptedEnds(): { local: Address; remote: Address } | null {
    return this.ends;
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

  // ---- bind() ----------------------------------------------------------------------------

  /** `bind()` (arguments checked): binding, then bound with `socketBindResult`, or the end. */
  bind(localAddress: string | null | undefined, port: number): void {
    const host = this.host;
    host.setState('binding');
    const endpoint = this.transport.parseBind(localAddress, port, host.ipv6);
    if (isAddressError(endpoint)) {
      host.trace(`bind(${JSON.stringify(localAddress)}, ${port}): ${endpoint.error}`);
      host.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    resolveEndpoint(endpoint, host.ipv6, (err, resolved) => {
      if (host.state !== 'binding') return;
      if (err || !resolved) {
        host.trace(`bind: cannot resolve ${JSON.stringify(localAddress)}: ${host.codeOf(err)}`);
        host.reportShutdown(ShutdownReason.BindFailed);
        return;
      }
      this.start(resolved);
    });
  }

  /** Binds (and, as Node does, listens) on the resolved endpoint. */
  private start(endpoint: ResolvedEndpoint): void {
    const prepare = this.transport.prepareBind;
    if (!prepare) {
      this.listenOn(endpoint);
      return;
    }
    prepare.call(this.transport, endpoint, (prepErr) => {
      if (this.closed) return;
      if (prepErr) {
        this.failed(`bind: ${errorCode(prepErr)} ${prepErr.message}`, reasonForError(prepErr, 'bind'));
        return;
      }
      this.listenOn(endpoint);
    });
  }

  private listenOn(endpoint: ResolvedEndpoint): void {
    if (this.closed) return;
    const server = this.transport.createServer(this.host.options, endpoint);
    this.server = server;
    server.on('connection', (sock: Socket) => this.onConnection(sock));
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (this.closed) return;
      const phase = this.host.addresses.local ? 'listen' : 'bind';
      this.close();
      this.failed(`${phase}: ${errorCode(err)} ${err.message}`, reasonForError(err, phase));
    });
    server.once('listening', () => {
      if (this.closed) {
        server.close(); // shut down while Node was still binding
        return;
      }
      const afterErr = this.transport.afterBind?.(endpoint, this.host.options) ?? null;
      if (afterErr) {
        this.close();
        this.failed(`bind: ${errorCode(afterErr)} ${afterErr.message}`, reasonForError(afterErr, 'bind'));
        return;
      }
      const info = server.address();
      const address: Address =
        typeof info === 'object' && info !== null
          ? { address: info.address, port: info.port }
          : { address: 'path' in endpoint ? endpoint.path : String(info), port: 0 };
      this.host.addresses.local = address;
      this.ends = this.transport.acceptedAddresses?.(address) ?? null;
      this.bound(address);
    });
    const backlog = this.limits.backlog;
    if ('path' in endpoint) {
      // A socket file is this process's own (its stale-file and link steps run here), also in a cluster worker.
      server.listen({ path: endpoint.path, backlog, exclusive: true });
      return;
    }
    // In a cluster worker, a TCP or TLS listener shares the primary's handle (the primary
    // accepts and hands connections round-robin) unless it has reusePort: then it has its own
    // socket in the port's SO_REUSEPORT group and the kernel spreads connections (docs/multicore.md).
    const reusePort = this.host.options.reusePort === true;
    server.listen({ host: endpoint.host, port: endpoint.port, backlog, exclusive: reusePort, ...(reusePort ? { reusePort } : {}) });
  }

  /** The server is bound: `socketBindResult`; listening at once if the app called `listen()` already. */
  private bound(address: Address): void {
    const host = this.host;
    if (host.state !== 'binding') return;
    host.setState('bound', `${address.address}:${address.port}`);
    host.emit((user) => user.socketBindResult?.(host, address.address, address.port));
    if (this.listenCalled) host.setState('listening');
  }

  private failed(message: string, reason: ShutdownReason): void {
    this.host.trace(message);
    this.host.reportShutdown(reason);
  }

  // ---- listen(), offers, accept() ----------------------------------------------------------

  /** The app's `listen()`: offers what was held, then everything that comes. */
  listen(): void {
    this.listenCalled = true;
    if (this.host.state === 'bound') this.host.setState('listening'); // else once bound
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
    } else if (this.held.length >= this.limits.backlog) {
      this.totals.refused++;
      this.host.trace(`refused a connection from ${peerOf(sock)}: ${this.limits.backlog} already wait for listen()`);
      sock.destroy();
    } else {
      this.held.push(sock);
    }
  }

  /** Offers the connection unless `maxConnections` (live plus undecided) is reached. */
  private admit(sock: Socket): void {
    const max = this.limits.maxConnections;
    if (this.live.size + this.offered.size >= max) {
      this.totals.refused++;
      this.host.trace(`refused a connection from ${peerOf(sock)}: maxConnections ${max} reached`);
      sock.destroy();
      return;
    }
    this.offered.add(sock);
    const remoteAddr = sock.remoteAddress ?? '';
    const remotePort = sock.remotePort ?? 0;
    this.host.emit((user) => this.decide(user, sock, remoteAddr, remotePort));
  }

  /** At delivery: runs `socketListenResult` inside an accept window; no decision denies. */
  private decide(user: USocket, sock: Socket, remoteAddr: string, remotePort: number): void {
    if (!this.offered.delete(sock)) return; // destroyed when the listener closed
    if (this.closed) {
      this.totals.refused++;
      sock.destroy();
      return;
    }
    const window: AcceptWindow = { sock, decided: false };
    this.window = window;
    try {
      user.socketListenResult?.(this.host, remoteAddr, remotePort);
    } finally {
      this.window = null;
      if (!window.decided) this.deny(sock, 'no accept() in socketListenResult');
    }
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
    const sock = window.sock;
    const ticket = new ConnectionTicket(this.connectionEnded);
    this.live.add(ticket); // before the socket starts: it may end at once and tell the ticket
    sock.removeListener('error', onHeldError);
    try {
      this.makeAccepted(remoteUser, sock, ticket);
    } catch (err) {
      this.live.delete(ticket);
      sock.on('error', onHeldError);
      throw err; // the window's finally denies the connection
    }
    window.decided = true;
    this.totals.accepted++;
  }

  private deny(sock: Socket, why: string): void {
    this.totals.denied++;
    this.host.trace(`denied ${peerOf(sock)} (${why})`);
    sock.destroy();
  }

  // ---- the end ---------------------------------------------------------------------------

  /** `shutdown()`: stops accepting; accepted connections live on. */
  shutdown(): void {
    this.close();
    this.host.reportShutdown(ShutdownReason.Normal);
  }

  onEnded(): void {
    this.close();
  }

  /** Stops accepting; held and undecided connections are closed, accepted ones live on. */
  private close(): void {
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
