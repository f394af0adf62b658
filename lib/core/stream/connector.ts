import { isIPv4, type Socket } from 'node:net';
import { ShutdownReason } from '../../api';
import { SocketErrorCode, SocketStateError } from '../../errors';
import { isAddressError } from '../address';
import { readDirectly } from '../direct-read';
import { reasonForError } from '../os-errors';
import { isDetached, RecvRequest } from '../recv-buffer';
import { sendPool } from '../send-pool';
import { SendQueue } from '../send-queue';
import { armTimeout, Deadline, disarmTimeout } from '../timeout';
import { Connection, HandedOver } from './connection';
import { ClientRole, Completion, handledWhileClosing, StreamHost, StreamLimits } from './host';
import { attach, DIRECT_READ, ignoreError, NodeSocketOwner, ownerOf, setOwner } from './node-socket';
import type { ConnectionTicket } from './ticket';
import { Address, resolveEndpoint, ResolvedEndpoint, SecureRole, SecureSession, StreamDialer, StreamTransport } from './transport';

const EMPTY = Buffer.alloc(0);

/**
 * The connector role of a stream socket: how a connection comes to be, until it carries data —
 * `connect()` (resolve, open, and for TLS the client handshake), the server handshake of an
 * accepted secure connection, or the handshake of a STARTTLS take-over. It bounds each phase
 * with a time-out, keeps what the app sends (and the recv it makes) meanwhile, and then hands
 * all of it to the {@link Connection}, which plays from then on.
 */
export class Connector implements ClientRole, NodeSocketOwner {
  /** The socket being connected (`connect()`): listened to, with this connector as its owner. */
  private node: Socket | null = null;
  /** The plain socket under a handshake that has not produced the secure socket yet. */
  private handshaking: Socket | null = null;
  private timer: Deadline | null = null;
  /** A TLS client: Node's 'connect' starts the handshake, its ready event ('secureConnect') completes it. */
  private handshakeAfterConnect = false;
  private eof = false;
  // What the connection starts from (see ConnectionSeed).
  /** Sends made meanwhile: held (the queue is not open) until the connection takes the queue over and opens it. */
  private readonly sends = new SendQueue();
  private waiting: RecvRequest | null = null;
  private early: Uint8Array[] | null = null;
  private target: Address | null = null;
  private standInLocal: Address | null = null;
  private standInRemote: Address | null = null;
  private hostAsWritten: string | undefined = undefined;
  private ticket: ConnectionTicket | null = null;

  constructor(
    private readonly host: StreamHost,
    private readonly transport: StreamTransport,
    private readonly limits: StreamLimits,
  ) {}

  // ---- facts (nothing is connected yet) ----------------------------------------------

  get bytesSent(): number {
    return 0;
  }
  get bytesReceived(): number {
    return 0;
  }
  get session(): SecureSession | null {
    return null;
  }
  get nodeSocket(): Socket | null {
    return this.node;
  }
  get peerEnded(): boolean {
    return this.eof;
  }
  queuedSendBytes(): number {
    return this.sends.queuedBytes;
  }
  readAheadBytes(): number {
    let held = 0;
    if (this.early) for (const chunk of this.early) held += chunk.byteLength;
    return held;
  }

  // ---- connect() ---------------------------------------------------------------------

