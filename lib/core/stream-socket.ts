import type { Socket } from 'node:net';
import { ShutdownReason, SocketOptions, USocket } from '../api';
import { SocketErrorCode, SocketStateError, errorCode, reasonForError } from '../errors';
import { isAddressError, resolveHost } from './address';
import { Endpoint, ResolvedEndpoint, StreamTransport } from './endpoint';
import { RecvRequest, ReceiveBuffer } from './recv-buffer';
import { SocketBase } from './socket-base';
import { DEFAULT_BACKLOG, ListenLimits, StreamListener } from './stream-listener';
import { checkBuffer, checkCount, checkPort, checkString } from './validate';

/** Read-ahead bound while no recv is pending (NODE-PITFALLS: 256 KiB held a sender at ~4 MiB). */
export const DEFAULT_READ_AHEAD = 256 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;
/** After our FIN, how long we keep reading (and discarding) so the close does not reset the peer. */
const LINGER_MS = 2_000;

/**
 * A stream socket (TCP, local; TLS builds on it): a client or accepted connection, or a
 * listener. The connection half lives here; the listening half is a {@link StreamListener}.
 *
 * Sends are copied (the caller may reuse its buffer at once) and written to Node in order;
 * each write's completion posts one `socketSendResult`. Received bytes go through one
 * {@link ReceiveBuffer} with pause/resume at its bound.
 */
export class StreamSocket extends SocketBase {
  readonly type: 'tcp' | 'tls' | 'local';
  protected readonly flag;

  protected node: Socket | null = null;
  private listener: StreamListener | null = null;
  private readonly recvBuffer: ReceiveBuffer;
  /** Sends made before the connection is up, written once it is. */
  private pendingSends: Buffer[] = [];
  private readonly connectTimeoutMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly listenLimits: ListenLimits;
  private timer: NodeJS.Timeout | null = null;
  /** The peer finished sending (Node's 'end'). */
  private eof = false;
  private paused = false;
  private sent = 0;
  private received = 0;
  private local: { address: string; port: number } | null = null;
  private remote: { address: string; port: number } | null = null;
  /** Set on an accepted socket: told when this connection ends, for `connectionCount`. */
  onConnectionEnded: (() => void) | null = null;

  constructor(
    protected readonly transport: StreamTransport,
    user: USocket,
    options: SocketOptions,
  ) {
    super(user, options);
    this.type = transport.type;
    this.flag = transport.flag;
    this.recvBuffer = new ReceiveBuffer(checkCount('readAheadBytes', options.readAheadBytes, DEFAULT_READ_AHEAD, 1));
    this.connectTimeoutMs = checkCount('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.shutdownTimeoutMs = checkCount('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS);
    this.listenLimits = {
      backlog: checkCount('backlog', options.backlog, DEFAULT_BACKLOG, 1),
      maxConnections: checkCount('maxConnections', options.maxConnections, Infinity),
    };
    this.register();
  }

  // ---- read-only facts -------------------------------------------------------------

  get localAddress(): string | undefined {
    return this.getLocalAddress()?.address;
  }
  get localPort(): number | undefined {
    return this.getLocalAddress()?.port;
  }
  get remoteAddress(): string | undefined {
    return this.remote?.address;
  }
  get remotePort(): number | undefined {
    return this.remote?.port;
  }
  get bytesSent(): number {
    return this.sent;
  }
  get bytesReceived(): number {
    return this.received;
  }
  get connectionCount(): number {
    return this.listener?.connectionCount ?? 0;
  }

  getLocalAddress(): { address: string; port: number } | null {
    if (this.listener) return this.listener.localAddress;
    return this.local;
  }

  // ---- client mode -------------------------------------------------------------------

