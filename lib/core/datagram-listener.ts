import { ListenerStats, SocketUser, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import { DatagramHandle, DatagramSink, GroupOptions, HostPort, SendDone } from './datagram-path';
import { Datagram } from './datagram-queue';
import { checkUser } from './validate';

/**
 * The datagram listener, written once for UDP and DTLS: it owns a bound handle, demultiplexes
 * what arrives by peer (address and port), offers each new peer in `socketListenResult`, and
 * gives each accepted peer a socket of its own over a {@link PeerPath}: one peer's slot of the
 * shared handle. The per-peer socket is the handle's {@link DatagramSink} for that peer's
 * datagrams only, and sends through the shared handle to that peer only.
 *
 * Bounds: at most `maxConnections` peers accepted or offered (a datagram from one more peer is
 * dropped and counted in `refusedDatagrams`, and no state is kept for it); an offered peer's
 * datagrams wait in a queue of `datagramQueueLength` until the decision; each accepted socket
 * has its own receive queue of that length (one peer's flood fills its own queue only); denied
 * peers are remembered (their datagrams dropped and counted) for `idleTimeoutMs`, at most
 * {@link MAX_DENIED_PEERS} of them, the oldest forgotten first.
 */
export const MAX_DENIED_PEERS = 4096;

/** What a listener needs from the listening socket that owns it. */
export interface ListenerHost {
  /** Posts a call of the listening socket's user (`socketListenResult`). */
  post(call: (user: USocket) => void): void;
  /** The listening socket, as `socketListenResult` names it. */
  readonly socket: unknown;
  trace(message: string): void;
  /**
   * Makes the per-peer socket of an accepted peer for `user`, over `path`, with the datagrams
   * that arrived before the decision; returns its sink. Throws if it cannot (the IoMux was
   * terminated): the peer is then denied.
   */
  makeAccepted(user: USocket, path: PeerPath, held: Datagram[]): DatagramSink;
  /**
   * Optional gate before any state is kept for a new peer (the DTLS listener's cookie gate and
   * its bounds on handshakes and peers), given the peer's first datagram: false drops the
   * datagram, counted in `refusedDatagrams`; 'dropped': the host dealt with it (answered it
   * statelessly, or counted it as garbage) and nothing is kept.
   */
  admit?(address: string, port: number, data: Buffer): boolean | 'dropped';
}

/** Admission before an offer: a plain UDP listener offers every peer at once; DTLS runs a handshake first (see `ListenerGate`). */
export interface ListenerLimits {
  maxConnections: number;
  /** Datagrams kept per offered peer until the decision (accepted sockets have their own queue of the same length). */
  queueLength: number;
  /** A silent accepted peer's socket ends LOST after this; a denied peer is forgotten after it. 0: never. */
  idleTimeoutMs: number;
}

type PeerKind = 'offered' | 'accepted' | 'denied';

/** One peer the listener knows. */
export interface Peer {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  kind: PeerKind;
  /** Offered: datagrams waiting for the decision. */
  held: Datagram[];
  /** Accepted: where its datagrams go (the socket, or its DTLS successor; null during a hand-over). */
  sink: DatagramSink | null;
  /** When its last datagram came (accepted), or when it was denied (ms, performance.now()). */
  at: number;
  path: PeerPath | null;
}

/** The datagram totals a datagram listener adds to {@link ListenerStats}. */
export interface DatagramListenerTotals {
  /** Datagrams of denied peers, dropped. */
  deniedDatagrams: number;
  /** Datagrams of peers that were not offered (maxConnections reached, the listener shut down), dropped. */
  refusedDatagrams: number;
  /** Datagrams of offered peers beyond the queue, dropped. */
  overflowDatagrams: number;
}

export class DatagramListener implements DatagramSink {
  private readonly peers = new Map<string, Peer>();
  private offeredCount = 0;
  private acceptedCount = 0;
  private deniedCount = 0;
  private window: { peer: Peer; decided: boolean } | null = null;
  private closed = false;
  private handleClosed = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly totals: ListenerStats & DatagramListenerTotals = {
    accepted: 0,
    denied: 0,
    refused: 0,
    live: 0,
    bytesSent: 0,
    bytesReceived: 0,
    deniedDatagrams: 0,
    refusedDatagrams: 0,
    overflowDatagrams: 0,
  };

  constructor(
    private readonly handle: DatagramHandle,
    private host: ListenerHost,
    private readonly limits: ListenerLimits,
  ) {
    handle.setSink(this);
    if (limits.idleTimeoutMs > 0) {
      const every = Math.max(20, Math.min(1000, Math.floor(limits.idleTimeoutMs / 4)));
      this.sweepTimer = setInterval(() => this.sweep(), every);
      this.sweepTimer.unref();
    }
  }

  /** @internal The DTLS listener takes the listener over from the UDP socket that made it (`upgradeToTls` after `listen()`). */
  setHost(host: ListenerHost): void {
    this.host = host;
  }

  /** Accepted per-peer sockets still open. */
  get live(): number {
    return this.acceptedCount;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  stats(): ListenerStats & DatagramListenerTotals {
    return { ...this.totals, live: this.acceptedCount };
  }

  /** The local address of the shared handle. */
  localAddress(): HostPort {
    return this.handle.localAddress();
  }

  // ---- the handle's sink ---------------------------------------------------------------------

  datagramArrived(data: Buffer, address: string, port: number): void {
    const key = keyOf(address, port);
    const peer = this.peers.get(key);
    if (peer !== undefined) {
      switch (peer.kind) {
        case 'accepted':
          peer.at = performance.now();
          this.totals.bytesReceived += data.byteLength;
          peer.sink?.datagramArrived(data, address, port);
          return;
        case 'offered':
          if (peer.held.length >= this.limits.queueLength) this.totals.overflowDatagrams++;
          else peer.held.push({ data, address, port });
          return;
        case 'denied':
          this.totals.deniedDatagrams++;
          return;
      }
    }
    this.admit(key, data, address, port);
  }

  pathError(err: NodeJS.ErrnoException): void {
    // An ICMP error concerns one datagram (of one peer, which one the OS does not say): logged.
    this.host.trace(`listener: error ${err.code ?? ''} (${err.message}); the listener stays open`);
  }

  /** A stateless reply to a peer the listener keeps nothing for (the DTLS HelloVerifyRequest); failures are only logged. */
  sendStateless(data: Buffer, address: string, port: number): void {
    if (this.handleClosed) return;
    this.handle.send(data, port, address, (err) => {
      if (err) this.host.trace(`listener: a stateless reply to ${address}:${port} failed: ${err.message}`);
    });
  }

  // ---- offers and accept() ----------------------------------------------------------------

  private admit(key: string, data: Buffer, address: string, port: number): void {
    if (this.closed) {
      this.totals.refusedDatagrams++;
      return;
    }
    if (this.acceptedCount + this.offeredCount >= this.limits.maxConnections) {
      const n = ++this.totals.refusedDatagrams;
      if ((n & (n - 1)) === 0)
        this.host.trace(`listener: maxConnections ${this.limits.maxConnections} reached: dropped a datagram from ${address}:${port}; ${n} so far`);
      return;
    }
    const admitted = this.host.admit ? this.host.admit(address, port, data) : true;
    if (admitted !== true) {
      if (admitted === false) this.totals.refusedDatagrams++;
      return;
    }
    const peer: Peer = { key, address, port, kind: 'offered', held: [{ data, address, port }], sink: null, at: performance.now(), path: null };
    this.peers.set(key, peer);
    this.offeredCount++;
    this.host.post((user) => this.decide(user, peer));
  }

  /** At delivery: `socketListenResult` inside an accept window; no decision denies. */
  private decide(user: USocket, peer: Peer): void {
    if (peer.kind !== 'offered' || this.peers.get(peer.key) !== peer) return; // the listener closed meanwhile
    if (this.closed) {
      this.forget(peer);
      this.totals.refused++;
      return;
    }
    const window = { peer, decided: false };
    this.window = window;
    try {
      user.socketListenResult?.(this.host.socket as never, peer.address, peer.port);
    } finally {
      this.window = null;
      if (!window.decided) this.deny(peer, 'no accept() in socketListenResult');
    }
  }

  /** `accept()` inside `socketListenResult`. */
  accept(remoteUser: USocket | SocketUser | null): void {
    const window = this.window;
    if (!window) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    if (window.decided) throw new SocketStateError(SocketErrorCode.AlreadyAccepted, 'accept() twice for one peer');
    const peer = window.peer;
    if (remoteUser === null) {
      window.decided = true;
      this.deny(peer, 'accept(null)');
      return;
    }
    checkUser('accept', remoteUser);
    if (this.closed) {
      window.decided = true;
      this.deny(peer, 'accept() after the listener was shut down');
      return;
    }
    const path = new PeerPath(this, peer, this.handle);
    const held = peer.held;
    peer.held = [];
    peer.path = path;
    peer.kind = 'accepted';
    this.offeredCount--;
    this.acceptedCount++;
    peer.at = performance.now();
    try {
      // A SocketUser is a USocket whose callbacks may be missing: every call is made with ?.().
      peer.sink = this.host.makeAccepted(remoteUser as USocket, path, held);
    } catch (err) {
      peer.kind = 'offered';
      peer.path = null;
      this.offeredCount++;
      this.acceptedCount--;
      throw err; // the window's finally denies the peer
    }
    for (const d of held) this.totals.bytesReceived += d.data.byteLength;
    window.decided = true;
    this.totals.accepted++;
  }

  private deny(peer: Peer, why: string): void {
    this.totals.denied++;
    this.host.trace(`listener: denied ${peer.address}:${peer.port} (${why})`);
    this.offeredCount--;
    peer.held = [];
    if (this.closed) {
      this.peers.delete(peer.key);
      return;
    }
    peer.kind = 'denied';
    peer.at = performance.now();
    this.deniedCount++;
    if (this.deniedCount > MAX_DENIED_PEERS) this.forgetOldestDenied();
  }

  private forgetOldestDenied(): void {
    for (const p of this.peers.values()) {
      if (p.kind === 'denied') {
        this.forget(p);
        return;
      }
    }
  }

  /** Removes a peer that is offered or denied (an accepted one leaves by {@link DatagramListener.peerEnded}). */
  private forget(peer: Peer): void {
    this.peers.delete(peer.key);
    if (peer.kind === 'denied') this.deniedCount--;
    else if (peer.kind === 'offered') this.offeredCount--;
  }

  // ---- per-peer paths -------------------------------------------------------------------------

  /** @internal An accepted peer's socket released its path: the peer is forgotten (a later datagram of it is a new peer). */
  peerEnded(peer: Peer, path: PeerPath): void {
    if (peer.path !== path || this.peers.get(peer.key) !== peer) return;
    this.peers.delete(peer.key);
    peer.path = null;
    peer.sink = null;
    this.acceptedCount--;
    if (this.closed && this.acceptedCount === 0) this.closeHandle();
  }

  /** @internal */
  peerSent(n: number): void {
    this.totals.bytesSent += n;
  }

  /** Silent accepted peers end LOST; denied peers are forgotten, after `idleTimeoutMs`. */
  private sweep(): void {
    const limit = this.limits.idleTimeoutMs;
    const now = performance.now();
    const lost: Peer[] = [];

    for (const p of this.peers.values()) {
      if (now - p.at < limit) continue;
      if (p.kind === 'denied') this.forget(p);
      else if (p.kind === 'accepted') lost.push(p);
    }
    for (const p of lost) {
      this.host.trace(`listener: ${p.address}:${p.port} silent for ${limit} ms: its socket ends SOCKET_LOST`);
      p.sink?.pathLost?.();
    }
  }

  // ---- the end ---------------------------------------------------------------------------------

  /**
   * The listening socket's `shutdown()` (or its end): no more offers; offered and denied peers
   * are forgotten; accepted sockets live on, and the handle closes when the last of them ends.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.peers.values()]) {
      if (p.kind === 'offered') this.totals.refused++;
      if (p.kind !== 'accepted') this.forget(p);
    }
    if (this.acceptedCount === 0) this.closeHandle();
  }

  private closeHandle(): void {
    if (this.handleClosed) return;
    this.handleClosed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.handle.close();
  }
}

function keyOf(address: string, port: number): string {
  return `${address}|${port}`;
}

/**
 * One accepted peer's slot of the listener's shared handle: sends go to that peer only, and only
 * that peer's datagrams reach the sink. A per-peer socket holds it as a connected socket holds
 * its handle; `bind`/`connect` are never asked of it (the socket is connected from the start).
 */
export class PeerPath implements DatagramHandle {
  private released = false;

  constructor(
    private readonly listener: DatagramListener,
    private readonly peer: Peer,
    private readonly handle: DatagramHandle,
  ) {}

  send(data: Buffer, _port: number | undefined, _address: string | undefined, done?: SendDone): void {
    if (this.released) {
      if (done) queueMicrotask(() => done(new Error('the per-peer path was released')));
      return;
    }
    this.listener.peerSent(data.byteLength);
    this.handle.send(data, this.peer.port, this.peer.address, done);
  }

  setSink(sink: DatagramSink | null): void {
    if (!this.released) this.peer.sink = sink;
  }

  localAddress(): HostPort {
    return this.listener.localAddress();
  }

  remoteAddress(): HostPort {
    return { address: this.peer.address, port: this.peer.port };
  }

  close(): void {
    if (this.released) return;
    this.released = true;
    this.listener.peerEnded(this.peer, this);
  }

  bind(): void {
    throw new Error('internal: a per-peer path is never bound');
  }

  connect(): void {
    throw new Error('internal: a per-peer path is never connected');
  }

  applyGroupOptions(_options: GroupOptions, _receiving: boolean, _refused: (what: string, err: unknown) => void): void {}
}
