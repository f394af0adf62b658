/**
 * One socket under the async layer: the USocket that turns its callbacks into settled
 * promises. Serves a connected stream (`Connection`), a connected UDP/DTLS socket (the same,
 * one datagram per chunk) and a bound UDP socket (`DatagramSocket`).
 *
 * Reading: one app read at a time, one `recv` at a time, issued only while a read waits. A
 * read aborted while its recv is out orphans the recv: `recvCancel()` is called, and if the
 * bytes (or the datagram) arrive anyway they wait in `stash` for the next read, in order. So
 * the layer holds at most one read's worth of bytes besides the socket's own read-ahead.
 */
import { ISocket, ISocketProvider, PeerCertificate, ShutdownReason, SocketStats, USocket } from '../api';
import { SocketErrorCode, SocketStateError } from '../errors';
import type { AbortOptions, Connection, Datagram, DatagramSocket, ReadSomeOptions, StartTlsOptions } from './api';
import { contextOf } from './context';
import { AbortError, checkSignal, cleanEnd, SocketClosedError, toBytes, waiter, Waiter } from './errors';
import { Fifo } from '../util/fifo';

/** The default and largest `max` of a `readSome` (and of a datagram). */
export const DEFAULT_READ_MAX = 65_536;

type Kind = 'stream' | 'datagram' | 'bound';

interface PendingRead {
  readonly w: Waiter<any>;
  readonly exact: boolean;
  readonly n: number;
  readonly buf: Buffer;
  got: number;
  /** Bound UDP: where the datagram came from. */
  from?: { address: string; port: number };
}

/** The socket's user: every callback goes to the AsyncSocket. */
class Bridge extends USocket {
  constructor(private readonly owner: AsyncSocket) {
    super();
  }
  override socketConnectComplete(s: ISocket): void {
    this.owner.opened(s);
  }
  override socketAcceptComplete(s: ISocket): void {
    this.owner.opened(s);
  }
  override socketUpgradeToTlsComplete(s: ISocket): void {
    this.owner.opened(s);
  }
  override socketBindResult(s: ISocket): void {
    this.owner.opened(s);
  }
  override socketAcceptSelectedAlpnProtocol(s: ISocket, protocol: string): boolean {
    return this.owner.acceptAlpn ? this.owner.acceptAlpn(protocol) : true;
  }
  override socketSendResult(): void {
    this.owner.sendResult();
  }
  override socketRecvResult(s: ISocket, buffer: Uint8Array, len: number): void {
    this.owner.recvResult(len, null);
  }
  override socketRecvFromResult(s: ISocket, buffer: Uint8Array, len: number, address: string, port: number): void {
    this.owner.recvResult(len, { address, port });
  }
  override socketRecvCanceled(): void {
    this.owner.recvCanceled();
  }
  override socketShutdown(s: ISocket, reason: ShutdownReason): void {
    this.owner.ended(reason);
  }
}

/** The implementation of {@link Connection} and {@link DatagramSocket}. */
export class AsyncSocket implements Connection, DatagramSocket {
  readonly bridge = new Bridge(this);
  readonly closed: Promise<ShutdownReason>;
  private resolveClosed!: (reason: ShutdownReason) => void;
  private sock: ISocket | null = null;
  private kind: Kind;
  /** The open (connect, accept, bind, upgrade) that waits for its callback. */
  private opening: Waiter<AsyncSocket> | null = null;
  /** Called once the socket is open (the listener's queue). */
  onOpen: ((s: AsyncSocket) => void) | null = null;
  private readonly sends = new Fifo<Waiter<void>>();
  private endReason: ShutdownReason | null = null;
  private endCalled = false;
  /** Upgraded by startTls / wrapped by toMessages: this object is spent, and `end()` ends its successor. */
  private spent = false;
  private successor: { end(): void } | null = null;
  private read_: PendingRead | null = null;
  /** The read whose recv is out on the socket (may no longer be `read_`: orphaned by an abort). */
  private recvOwner: PendingRead | null = null;
  /** Bytes (or one datagram) that arrived for an aborted read. */
  private stash: PendingRead | null = null;
  /** Drain waiters (`startTls` waits until every write was sent). */
  private drained: Array<() => void> = [];