  connect(address: string, serverName?: string): void {
    this.enterClientMode(() => {
      checkString('connect: address', address);
      checkString('connect: serverName', serverName, true);
    });
    this.setState('resolving', address);
    const endpoint = this.transport.parseConnect(address, this.ipv6);
    if (isAddressError(endpoint)) {
      this.trace(`connect(${JSON.stringify(address)}): ${endpoint.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    this.startTimer(this.connectTimeoutMs, () => {
      this.trace(`connect to ${address} timed out after ${this.connectTimeoutMs} ms (ETIMEDOUT)`);
      this.fail(ShutdownReason.ConnectFailed);
    });
    resolveEndpoint(endpoint, this.ipv6, (err, resolved) => {
      if (this.state !== 'resolving') return; // shut down or timed out meanwhile
      if (err || !resolved) {
        this.trace(`connect: cannot resolve ${address}: ${errorCode(err)}`);
        this.fail(ShutdownReason.ConnectFailed);
        return;
      }
      if (this.shutdownCalled && this.pendingSends.length === 0) {
        this.fail(ShutdownReason.Normal);
        return;
      }
      this.open(resolved, serverName ?? undefined);
    });
  }

  private open(endpoint: ResolvedEndpoint, serverName: string | undefined): void {
    let opened: { socket: Socket; ready: string };
    try {
      opened = this.transport.openConnection(endpoint, this.options, serverName);
    } catch (err) {
      this.trace(`connect: cannot open a socket: ${errorCode(err)} ${(err as Error).message}`);
      this.fail(reasonForError(err, 'connect'));
      return;
    }
    this.setState('connecting');
    this.attach(opened.socket);
    opened.socket.once(opened.ready, () => this.onConnected(false));
  }

  /** The connection carries data now: report it (unless shutdown() came first) and write what waited. */
  private onConnected(accepted: boolean): void {
    if (this.state !== 'connecting') return;
    this.clearTimer();
    const sock = this.node!;
    this.local = addressOf(sock.localAddress, sock.localPort);
    this.remote = addressOf(sock.remoteAddress, sock.remotePort);
    this.setState('connected', `${this.local?.address}:${this.local?.port} -> ${this.remote?.address}:${this.remote?.port}`);
    this.applyConnectionOptions(sock);
    // Checked again at delivery: a shutdown() made after this was posted means no completion.
    this.emit((user) => {
      if (this.shutdownCalled) return;
      if (accepted) user.socketAcceptComplete?.(this);
      else user.socketConnectComplete?.(this);
    });
    this.flushPendingSends();
    if (this.shutdownCalled) this.closeGracefully();
  }

  // ---- server mode (delegated to the listener) ---------------------------------------

  bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void {
    let port = 0;
    this.enterServerMode(() => {
      checkString('bind: localAddress', localAddress, true);
      port = checkPort('bind', localPort);
      if (reuseAddr !== undefined && typeof reuseAddr !== 'boolean') throw new TypeError('bind: reuseAddr must be a boolean');
    });
    this.setState('binding');
    const endpoint = this.transport.parseBind(localAddress, port, this.ipv6);
    if (isAddressError(endpoint)) {
      this.trace(`bind(${JSON.stringify(localAddress)}, ${port}): ${endpoint.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    this.listener = new StreamListener(this, this.transport, this.options, this.listenLimits, {
      trace: (m) => this.trace(m),
      bound: (address, boundPort) => {
        if (this.state !== 'binding') return;
        this.setState('bound', `${address}:${boundPort}`);
        this.emit((user) => user.socketBindResult?.(this, address, boundPort));
      },
      offer: (remoteAddr, remotePort, decide) => this.emit((user) => decide(() => user.socketListenResult?.(this, remoteAddr, remotePort))),
      failed: (reason) => this.reportShutdown(reason),
    });
    resolveEndpoint(endpoint, this.ipv6, (err, resolved) => {
      if (this.state !== 'binding') return;
      if (err || !resolved) {
        this.trace(`bind: cannot resolve ${JSON.stringify(localAddress)}: ${errorCode(err)}`);
        this.reportShutdown(ShutdownReason.BindFailed);
        return;
      }
      this.listener!.start(resolved);
    });
  }

  listen(): void {
    this.throwIfTakenOver('listen');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'listen() on a client-mode socket');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotBound, 'listen() before bind()');
    if (this.listener?.listening) throw new SocketStateError(SocketErrorCode.AlreadyListening, 'listen() on a socket that is already listening');
    // A bind that failed at once (malformed address) has ended the socket: nothing to listen on.
    if (this.ignoresCalls || !this.listener) return;
    this.listener.listen();
    if (this.state === 'bound') this.setState('listening');
  }

  accept(remoteUser: USocket | null): void {
    this.throwIfTakenOver('accept');
    if (!this.listener) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    this.listener.accept(remoteUser);
  }

  /** A new socket for a connection this listener accepts: same transport, options, log and IoMux. */
  makeAccepted(user: USocket): StreamSocket {
    return new StreamSocket(this.transport, user, { ...this.options, iomux: this.iomux, log: this.log });
  }

  /** Makes this (new) socket the accepted end of `sock`, or reports why it cannot be. */
  adoptAccepted(sock: Socket): void {
    this.modeValue = 'client';
    if (sock.destroyed || !sock.remoteAddress) {
      this.trace('accept: the connection closed before it was accepted');
      sock.destroy();
      this.reportShutdown(ShutdownReason.AcceptFailed);
      return;
    }
    this.setState('connecting', 'accepted');
    this.attach(sock);
    this.onConnected(true);
    sock.resume(); // held paused (pauseOnConnect) until accepted
  }

  // ---- sending -----------------------------------------------------------------------

  send(data: Uint8Array, len?: number): void {
    this.checkIo('send');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    this.throwIfNotConnected('send');
    // Copy now: the caller may reuse `data` as soon as we return.
    const copy = Buffer.allocUnsafe(n);
    copy.set(n === data.byteLength ? data : data.subarray(0, n));
    if (this.state === 'connected') this.write(copy);
    else this.pendingSends.push(copy);
  }

  private write(chunk: Buffer): void {
    const n = chunk.byteLength;
    this.node!.write(chunk, (err) => {
      if (err) return; // the socket's 'error' reports it
      this.sent += n;
      this.emit((user) => user.socketSendResult?.(this));
    });
  }

  private flushPendingSends(): void {
    const queued = this.pendingSends;
    if (queued.length === 0) return;
    this.pendingSends = [];
    const sock = this.node!;
    sock.cork();
    for (const chunk of queued) this.write(chunk);
    sock.uncork();
  }

  // ---- receiving ---------------------------------------------------------------------

  recv(buffer: Uint8Array, len?: number, recvPartial?: boolean): void {
    this.checkIo('recv');
    const n = checkBuffer('recv', buffer, len);
    if (this.ended) return this.recvAfterEnd(buffer);
    if (this.shutdownCalled) return;
    this.throwIfNotConnected('recv');
    if (this.recvBuffer.pending) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    const done = this.recvBuffer.start(buffer, n, recvPartial === true) ?? (this.eof ? this.recvBuffer.completeShort() : null);
    if (done) this.deliver(done);
    this.resumeIfDrained();
    this.checkPeerDone();
  }

  recvCancel(): void {
    this.checkIo('recvCancel');
    if (this.ignoresCalls) return;
    this.cancelPendingRecv(true);
  }

  protected cancelPendingRecv(keepBytes = false): void {
    const req = this.recvBuffer.cancel(keepBytes);
    if (req) this.emit((user) => user.socketRecvCanceled?.(this, req.buffer));
  }

  private deliver(req: RecvRequest): void {
    this.emit((user) => user.socketRecvResult?.(this, req.buffer, req.filled));
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.shutdownCalled || this.ended) return; // closing: discard what the peer still sends
    this.received += chunk.byteLength;
    const done = this.recvBuffer.push(chunk);
    if (done) this.deliver(done);
    if (this.recvBuffer.full && !this.paused) {
      this.paused = true;
      this.node!.pause();
    }
  };

