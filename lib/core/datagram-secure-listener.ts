import { ISocket, ListenerStats, LogFlag, ShutdownReason, SocketOptions, SocketUser, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { DatagramBase } from './datagram-base';
import { DatagramListener, ListenerHost, PeerPath } from './datagram-listener';
import { HostPort } from './datagram-path';
import { Datagram } from './datagram-queue';
import { SecureDatagramSocket } from './datagram-secure';
import { DatagramGate, DatagramSession } from './datagram-session';
import { DEFAULT_MAX_HANDSHAKES } from './defaults';
import { DTLS_TRANSITIONS, TransitionTable } from './socket-state';
import { kUpgradeTo } from './upgrade';
import { checkCount, checkUser } from './validate';

/** How long new peers' sessions may start in one turn of the event loop (at least one starts). */
const START_BUDGET_MS = 10;

/** The datagrams without exact repeats (a client's retransmitted ClientHello while its session waited to start). */
function distinct(held: Datagram[]): Datagram[] {
  const seen = new Set<string>();
  return held.filter((d) => {
    const key = Buffer.from(d.data.buffer, d.data.byteOffset, d.data.byteLength).toString('latin1');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** One peer of the DTLS listener, from its first datagram to the app's decision. */
interface Pending {
  socket: SecureDatagramSocket;
  phase: 'handshaking' | 'offered' | 'handed';
}

/**
 * The DTLS listener (`listen()` on a bound UDP socket, then `upgradeToTls(it, user, { serverSide: true, context })`):
 * it takes over the UDP socket's {@link DatagramListener}. A datagram from an unknown peer first
 * meets the stateless cookie gate ({@link DatagramGate}, RFC 6347 §4.2.1): garbage is dropped, a
 * ClientHello without a valid cookie is answered by a HelloVerifyRequest from the shared handle,
 * both with no state kept (counted in `garbageDatagrams`). A ClientHello with a valid cookie
 * gives the peer a DTLS server socket of its own over its {@link PeerPath} at once (no offer
 * yet), which runs the rest of the handshake; a peer whose handshake completes is
 * offered in `socketListenResult`, and `accept(user)` hands that socket to `user`
 * (`socketAcceptComplete`); `accept(null)` closes it (close_notify: the client ends BY_PEER).
 *
 * Bounds: at most `maxHandshakes` handshakes in progress and `maxConnections` peers offered or
 * accepted; a datagram from one more new peer is dropped with no state kept (counted in
 * `refusedDatagrams`). A handshake that does not finish within `handshakeTimeoutMs` ends its
 * socket and frees the peer's entry.
 */
export class SecureDatagramListener extends DatagramBase {
  protected readonly flag = LogFlag.Tls;

  private readonly pending = new Set<Pending>();
  private handshakes = 0;
  /** Admitted peers whose session has not started yet (see {@link SecureDatagramListener.startSoon}). */
  private readonly starts: Array<() => void> = [];
  private startsScheduled = false;
  /** Datagrams from unknown peers that admitted nothing (no ClientHello: dropped; no valid cookie: answered), with no state kept. */
  private garbage = 0;
  private offered = 0;
  private window: { pending: Pending; decided: boolean } | null = null;
  private readonly maxHandshakes: number;
  private readonly maxConnections: number;
  /** The options of the per-peer DTLS sockets. */
  private readonly peerOptions: SocketOptions;

  constructor(
    user: USocket,
    options: SocketOptions,
    private readonly listener: DatagramListener,
    private readonly gate: DatagramGate,
    private readonly makeSession: () => DatagramSession,
  ) {
    super(user, options);
    this.maxHandshakes = checkCount('maxHandshakes', options.maxHandshakes, DEFAULT_MAX_HANDSHAKES, 1);
    this.maxConnections = options.maxConnections ?? Infinity;
    this.peerOptions = this.handOverOptions;
    this.register();
  }

  protected get transitions(): TransitionTable {
    return DTLS_TRANSITIONS;
  }

  /** @internal Takes over the UDP socket's listener. */
  start(local: HostPort): void {
    this.modeValue = 'server';
    this.addresses.local = local;
    const host: ListenerHost = {
      socket: this,
      post: (call) => this.startSoon(() => call(this.internalUser)),
      trace: (m) => this.trace(m),
      makeAccepted: (_user, path, held) => this.startPeer(path, held),
      admit: (address, port, data) => this.admit(address, port, data),
    };
    this.listener.setHost(host);
    this.setState('listening', `DTLS listener on ${local.address}:${local.port} (at most ${this.maxHandshakes} handshakes at once)`);
  }

  /**
   * A new peer's session starts in a later turn of the event loop, at most
   * {@link START_BUDGET_MS} of them per turn (at least one). Starting one costs several
   * milliseconds (the engine, a key pair, a signature); 200 peers admitted at once used to keep
   * the loop from reading the shared socket for seconds, while their retransmissions filled the
   * socket's receive buffer (the OS then drops datagrams of any peer, application data too).
   * Meanwhile the peer's datagrams wait in its queue (`datagramQueueLength`).
   */
  private startSoon(start: () => void): void {
    this.starts.push(start);
    if (this.startsScheduled) return;
    this.startsScheduled = true;
    setImmediate(this.runStarts);
  }

  private readonly runStarts = (): void => {
    const until = performance.now() + START_BUDGET_MS;
    do this.starts.shift()?.();
    while (this.starts.length > 0 && performance.now() < until);
    if (this.starts.length > 0) setImmediate(this.runStarts);
    else this.startsScheduled = false;
  };

  /** The listener's offer of a new peer is taken at once: its handshake is the admission. */
  private readonly internalUser = {
    socketShutdown: () => {},
    socketListenResult: () => this.listener.accept({ socketShutdown: () => {} }),
  } as SocketUser as USocket;

  /**
   * A datagram from a peer the listener does not know: the stateless cookie gate first (no state
   * for a ClientHello without our cookie, nor for garbage), then the bounds.
   */
  private admit(address: string, port: number, data: Buffer): boolean | 'dropped' {
    if (this.ignoresCalls) return false;
    const verdict = this.gate.check(data, address, port, (reply) => this.listener.sendStateless(reply, address, port));
    if (verdict !== 'admit') {
      const n = ++this.garbage;
      if ((n & (n - 1)) === 0)
        this.trace(
          `${verdict === 'answered' ? 'answered a ClientHello without a valid cookie' : 'dropped a datagram that is no ClientHello'} from ${address}:${port}; ${n} garbage datagrams so far`,
        );
      return 'dropped';
    }
    const handshakes = this.handshakes + this.starts.length;
    if (handshakes >= this.maxHandshakes) {
      this.trace(`maxHandshakes ${this.maxHandshakes} reached: dropped a datagram from ${address}:${port}`);
      return false;
    }
    return handshakes + this.offered + this.connectionCount < this.maxConnections;
  }

  /** A new peer: a DTLS server socket over its path, running its handshake; offered once it is done. */
  private startPeer(path: PeerPath, held: Datagram[]): SecureDatagramSocket {
    const entry: Pending = { socket: null as unknown as SecureDatagramSocket, phase: 'handshaking' };
    const user = {
      socketUpgradeToTlsComplete: () => this.handshakeDone(entry),
      socketShutdown: () => this.peerGone(entry),
    } as SocketUser as USocket;
    const socket = new SecureDatagramSocket(user, this.peerOptions);
    entry.socket = socket;
    this.pending.add(entry);
    this.handshakes++;
    const peer = path.remoteAddress();
    socket.start({ path, queued: distinct(held), peer, connected: true, hostAsWritten: undefined, options: this.peerOptions }, this.makeSession(), true);
    return socket;
  }

  private handshakeDone(entry: Pending): void {
    if (entry.phase !== 'handshaking') return;
    this.handshakes--;
    if (this.ignoresCalls) {
      this.release(entry);
      entry.socket.shutdown();
      return;
    }
    entry.phase = 'offered';
    this.offered++;
    this.emit((user) => this.offer(user, entry));
  }

  private offer(user: USocket, entry: Pending): void {
    if (entry.phase !== 'offered') return; // it ended meanwhile
    const window = { pending: entry, decided: false };
    this.window = window;
    try {
      user.socketListenResult?.(this, entry.socket.remoteAddress ?? '', entry.socket.remotePort ?? 0);
    } finally {
      this.window = null;
      if (!window.decided) this.deny(entry, 'no accept() in socketListenResult');
    }
  }

  /** `accept()` inside `socketListenResult`: the handshaken DTLS socket goes to `remoteUser`; null closes it. */
  override accept(remoteUser: USocket | SocketUser | null): void {
    this.throwIfTakenOver('accept');
    const window = this.window;
    if (!window) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    if (window.decided) throw new SocketStateError(SocketErrorCode.AlreadyAccepted, 'accept() twice for one peer');
    if (remoteUser === null) {
      window.decided = true;
      this.deny(window.pending, 'accept(null)');
      return;
    }
    checkUser('accept', remoteUser);
    window.decided = true;
    const entry = window.pending;
    this.release(entry);
    entry.phase = 'handed';
    entry.socket.handTo(remoteUser as USocket);
  }

  private deny(entry: Pending, why: string): void {
    this.trace(`denied a DTLS peer (${why})`);
    this.release(entry);
    entry.socket.shutdown(); // close_notify: the client ends BY_PEER
  }

  /** An offered entry leaves the offered count. */
  private release(entry: Pending): void {
    if (entry.phase === 'offered') this.offered--;
    entry.phase = 'handed';
    this.pending.delete(entry);
  }

  /** A peer's socket ended before it was handed over (handshake failed or timed out, or denied). */
  private peerGone(entry: Pending): void {
    if (entry.phase === 'handshaking') this.handshakes--;
    if (entry.phase === 'offered') this.offered--;
    entry.phase = 'handed';
    this.pending.delete(entry);
  }

  // ---- facts ---------------------------------------------------------------------------------

  /** Accepted DTLS sockets still open. */
  override get connectionCount(): number {
    return Math.max(0, this.listener.live - this.handshakes - this.offered);
  }

  protected override listenerStats(): ListenerStats | null {
    return { ...this.listener.stats(), live: this.connectionCount, garbageDatagrams: this.garbage, handshaking: this.handshakes + this.starts.length };
  }

  // ---- what a listener does not do -------------------------------------------------------------

  override listen(): void {
    this.throwIfTakenOver('listen');
    throw new SocketStateError(SocketErrorCode.AlreadyListening, 'listen() on a DTLS socket: this one is a DTLS listener already');
  }

  /** @internal */
  [kUpgradeTo](): ISocket {
    throw new SocketStateError(SocketErrorCode.NotSupported, 'upgradeToTls: the socket is already a DTLS listener');
  }

  connect(): void {
    this.throwIfTakenOver('connect');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'connect() on a DTLS listener');
  }

  bind(): void {
    this.throwIfTakenOver('bind');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'bind() on a DTLS listener');
  }

  send(): void {
    this.throwIfTakenOver('send');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'send() on a DTLS listener: each peer talks through its accepted socket');
  }

  override sendTo(): void {
    this.throwIfTakenOver('sendTo');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'sendTo() on a DTLS listener: each peer talks through its accepted socket');
  }

  override recv(): void {
    this.throwIfTakenOver('recv');
    throw new SocketStateError(SocketErrorCode.WrongMode, 'recv() on a DTLS listener: each peer talks through its accepted socket');
  }

  /** @internal */
  transmit(): void {}
  /** @internal */
  sendFinished(): void {}
  /** @internal The listener owns the handle: nothing comes here. */
  datagramArrived(): void {}
  /** @internal */
  pathError(): void {}

  // ---- the end -------------------------------------------------------------------------------------

  /** No more offers; handshakes in progress and undecided peers end; accepted sockets live on. */
  protected override beginClose(): void {
    this.reportShutdown(ShutdownReason.Normal);
  }

  protected override onEnded(): void {
    this.starts.length = 0; // admitted peers whose session has not started: the listener forgets them below
    for (const entry of [...this.pending]) {
      this.peerGone(entry);
      entry.socket.shutdown();
    }
    this.listener.close();
    super.onEnded();
  }
}