  constructor(
    kind: Kind,
    readonly acceptAlpn: ((protocol: string) => boolean) | null = null,
  ) {
    this.kind = kind;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  // ---- opening --------------------------------------------------------------------------

  /** A promise for the open callback; aborting it shuts the socket down. */
  open(what: string, signal: AbortSignal | undefined, start: () => ISocket): Promise<AsyncSocket> {
    const { w, promise } = waiter<AsyncSocket>(what, signal, () => this.sock?.shutdown());
    if (w.settled) return promise;
    this.opening = w;
    try {
      this.sock = start();
    } catch (err) {
      this.opening = null;
      w.reject(err);
    }
    return promise;
  }

  /** The socket an accept hands over (the listener made the socket). */
  opened(s: ISocket): void {
    this.sock = s;
    const w = this.opening;
    this.opening = null;
    if (w && !w.settled) w.resolve(this);
    this.onOpen?.(this);
  }

  get socket(): ISocket {
    if (!this.sock) throw new SocketStateError(SocketErrorCode.NotConnected, 'the socket is not open yet');
    return this.sock;
  }

  get datagram(): boolean {
    return this.kind !== 'stream';
  }

  // ---- facts ----------------------------------------------------------------------------

  get localAddress(): string | undefined {
    return this.sock?.localAddress;
  }
  get localPort(): number | undefined {
    return this.sock?.localPort;
  }
  get remoteAddress(): string | undefined {
    return this.sock?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.sock?.remotePort;
  }
  get address(): string {
    return this.sock?.getLocalAddress()?.address ?? '';
  }
  get port(): number {
    return this.sock?.getLocalAddress()?.port ?? 0;
  }
  get alpnProtocol(): string | null {
    return this.sock?.alpnProtocol ?? null;
  }
  get peerCertificate(): PeerCertificate | null {
    return this.sock?.getPeerCertificate() ?? null;
  }
  stats(): SocketStats {
    return this.socket.stats();
  }

  private closedError(what: string, partial: Buffer | null = null): SocketClosedError {
    const reason = this.endReason ?? ShutdownReason.Normal;
    return new SocketClosedError(reason, this.sock?.stats().lastErrorCode ?? null, what, partial);
  }

  private checkUsable(what: string): void {
    if (this.spent) throw new SocketStateError(SocketErrorCode.TakenOver, `${what}: this object was upgraded or wrapped; use the new one`);
  }

  // ---- writing --------------------------------------------------------------------------

  write(data: Uint8Array | string, options: AbortOptions = {}): Promise<void> {
    return this.queueSend('write', data, options, (bytes) => this.socket.send(bytes));
  }

  sendTo(data: Uint8Array | string, address: string, port: number, options: AbortOptions = {}): Promise<void> {
    return this.queueSend('sendTo', data, options, (bytes) => this.socket.sendTo(bytes, undefined, address, port));
  }

  private queueSend(what: string, data: Uint8Array | string, options: AbortOptions, send: (bytes: Uint8Array) => void): Promise<void> {
    try {
      this.checkUsable(what);
      const signal = checkSignal(what, options.signal);
      const bytes = toBytes(what, data);
      if (this.endReason !== null || this.endCalled) return Promise.reject(this.closedError(what));
      if (signal?.aborted) return Promise.reject(new AbortError(what, signal.reason));
      if (bytes.byteLength === 0 && this.kind === 'stream') return Promise.resolve();
      send(bytes);
      // Aborting stops the wait; the entry stays to take this send's result, in order.
      const { w, promise } = waiter<void>(what, signal, () => undefined);
      this.sends.push(w);
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  sendResult(): void {
    this.sends.shift()?.resolve();
    if (this.sends.length === 0) for (const f of this.drained.splice(0)) f();
  }

  // ---- reading --------------------------------------------------------------------------

  read(n: number, options: AbortOptions = {}): Promise<Buffer> {
    if (this.kind !== 'stream')
      return Promise.reject(new SocketStateError(SocketErrorCode.NotSupported, 'read(n): a datagram socket reads whole datagrams; use readSome()'));
    if (!Number.isInteger(n) || n < 1) return Promise.reject(new RangeError(`read(n): n must be a whole number >= 1, got ${n}`));
    return this.startRead('read', true, n, options);
  }

  readSome(options: ReadSomeOptions = {}): Promise<Buffer | null> {
    return this.startRead('readSome', false, this.maxOf('readSome', options), options);
  }

  async recvFrom(options: ReadSomeOptions = {}): Promise<Datagram | null> {
    const pending = this.startRead('recvFrom', false, this.maxOf('recvFrom', options), options, true);
    const r = await pending;
    return r as Datagram | null;
  }

  private maxOf(what: string, options: ReadSomeOptions): number {
    const max = options?.max ?? DEFAULT_READ_MAX;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`${what}: max must be a whole number >= 1, got ${max}`);
    return max;
  }

  private startRead(what: string, exact: boolean, n: number, options: AbortOptions, from = false): Promise<any> {
    try {
      this.checkUsable(what);
      const signal = checkSignal(what, options?.signal);
      if (this.read_) throw new SocketStateError(SocketErrorCode.RecvPending, `${what}: a read is pending; one read at a time`);
      if (!this.sock) throw new SocketStateError(SocketErrorCode.NotConnected, `${what}: the socket is not open yet`);
      const { w, promise } = waiter<any>(what, signal, () => this.abortRead(r));
      if (w.settled) return promise;
      const r: PendingRead = { w, exact, n, buf: Buffer.allocUnsafe(n), got: 0 };
      if (from) r.from = { address: '', port: 0 };
      this.read_ = r;
      this.pump();
      return promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Serves the pending read from the stash, or issues its recv (if none is out). */
  private pump(): void {
    const r = this.read_;
    if (!r || this.recvOwner) return;
    const st = this.stash;
    if (st) {
      const take = Math.min(st.got, r.n - r.got);
      st.buf.copy(r.buf, r.got, 0, take);
      r.got += take;
      if (st.from && r.from) r.from = st.from;
      // A datagram is taken whole (cut to n); stream bytes beyond the read stay.
      this.stash = this.kind !== 'stream' || take === st.got ? null : { ...st, buf: st.buf.subarray(take), got: st.got - take };
      if (!r.exact || r.got === r.n) return this.finish(r);
    }
    if (this.endReason !== null || this.endCalled) {
      if (this.endReason !== null) this.settleAtEnd(r);
      return; // after end(): the end comes, and settles the read
    }
    this.recvOwner = r;
    if (this.kind === 'stream') this.socket.recv(r.buf.subarray(r.got), r.n - r.got, !r.exact);
    else this.socket.recv(r.buf, r.n);
  }

  private finish(r: PendingRead): void {
    this.read_ = null;
    let data = r.buf.subarray(0, r.got);
    if (!r.exact && r.got < r.n / 2) data = Buffer.from(data); // a small chunk does not pin a large buffer
    r.w.resolve(r.from ? { data, address: r.from.address, port: r.from.port } : data);
  }

  private abortRead(r: PendingRead): void {
    if (this.read_ !== r) return;
    this.read_ = null;
    // Bytes an exact read had taken from the stash go back in front of it.
    if (r.got > 0) this.stash = { ...r, got: r.got };
    if (this.recvOwner === r) this.sock?.recvCancel();
  }

  recvResult(len: number, from: { address: string; port: number } | null): void {
    const r = this.recvOwner;
    this.recvOwner = null;
    if (!r) return;
    if (from && r.from) r.from = from;
    if (this.read_ !== r) {
      // Orphaned by an abort. A recv is issued only once the stash is spent, so the stash can
      // only hold this read's own first bytes (put back by abortRead): they come first.
      const got = this.kind === 'stream' ? r.got + len : len;
      this.stash = { ...r, buf: r.buf.subarray(0, got), got, from: from ?? undefined };
      this.pump();
      return;
    }
    r.got = this.kind === 'stream' ? r.got + len : len;
    if (r.exact && r.got < r.n) return; // cut short by the peer's close: the end settles it (with `partial`)
    this.finish(r);
  }

  recvCanceled(): void {
    const r = this.recvOwner;
    this.recvOwner = null;
    // Our own cancel (after an abort): a newer read may wait. Else the socket closes: the end settles the read.
    if (r && this.read_ !== r) this.pump();
  }

  private settleAtEnd(r: PendingRead): void {
    this.read_ = null;
    const reason = this.endReason!;
    if (!r.exact && cleanEnd(reason) && r.got === 0) r.w.resolve(null);
    else r.w.reject(this.closedError(r.exact ? 'read' : 'readSome', r.exact ? Buffer.from(r.buf.subarray(0, r.got)) : null));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<any> {
    for (;;) {
      const chunk = this.kind === 'bound' ? await this.recvFrom() : await this.readSome();
      if (chunk === null) return;
      yield chunk;
    }
  }

  // ---- the end --------------------------------------------------------------------------

  end(): void {
    if (this.spent) return this.successor?.end();
    if (this.endCalled) return;
    this.endCalled = true;
    this.sock?.shutdown();
  }

  close(): void {
    this.end();
  }

  ended(reason: ShutdownReason): void {
    this.endReason = reason;
    const w = this.opening;
    this.opening = null;
    if (w) w.reject(this.closedError('open'));
    for (const s of this.sends.drain()) s.reject(this.closedError('write'));
    for (const f of this.drained.splice(0)) f();
    const r = this.read_;
    if (r && !this.recvOwner && !this.stash) this.settleAtEnd(r);
    this.resolveClosed(reason);
  }

  // ---- upgrades -------------------------------------------------------------------------

  /** Hands the socket to a new owner (an upgrade or a message socket): this object is spent. */
  takeOver(what: string, next: { end(): void; readonly closed: Promise<ShutdownReason> }): ISocket {
    this.checkUsable(what);
    if (this.read_ || this.recvOwner) throw new SocketStateError(SocketErrorCode.RecvPending, `${what}: a read is pending`);
    if (this.stash) throw new SocketStateError(SocketErrorCode.RecvPending, `${what}: bytes of an aborted read are still waiting to be read`);
    if (this.sends.length > 0) throw new SocketStateError(SocketErrorCode.RecvPending, `${what}: writes are still pending; await them first`);
    if (this.endReason !== null || this.endCalled) throw this.closedError(what);
    this.spent = true;
    this.successor = next;
    void next.closed.then((reason) => this.resolveClosed(reason));
    return this.socket;
  }

  async startTls(tlsProvider: ISocketProvider, options: StartTlsOptions = {}): Promise<Connection> {
    const signal = checkSignal('startTls', options.signal);
    if (this.sends.length > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    if (signal?.aborted) throw new AbortError('startTls', signal.reason);
    const next = new AsyncSocket(this.kind === 'stream' ? 'stream' : 'datagram', options.acceptAlpn ?? null);
    const { signal: _s, acceptAlpn: _a, tls, ...rest } = options;
    const role = rest.serverSide ? 'server' : 'client';
    const upgrade = { ...rest, context: contextOf(tlsProvider, { context: rest.context, tls: tls && { role, ...tls } }) };
    return next.open('startTls', signal, () => tlsProvider.upgradeToTls(this.takeOver('startTls', next), next.bridge, upgrade));
  }
}
