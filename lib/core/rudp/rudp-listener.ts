/**
 * The rudp listener: the listening socket's UDP handle, demultiplexed by connection ID. A new
 * peer's Initial gets a stateless Retry with a cookie (nothing is kept for it, and the Retry is
 * smaller than the padded Initial: no amplification); an Initial with a valid cookie is offered
 * in `socketListenResult`; `accept(user)` makes an accepted {@link AcceptedRudp} and answers
 * Accept, `accept(null)` (or no call) answers Reject.
 *
 * A known connection ID from another address goes to the connection's {@link PathValidator}
 * (core/rudp/migration.ts): the connection moves only once the new address answers a challenge.
 *
 * It does not reuse `core/datagram-listener.ts`: that one keys peers by address and offers them
 * on their first datagram, while rudp must check a cookie before it keeps any state and keys
 * connections by ID (docs/rudp.md says so).
 */
import { ISocket, ListenerStats, SocketUser, USocket } from '../../api';
import { SocketErrorCode, SocketStateError } from '../../errors';
import { DatagramHandle } from '../datagram-path';
import { checkUser } from '../validate';
import { PathHost, PathValidator } from './migration';
import { CookieJar, INITIAL_SIZE, COOKIE_BYTES, HEADER, newConnectionId, PacketType, readHeader, writeHeader } from './wire';

/** Peers remembered after a decision (their retransmitted Initials get the same answer); the oldest forgotten first. */
export const MAX_REMEMBERED = 4096;

/** What the listener needs of an accepted socket (AcceptedRudp; no import, so no cycle). */
export interface AcceptedRudp {
  startAccepted(
    link: { send(data: Buffer): void; release(): void },
    localCid: number,
    peerCid: number,
    local: { address: string; port: number },
    remote: { address: string; port: number },
  ): void;
  packet(type: PacketType, data: Buffer): void;
  /** The peer moved to `remote` (it answered a path challenge from there). */
  migrated(remote: { address: string; port: number }): void;
  /** The connection's smoothed RTT in ms; null before a sample. */
  pathRtt(): number | null;
}

/** What the listener needs of the listening socket. */
export interface ListeningRudp extends ISocket {
  post(call: (user: USocket) => void): void;
  traceLine(m: string): void;
}

interface Offer {
  key: string;
  address: string;
  port: number;
  clientCid: number;
}
/**
 * One accepted connection as the listener sees it: the validated path (where its packets go and
 * whose packets it takes) and, once a packet came from elsewhere, its path validator. It is the
 * accepted socket's link and the validator's host: one object per connection, no closures.
 */
class Peer implements PathHost {
  largestPn = -1;
  paths: PathValidator | null = null;

  constructor(
    private readonly listener: RudpListener,
    readonly socket: AcceptedRudp,
    readonly localCid: number,
    readonly peerCid: number,
    public address: string,
    public port: number,
  ) {}

  /** A packet from the validated path: the newest packet number is what a migration must beat. */
  fromCurrent(type: PacketType, data: Buffer): void {
    if (type === PacketType.Data && data.byteLength >= HEADER + 4) this.largestPn = Math.max(this.largestPn, data.readUInt32BE(HEADER));
    this.socket.packet(type, data);
  }

  send(buf: Buffer): void {
    this.listener.out(buf, this.address, this.port);
  }
  release(): void {
    this.listener.released(this.localCid);
  }
  sendTo(buf: Buffer, address: string, port: number): void {
    this.listener.out(buf, address, port);
  }
  rttMs(): number | null {
    return this.socket.pathRtt();
  }
  validated(address: string, port: number): void {
    this.listener.moved(this, address, port);
    this.address = address;
    this.port = port;
    this.paths = null;
    this.socket.migrated({ address, port });
  }
}