  /** `connect()`: resolve, open, (TLS) handshake; bounded by `connectTimeoutMs`, then `handshakeTimeoutMs`. */
  connect(dialer: StreamDialer, address: string, serverName: string | undefined): void {
    const host = this.host;
    host.setState('resolving', address);
    host.markConnectStart();
    const endpoint = dialer.parseConnect(address, host.ipv6);
    if (isAddressError(endpoint)) {
      host.trace(`connect(${JSON.stringify(address)}): ${endpoint.error}`);
      host.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    const ms = this.limits.connectTimeoutMs;
    this.startTimer(ms, () => {
      host.trace(`connect to ${address} timed out after ${ms} ms (ETIMEDOUT)`);
      host.noteError('ETIMEDOUT');
      this.fail(ShutdownReason.ConnectFailed);
    });
    resolveEndpoint(endpoint, host.ipv6, (err, resolved) => {
      if (host.state !== 'resolving') return; // shut down or timed out meanwhile
      if (err || !resolved) {
        host.trace(`connect: cannot resolve ${address}: ${host.codeOf(err)}`);
        this.fail(ShutdownReason.ConnectFailed);
        return;
      }
      if (host.shutdownRequested && this.sends.heldCount === 0) {
        this.fail(ShutdownReason.Normal);
        return;
      }
      this.hostAsWritten = 'host' in endpoint ? endpoint.host : undefined;
      if ('path' in endpoint) {
        this.standInRemote = { address: endpoint.path, port: 0 };
        this.standInLocal = { address: '', port: 0 };
      }
      this.open(dialer, resolved, { server: false, serverName, hostAsWritten: this.hostAsWritten });
    });
  }

  private open(dialer: StreamDialer, endpoint: ResolvedEndpoint, role: SecureRole): void {
    const host = this.host;
    let opened: { socket: Socket; ready: string };
    try {
      opened = dialer.dial(endpoint, host.options, role, DIRECT_READ);
    } catch (err) {
      host.trace(`connect: cannot open a socket: ${host.codeOf(err)} ${(err as Error).message}`);
      this.fail(reasonForError(err, 'connect'));
      return;
    }
    host.setState('connecting');
    // An IPv4 literal is the peer's address as getpeername would give it (IPv6 is read back in
    // Node's canonical form; 0.0.0.0 reaches the loopback address).
    if ('host' in endpoint && endpoint.host !== '0.0.0.0' && isIPv4(endpoint.host)) this.target = { address: endpoint.host, port: endpoint.port };
    const sock = opened.socket;
    this.node = sock;
    attach(sock, this);
    // Shared listeners (no closures per connection); each event comes once per Node socket.
    this.handshakeAfterConnect = opened.ready !== 'connect';
    sock.on('connect', onNodeConnect);
    if (this.handshakeAfterConnect) sock.on(opened.ready, onNodeReady);
  }

  /** Node's 'connect' of the socket this connector opened. */
  handleConnect(): void {
    this.host.markConnected();
    if (!this.handshakeAfterConnect) this.connected(this.node!, 'connect', true);
    else if (this.host.state === 'connecting') this.startHandshake();
  }

  /** Node's ready event ('secureConnect') of a socket that needed a handshake after 'connect'. */
  handleReady(): void {
    this.connected(this.node!, 'connect', true);
  }

  // ---- handshakes over a connected plain socket ----------------------------------------

  /** An accepted connection of a secure transport: the server side of the handshake, then the connection. */
  accept(raw: Socket, ticket: ConnectionTicket, ends: { local: Address; remote: Address } | null): void {
    this.ticket = ticket;
    this.standInLocal = ends?.local ?? null;
    this.standInRemote = ends?.remote ?? null;
    this.startHandshake();
    raw.on('error', ignoreError); // errors during the handshake surface through `done`
    this.handshaking = raw;
    this.transport.securer!.secure(raw, { server: true }, this.host.options, (err, secured) => this.secured(raw, err, secured, 'accept'));
  }

  /**
   * STARTTLS: takes over `handed` and runs the handshake as client or server. Queued sends of
   * the old socket go first (contract §6): the handshake starts once Node has written them.
   */
  upgrade(handed: HandedOver, role: SecureRole): void {
    this.ticket = handed.ticket;
    const { sock, readAhead } = handed;
    const start = (): void => {
      if (this.host.state !== 'handshaking') return;
      // Bytes read ahead were meant for the TLS layer (an early ClientHello, or pipelined
      // plaintext that must fail the handshake): put them back in front of the stream.
      for (let i = readAhead.length - 1; i >= 0; i--) sock.unshift(readAhead[i]);
      this.transport.securer!.secure(sock, role, this.host.options, (err, secured) => this.secured(sock, err, secured, 'upgrade'));
    };
    this.startHandshake();
    sock.on('error', ignoreError);
    this.handshaking = sock; // ours from now on: a failure or time-out closes it
    if (handed.eof || sock.destroyed) {
      this.host.trace('upgradeToTls: the peer had already closed the connection');
      this.fail(ShutdownReason.TlsHandshakeFailed);
      return;
    }
    if (sock.writableLength > 0) sock.write(EMPTY, start);
    else start();
  }

  /** From here until the secure socket is ready, a failure is a handshake failure; bounded. */
  private startHandshake(): void {
    const host = this.host;
    host.setState('handshaking');
    host.markHandshakeStart();
    const ms = this.limits.handshakeTimeoutMs;
    this.startTimer(ms, () => {
      host.trace(`TLS handshake not finished within ${ms} ms (ERR_TLS_HANDSHAKE_TIMEOUT)`);
      host.noteError('ERR_TLS_HANDSHAKE_TIMEOUT');
      this.fail(ShutdownReason.TlsHandshakeFailed);
    });
  }

  private secured(raw: Socket, err: NodeJS.ErrnoException | null, secured: Socket | undefined, kind: Completion): void {
    this.handshaking = null;
    const host = this.host;
    if (host.state !== 'handshaking') {
      (secured ?? raw).destroy(); // timed out or shut down meanwhile
      return;
    }
    if (err || !secured) {
      const reason = reasonForError(err, 'handshake');
      host.trace(`${kind === 'upgrade' ? 'STARTTLS' : 'TLS'} handshake failed: ${host.codeOf(err)} ${err?.message ?? ''} -> ${reason}`);
      raw.destroy();
      this.fail(reason);
      return;
    }
    readDirectly(secured, DIRECT_READ, true);
    this.connected(secured, kind, false);
  }

  /** The stream carries data: the connection takes over, with everything kept meanwhile. */
  private connected(sock: Socket, kind: Completion, fromEvent: boolean): void {
    const host = this.host;
    if (host.state !== 'connecting' && host.state !== 'handshaking') return;
    this.clearTimer();
    const connection = new Connection(host, this.transport, sock, this.limits, {
      sends: this.sends,
      waiting: this.waiting,
      early: this.early,
      target: this.target,
      standInLocal: this.standInLocal,
      standInRemote: this.standInRemote,
      hostAsWritten: this.hostAsWritten,
      ticket: this.ticket,
    });
    this.ticket = null;
    if (sock === this.node) setOwner(sock, connection);
    else attach(sock, connection);
    this.node = null;
    host.become(connection);
    connection.start(kind, fromEvent);
  }

  // ---- what the app does meanwhile ----------------------------------------------------

  /** Queued (a copy: the caller may reuse `data` at once), sent in order once connected. */
  send(data: Uint8Array, len: number): void {
    this.sends.push(sendPool.copy(data, len)); // held: the queue opens when the connection is up
  }

  /** Kept, and served once the connection is reported. */
  recv(buffer: Uint8Array, len: number, partial: boolean): void {
    if (this.waiting) throw new SocketStateError(SocketErrorCode.RecvPending, 'recv() while another recv is pending');
    this.waiting = { buffer, len, partial, filled: 0, detached: false };
  }

  cancelPendingRecv(keepBytes: boolean): void {
    const req = this.waiting;
    if (!req) return;
    this.waiting = null;
    const host = this.host;
    host.emit((user) => user.socketRecvCanceled?.(host, req.buffer));
    if (keepBytes && isDetached(req)) host.trace('recv cancelled: its buffer was detached or shrunk while pending; 0 bytes wait for the next recv');
  }

  /**
   * While connecting, sends queued before the connection was up are still delivered if it comes
   * up (bounded by the time-outs); with nothing queued there is nothing to wait for.
   */
  shutdown(): void {
    if (this.sends.heldCount === 0) this.fail(ShutdownReason.Normal);
    else this.host.trace('shutdown() while connecting: queued sends go out once connected');
  }

  // ---- Node's events while connecting ---------------------------------------------------

  handleData(chunk: Buffer): void {
    this.keep(chunk);
  }

  handleRead(n: number, scratch: Uint8Array): boolean {
    this.keep(Buffer.from(scratch.subarray(0, n))); // the scratch buffer is reused: copy
    return true;
  }

  /** Bytes before the connection took over (not expected: Node reports the connection first): the connection gets them. */
  private keep(chunk: Uint8Array): void {
    if (this.host.shutdownRequested || this.host.ended) return;
    (this.early ??= []).push(chunk);
  }

  handleEnd(): void {
    this.eof = true;
    const host = this.host;
    if (host.ended) {
      this.node?.destroy();
      return;
    }
    if (host.shutdownRequested) return;
    if (host.state === 'handshaking') {
      // BY_PEER is for a connection that was up; one that ends inside the handshake failed it.
      host.trace('the peer closed the connection during the TLS handshake');
      this.fail(ShutdownReason.TlsHandshakeFailed);
      return;
    }
    host.trace(`the peer closed its side (${this.readAheadBytes()} bytes still to deliver)`);
    host.reportShutdown(ShutdownReason.ByPeer);
  }

  handleError(err: NodeJS.ErrnoException): void {
    const host = this.host;
    if (handledWhileClosing(host, err, (reason) => this.fail(reason))) return;
    const phase = host.state === 'handshaking' ? 'handshake' : 'connect';
    const reason = reasonForError(err, phase);
    host.trace(`${phase} error ${host.codeOf(err)} (${err.message}) -> ${reason}`);
    this.fail(reason);
  }

  handleClose(): void {
    const host = this.host;
    if (host.ended || this.eof) return;
    // A close with no 'error' first: the connection failed.
    const reason =
      host.state === 'connecting'
        ? ShutdownReason.ConnectFailed
        : host.state === 'handshaking'
          ? ShutdownReason.TlsHandshakeFailed
          : host.shutdownRequested
            ? ShutdownReason.Normal
            : ShutdownReason.Lost;
    host.trace(`closed unexpectedly -> ${reason}`);
    this.fail(reason);
  }

  // ---- the end -------------------------------------------------------------------------

  /** Ends the socket now: what is being connected is destroyed and `reason` reported. */
  private fail(reason: ShutdownReason): void {
    this.clearTimer();
    this.node?.destroy();
    // A handshake on a socket not attached yet (server side, STARTTLS): close it too, or a
    // time-out or shutdown would report the end and leave the connection open.
    this.handshaking?.destroy();
    this.handshaking = null;
    this.host.reportShutdown(reason);
  }

  onEnded(): void {
    this.clearTimer();
    this.sends.discard();
    this.waiting = null;
    this.early = null;
    this.ticket?.ended();
    this.ticket = null;
    // The connection never came up: nothing to flush or linger for.
    const sock = this.node;
    if (sock && !sock.destroyed) sock.destroy();
  }

  private startTimer(ms: number, fire: () => void): void {
    this.clearTimer();
    this.timer = armTimeout(ms, fire);
  }

  private clearTimer(): void {
    this.timer = disarmTimeout(this.timer);
  }
}

// Node calls event listeners with the Node socket as `this`; once the connection took over, the owner is no connector.
function onNodeConnect(this: Socket): void {
  const owner = ownerOf(this);
  if (owner instanceof Connector) owner.handleConnect();
}
function onNodeReady(this: Socket): void {
  const owner = ownerOf(this);
  if (owner instanceof Connector) owner.handleReady();
}