  private resumeIfDrained(): void {
    if (this.paused && !this.recvBuffer.full) {
      this.paused = false;
      this.node?.resume();
    }
  }

  private readonly onEnd = (): void => {
    this.eof = true;
    if (this.ended) {
      this.node?.destroy(); // we were lingering for this
      return;
    }
    if (this.shutdownCalled) return;
    this.trace(`the peer closed its side (${this.recvBuffer.size} bytes still to deliver)`);
    const short = this.recvBuffer.completeShort();
    if (short) this.deliver(short);
    this.checkPeerDone();
  };

  /** BY_PEER once the peer is done and every byte it sent was delivered. */
  private checkPeerDone(): void {
    if (this.eof && this.recvBuffer.size === 0 && !this.ended && !this.shutdownCalled) {
      this.reportShutdown(ShutdownReason.ByPeer);
    }
  }

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (this.ended || this.shutdownCalled) {
      this.trace(`error while closing: ${errorCode(err)} ${err.message}`);
      if (this.shutdownCalled) this.fail(ShutdownReason.Normal);
      return;
    }
    if (this.eof) {
      // The peer closed cleanly and everything it sent is in the read-ahead; only our sending
      // broke (EPIPE/ECONNRESET on a write). Deliver what arrived, then BY_PEER.
      this.trace(`sending failed after the peer closed: ${errorCode(err)}; delivering the ${this.recvBuffer.size} bytes left`);
      this.checkPeerDone();
      return;
    }
    const phase = this.state === 'connecting' || this.state === 'resolving' ? 'connect' : 'established';
    const reason = reasonForError(err, phase);
    this.trace(`${phase} error ${errorCode(err)} (${err.message}) -> ${reason}`);
    this.fail(reason);
  };

  private readonly onClose = (): void => {
    if (this.ended || this.eof) return; // after a clean end of stream, BY_PEER waits for the reads
    // A close with no 'error' and no end of stream first: treat it as a broken connection.
    const reason = this.state === 'connecting' ? ShutdownReason.ConnectFailed : this.shutdownCalled ? ShutdownReason.Normal : ShutdownReason.Lost;
    this.trace(`closed unexpectedly -> ${reason}`);
    this.fail(reason);
  };

  // ---- closing -----------------------------------------------------------------------

  shutdown(): void {
    this.throwIfTakenOver('shutdown');
    if (this.ignoresCalls) return;
    this.shutdownCalled = true;
    this.cancelPendingRecv();
    this.recvBuffer.clear();
    if (this.listener) {
      this.listener.close();
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    switch (this.state) {
      case 'connected':
        this.closeGracefully();
        return;
      case 'resolving':
      case 'connecting':
        // Sends queued before the connection was up are still delivered if it comes up
        // (bounded by the connect timeout); with nothing queued there is nothing to wait for.
        if (this.pendingSends.length === 0) this.fail(ShutdownReason.Normal);
        else this.trace('shutdown() while connecting: queued sends go out once connected');
        return;
      default:
        this.reportShutdown(ShutdownReason.Normal);
    }
  }

  /** Our FIN after every queued byte; NORMAL once Node handed them all to the OS. */
  private closeGracefully(): void {
    const sock = this.node!;
    this.setState('closing', `flushing ${sock.writableLength} bytes`);
    this.startTimer(this.shutdownTimeoutMs, () => {
      this.trace(`shutdown: queued data not handed to the OS within ${this.shutdownTimeoutMs} ms; closing anyway`);
      this.fail(ShutdownReason.Normal);
    });
    if (this.paused) {
      this.paused = false;
      sock.resume();
    }
    sock.end(() => {
      if (this.ended) return;
      this.clearTimer();
      this.reportShutdown(ShutdownReason.Normal);
    });
  }

  /** Ends the socket now: the Node socket is destroyed and `reason` reported. */
  protected fail(reason: ShutdownReason): void {
    this.clearTimer();
    this.node?.destroy();
    this.reportShutdown(reason);
  }

  protected override onEnded(): void {
    this.clearTimer();
    this.recvBuffer.clear();
    this.pendingSends = [];
    this.onConnectionEnded?.();
    this.onConnectionEnded = null;
    const sock = this.node;
    if (!sock || sock.destroyed) return;
    if (this.eof && sock.writableFinished) {
      sock.destroy();
      return;
    }
    // Our side is finished (or finishing after BY_PEER). Keep reading until the peer's FIN, so
    // closing with unread bytes does not reset the connection and lose what we sent; bounded.
    if (!sock.writableEnded) sock.end();
    sock.resume();
    const linger = setTimeout(() => sock.destroy(), LINGER_MS);
    linger.unref();
    sock.once('close', () => clearTimeout(linger));
  }

  // ---- helpers -----------------------------------------------------------------------

  private attach(sock: Socket): void {
    this.node = sock;
    sock.on('data', this.onData);
    sock.on('end', this.onEnd);
    sock.on('error', this.onError);
    sock.on('close', this.onClose);
  }

  private applyConnectionOptions(sock: Socket): void {
    sock.setNoDelay(this.options.noDelay !== false);
    const keepAlive = this.options.keepAlive;
    if (keepAlive) sock.setKeepAlive(true, typeof keepAlive === 'number' ? keepAlive : 0);
  }

  /** Stream I/O calls: the mode lock first (a listening socket never sends or receives). */
  private checkIo(method: string): void {
    this.throwIfTakenOver(method);
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, `${method}() on a server-mode stream socket`);
  }

  private throwIfNotConnected(method: string): void {
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, `${method}() before connect()`);
  }

  private startTimer(ms: number, fire: () => void): void {
    this.clearTimer();
    if (ms > 0) this.timer = setTimeout(fire, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

function addressOf(address: string | undefined, port: number | undefined): { address: string; port: number } | null {
  return address === undefined ? null : { address, port: port ?? 0 };
}

/** Resolves the host of an endpoint (paths need nothing). */
function resolveEndpoint(endpoint: Endpoint, ipv6: boolean, done: (err: NodeJS.ErrnoException | null, resolved?: ResolvedEndpoint) => void): void {
  if ('path' in endpoint) {
    process.nextTick(done, null, endpoint);
    return;
  }
  resolveHost(endpoint.host, endpoint.kind, ipv6, (err, host) => (err ? done(err) : done(null, { host, port: endpoint.port })));
}