export class RudpListener {
  private readonly cookies = new CookieJar();
  private readonly conns = new Map<number, Peer>();
  private readonly offered = new Set<string>();
  /** The decision for a peer: the server's connection ID if accepted, 0 if denied. */
  private readonly decided = new Map<string, number>();
  private window: { offer: Offer; decided: boolean } | null = null;
  private closed = false;
  private handleClosed = false;
  private readonly totals: ListenerStats = { accepted: 0, denied: 0, refused: 0, live: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(
    private readonly owner: ListeningRudp,
    private readonly handle: DatagramHandle,
    private readonly makeSocket: (user: USocket) => AcceptedRudp,
    private readonly maxConnections: number,
  ) {}

  get live(): number {
    return this.conns.size;
  }

  stats(): ListenerStats {
    return { ...this.totals, live: this.conns.size };
  }

  arrived(data: Buffer, address: string, port: number): void {
    this.totals.bytesReceived += data.byteLength;
    const h = readHeader(data);
    if (!h) return;
    if (h.dcid !== 0) {
      const c = this.conns.get(h.dcid);
      if (!c) return;
      if (c.address === address && c.port === port) c.fromCurrent(h.type, data);
      else (c.paths ??= new PathValidator(c)).fromOther(h.type, data, address, port);
      return;
    }
    if (h.type !== PacketType.Initial || data.byteLength < INITIAL_SIZE || this.closed) return;
    const key = `${address}|${port}|${h.scid}`;
    const cookieLen = data[HEADER];
    const cookie = cookieLen === COOKIE_BYTES ? data.subarray(HEADER + 1, HEADER + 1 + COOKIE_BYTES) : null;
    if (!cookie || !this.cookies.check(cookie, address, port, h.scid)) {
      const retry = Buffer.alloc(HEADER + COOKIE_BYTES);
      writeHeader(retry, PacketType.Retry, h.scid, 0);
      this.cookies.make(address, port, h.scid).copy(retry, HEADER);
      this.out(retry, address, port);
      return;
    }
    const d = this.decided.get(key);
    if (d !== undefined) return this.answer(d, h.scid, address, port);
    if (this.offered.has(key)) return; // the offer is on its way
    if (this.conns.size + this.offered.size >= this.maxConnections) {
      this.totals.refused++;
      return;
    }
    const offer: Offer = { key, address, port, clientCid: h.scid };
    this.offered.add(key);
    this.owner.post((user) => this.decide(user, offer));
  }

  private decide(user: USocket, offer: Offer): void {
    this.offered.delete(offer.key);
    if (this.closed) return;
    const window = { offer, decided: false };
    this.window = window;
    try {
      user.socketListenResult?.(this.owner, offer.address, offer.port);
    } finally {
      this.window = null;
      if (!window.decided) this.deny(offer);
    }
  }

  accept(remoteUser: USocket | SocketUser | null): void {
    const window = this.window;
    if (!window) throw new SocketStateError(SocketErrorCode.AcceptOutsideListenResult, 'accept() outside socketListenResult');
    if (window.decided) throw new SocketStateError(SocketErrorCode.AlreadyAccepted, 'accept() twice for one peer');
    const offer = window.offer;
    if (remoteUser === null) {
      window.decided = true;
      this.deny(offer);
      return;
    }
    checkUser('accept', remoteUser);
    const socket = this.makeSocket(remoteUser as USocket);
    const serverCid = newConnectionId();
    const { address, port } = offer;
    const peer = new Peer(this, socket, serverCid, offer.clientCid, address, port);
    this.conns.set(serverCid, peer);
    socket.startAccepted(peer, serverCid, offer.clientCid, this.handle.localAddress(), { address, port });
    window.decided = true;
    this.totals.accepted++;
    this.remember(offer.key, serverCid);
    this.answer(serverCid, offer.clientCid, address, port);
  }

  /** @internal A connection moves to a validated new path. */
  moved(peer: Peer, address: string, port: number): void {
    this.owner.traceLine(`connection ${peer.localCid.toString(16)} moved from ${peer.address}:${peer.port} to ${address}:${port}`);
  }

  private deny(offer: Offer): void {
    this.totals.denied++;
    this.owner.traceLine(`denied ${offer.address}:${offer.port}`);
    this.remember(offer.key, 0);
    this.answer(0, offer.clientCid, offer.address, offer.port);
  }

  private remember(key: string, d: number): void {
    this.decided.set(key, d);
    if (this.decided.size > MAX_REMEMBERED) this.decided.delete(this.decided.keys().next().value as string);
  }

  private answer(serverCid: number, clientCid: number, address: string, port: number): void {
    const buf = Buffer.alloc(HEADER);
    writeHeader(buf, serverCid !== 0 ? PacketType.Accept : PacketType.Reject, clientCid, serverCid);
    this.out(buf, address, port);
  }

  /** @internal One datagram from the listener's port. */
  out(buf: Buffer, address: string, port: number): void {
    if (this.handleClosed) return;
    this.totals.bytesSent += buf.byteLength;
    this.handle.send(buf, port, address); // unreported: see RudpSocket.wireNow
  }

  /** @internal An accepted connection ended. */
  released(cid: number): void {
    this.conns.delete(cid);
    if (this.closed && this.conns.size === 0) this.closeHandle();
  }

  /** No more offers; accepted connections live on, and the handle closes after the last. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.totals.refused += this.offered.size;
    this.offered.clear();
    if (this.conns.size === 0) this.closeHandle();
  }

  private closeHandle(): void {
    if (this.handleClosed) return;
    this.handleClosed = true;
    this.handle.close();
  }
}
