import { createSocket, RemoteInfo, Socket as DgramSocket } from 'node:dgram';
import { LookupOneOptions, lookup as dnsLookup } from 'node:dns';
import { isIPv4, isIPv6 } from 'node:net';
import { LogFlag, ShutdownReason, SocketOptions, USocket } from '../api';
import { isAddressError, parseBindHost, parseHostPort, resolveHost } from '../core/address';
import { Datagram } from '../core/datagram-queue';
import { Fifo } from '../core/fifo';
import { DatagramBase } from '../core/datagram-base';
import { sendPool } from '../core/send-pool';
import { SocketErrorCode, SocketStateError } from '../errors';
import { reasonForError } from '../core/os-errors';
import { checkBuffer, checkCount, checkPort, checkString } from '../core/validate';

/** What a UDP socket taken over by a DTLS upgrade hands to its successor. */
export interface HandedDatagram {
  dgram: DgramSocket;
  /** Datagrams received and not read: they belong to the DTLS layer now. */
  queued: Datagram[];
  /** The connected peer, if the socket was connected. */
  peer: { address: string; port: number } | null;
  /** The host the socket's connect() named, as written (a DTLS client verifies it). */
  hostAsWritten: string | undefined;
  connected: boolean;
  options: SocketOptions;
}

/** SO_RCVBUF / SO_SNDBUF: Node's 208 KiB default lost ~23 % of a 512-byte burst here (NODE-PITFALLS). */
export const DEFAULT_UDP_BUFFER = 1024 * 1024;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/**
 * A UDP socket (Node's `dgram`). `bind()` makes it a server that receives from anyone and
 * sends with `sendTo`; `connect()` a client that talks to one peer with `send` and hears only
 * that peer. Each `recv` takes one datagram, cut to the asked length.
 */
export class DatagramSocket extends DatagramBase {
  protected readonly flag = LogFlag.Udp;

  private dgram: DgramSocket | null = null;
  /** Sends made while the connect is on its way. */
  private waitingSends: Buffer[] = [];
  /** Sends handed to dgram whose callback has not come yet, oldest first (shutdown waits for them). */
  private readonly inFlight = new Fifo<Buffer>();
  /** Of those, the oldest ones that went through dgram's own lookup tick (see transmit). */
  private deferredSends = 0;
  /** The last `sendTo` destination that passed the address check. */
  private lastGoodDst: string | undefined;
  private timer: NodeJS.Timeout | null = null;
  private hostAsWritten: string | undefined;
  private readonly recvBufferSize: number;
  private readonly sendBufferSize: number;
  private readonly shutdownTimeoutMs: number;

  constructor(user: USocket, options: SocketOptions) {
    super(user, options);
    this.recvBufferSize = checkCount('recvBufferSize', options.recvBufferSize, DEFAULT_UDP_BUFFER, 1);
    this.sendBufferSize = checkCount('sendBufferSize', options.sendBufferSize, DEFAULT_UDP_BUFFER, 1);
    this.shutdownTimeoutMs = checkCount('shutdownTimeoutMs', options.shutdownTimeoutMs, DEFAULT_SHUTDOWN_TIMEOUT_MS);
    if (options.multicastGroups !== undefined && !Array.isArray(options.multicastGroups)) {
      throw new TypeError('multicastGroups: expected an array of group addresses');
    }
    this.register();
  }

  // ---- read-only facts -----------------------------------------------------------------


  // ---- modes ---------------------------------------------------------------------------

  connect(address: string, serverName?: string): void {
    this.enterClientMode(() => checkString('connect: address', address));
    // Until the connect completed, nobody knows who the peer is: what arrives waits (see onConnected).
    this.receiver.hold();
    this.setState('resolving', address);
    this.markConnectStart();
    const target = parseHostPort(address, this.ipv6);
    if (isAddressError(target)) {
      this.trace(`connect(${JSON.stringify(address)}): ${target.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    this.hostAsWritten = target.host;
    resolveHost(target.host, target.kind, this.ipv6, (err, host) => {
      if (this.state !== 'resolving') return;
      if (err) {
        this.trace(`connect: cannot resolve ${address}: ${this.codeOf(err)}`);
        this.reportShutdown(ShutdownReason.ConnectFailed);
        return;
      }
      if (!this.open(false)) return;
      this.setState('connecting');
      this.applyGroupOptions(this.dgram!); // broadcast must be on before connecting to a broadcast address
      this.dgram!.connect(target.port, host, (connectErr?: Error) => {
        if (!connectErr) {
          this.onConnected();
          return;
        }
        if (this.state !== 'connecting') return;
        const reason = reasonForError(connectErr, 'connect');
        this.trace(`connect error ${this.codeOf(connectErr)} (${connectErr.message}) -> ${reason}`);
        this.reportShutdown(reason);
      });
    });
  }

  private onConnected(): void {
    if (this.state !== 'connecting') return;
    this.markConnected();
    const d = this.dgram!;
    this.local = addressOf(d.address());
    this.peer = addressOf(d.remoteAddress());
    this.setState('connected', `${this.local.address}:${this.local.port} -> ${this.peer.address}:${this.peer.port}`);
    this.emit((user) => {
      if (!this.shutdownCalled) user.socketConnectComplete?.(this);
    });
    this.dropStrangersHeld();
    const waiting = this.waitingSends;
    this.waitingSends = [];
    for (const data of waiting) this.transmit(data);
    if (this.shutdownCalled) this.closeWhenFlushed();
  }

  bind(localAddress?: string | null, localPort?: number, reuseAddr?: boolean): void {
    let port = 0;
    this.enterServerMode(() => {
      checkString('bind: localAddress', localAddress, true);
      port = checkPort('bind', localPort);
      if (reuseAddr !== undefined && typeof reuseAddr !== 'boolean') throw new TypeError('bind: reuseAddr must be a boolean');
    });
    this.setState('binding');
    const host = parseBindHost(localAddress, this.ipv6);
    if (isAddressError(host)) {
      this.trace(`bind(${JSON.stringify(localAddress)}, ${port}): ${host.error}`);
      this.reportShutdown(ShutdownReason.AddressInvalid);
      return;
    }
    resolveHost(host.host, host.kind, this.ipv6, (err, address) => {
      if (this.state !== 'binding') return;
      if (err) {
        this.trace(`bind: cannot resolve ${JSON.stringify(localAddress)}: ${this.codeOf(err)}`);
        this.reportShutdown(ShutdownReason.BindFailed);
        return;
      }
      this.startBind(address, port, reuseAddr === true, true);
    });
  }

  /** Binds the dgram socket; `report` false for the implicit bind of a first `sendTo`. */
  private startBind(address: string, port: number, reuseAddr: boolean, report: boolean): void {
    if (!this.open(reuseAddr)) return;
    this.dgram!.bind({ address, port, exclusive: true }, () => {
      if (this.state !== 'binding') return;
      const d = this.dgram!;
      this.local = addressOf(d.address());
      this.applyGroupOptions(d);
      this.setState('bound', `${this.local.address}:${this.local.port}${report ? '' : ' (implicit, for sendTo)'}`);
      const { address: a, port: p } = this.local;
      if (report) this.emit((user) => user.socketBindResult?.(this, a, p));
    });
  }

  // ---- sending ---------------------------------------------------------------------------

  send(data: Uint8Array, len?: number): void {
    this.throwIfTakenOver('send');
    if (this.modeValue === 'server') throw new SocketStateError(SocketErrorCode.WrongMode, 'send() on a bound UDP socket: use sendTo(), or connect() a socket');
    const n = checkBuffer('send', data, len);
    if (this.ignoresCalls) return;
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'send() on a UDP socket before connect(): use sendTo(), or connect() first');
    const copy = copyOf(data, n);
    if (this.state === 'connected') this.transmit(copy);
    else this.waitingSends.push(copy);
  }

  override sendTo(data: Uint8Array, len: number | undefined, dstAddress: string, dstPort: number): void {
    this.throwIfTakenOver('sendTo');
    if (this.modeValue === 'client') throw new SocketStateError(SocketErrorCode.WrongMode, 'sendTo() on a connected UDP socket: use send()');
    const n = checkBuffer('sendTo', data, len);
    // A server answers the same few peers over and over: the last good address skips the parse.
    if (typeof dstAddress !== 'string' || dstAddress !== this.lastGoodDst) {
      checkString('sendTo: dstAddress', dstAddress);
      if (!(this.ipv6 ? isIPv6(dstAddress) : isIPv4(dstAddress))) {
        throw new TypeError(`sendTo: ${JSON.stringify(dstAddress)} is not an ${this.ipv6 ? 'IPv6' : 'IPv4'} address (the socket's family)`);
      }
      this.lastGoodDst = dstAddress;
    }
    const port = checkPort('sendTo', dstPort);
    if (port === 0) throw new RangeError('sendTo: port 0 is not a destination');
    if (this.ignoresCalls) return;
    if (this.modeValue === 'none') {
      // The first sendTo binds an ephemeral port: server mode, no socketBindResult (§10).
      this.modeValue = 'server';
      this.setState('binding', 'implicit bind for sendTo');
      this.startBind(this.ipv6 ? '::' : '0.0.0.0', 0, false, false);
      if (this.ended) return;
    }
    // dgram queues sends made while its bind is on the way.
    this.transmit(copyOf(data, n), port, dstAddress);
  }

  private transmit(data: Buffer, port?: number, address?: string): void {
    const d = this.dgram!;
    this.inFlight.push(data);
    this.unsentBytes += data.byteLength;
    if (port === undefined) {
      d.send(data, this.onSent);
      return;
    }
    // The address is an IP literal we checked: resolved at once (see `lookup`), so dgram hands
    // the datagram to the OS inside this call instead of a tick later. Not while sends made
    // before the bind completed are still on their way: dgram sends those itself once bound,
    // each a lookup tick later, and this one must not overtake them.
    if (this.state !== 'bound' || this.deferredSends > 0) {
      this.deferredSends++;
      d.send(data, port, address, this.onSent);
      return;
    }
    sendingNow = true;
    try {
      d.send(data, port, address, this.onSent);
    } finally {
      sendingNow = false;
    }
  }

  /**
   * dgram's completion of the oldest send in flight. One shared callback instead of a closure
   * per datagram: dgram completes a socket's sends in the order they were made (a send made
   * while earlier ones wait in libuv's queue is queued behind them; the others complete on the
   * next tick, in call order; {@link DatagramSocket.transmit} keeps a send from overtaking one
   * that waits for dgram's bind or lookup).
   */
  private readonly onSent = (err: Error | null): void => {
    const data = this.inFlight.shift()!;
    if (this.deferredSends > 0) this.deferredSends--; // they are the oldest in flight
    const n = data.byteLength;
    this.unsentBytes -= n;
    if (err) {
      // The contract: a datagram the OS refuses is logged and still gets its send result.
      this.trace(`send of ${n} bytes refused: ${this.codeOf(err)} ${err.message}`);
    } else {
      this.sent += n;
      sendPool.release(data); // dgram is done with it
    }
    // dgram completes sends in a later tick or from libuv, never inside send(): direct delivery is safe.
    if (!this.ended) this.iomux.dispatcher.postFromEvent(this.deliverSendResult, this);
    if (this.shutdownCalled && this.inFlight.length === 0) this.reportShutdown(ShutdownReason.Normal);
  };

  // ---- receiving -------------------------------------------------------------------------

  /**
   * The connect completed: of the datagrams that arrived while it was on its way, those not
   * from the peer are dropped and counted (`strangerDatagrams`). The OS filters a connected
   * socket, but not what it had queued before: dgram binds the port a moment before it connects
   * it, and a datagram that comes in between stays in the queue. A recv pending since then is
   * served from what is left, after socketConnectComplete.
   */
  private dropStrangersHeld(): void {
    for (const d of this.receiver.release((address, port) => this.isFromPeer(address, port))) {
      this.received -= d.data.byteLength;
      this.messagesReceived--;
      this.noteStranger(d.address, d.port);
    }
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.ignoresCalls) return;
    // A connected socket: the OS's own filter misses datagrams it queued before the connect.
    if (this.peer !== null && !this.isFromPeer(rinfo.address, rinfo.port)) {
      this.noteStranger(rinfo.address, rinfo.port);
      return;
    }
    this.received += msg.byteLength;
    this.messagesReceived++;
    this.receiver.arrive(msg, rinfo.address, rinfo.port, true);
  };

  // ---- errors and closing ------------------------------------------------------------------

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    if (this.state === 'binding' || this.state === 'resolving' || this.state === 'connecting') {
      const phase = this.state === 'binding' ? 'bind' : 'connect';
      const reason = reasonForError(err, phase);
      this.trace(`${phase} error ${this.codeOf(err)} (${err.message}) -> ${reason}`);
      this.reportShutdown(reason);
      return;
    }
    // UDP has no connection to lose: an ICMP error (e.g. ECONNREFUSED from a connected peer
    // with no listener) concerns one datagram. Logged; the socket stays usable.
    this.trace(`error ${this.codeOf(err)} (${err.message}); the socket stays open`);
  };

  shutdown(): void {
    this.throwIfTakenOver('shutdown');
    if (this.ignoresCalls) return this.shutdownAfterEnd();
    this.shutdownCalled = true;
    this.cancelPendingRecv();
    this.receiver.clear();
    if (this.state === 'resolving' || this.state === 'connecting') {
      if (this.waitingSends.length === 0) this.reportShutdown(ShutdownReason.Normal);
      // else: the connect completes, the waiting sends go out, then finishShutdown()
      return;
    }
    this.closeWhenFlushed();
  }

  /** NORMAL once every queued datagram was handed to the OS, or after shutdownTimeoutMs. */
  private closeWhenFlushed(): void {
    if (this.inFlight.length === 0) {
      this.reportShutdown(ShutdownReason.Normal);
      return;
    }
    this.timer ??= setTimeout(() => this.reportShutdown(ShutdownReason.Normal), this.shutdownTimeoutMs);
  }

  protected override onEnded(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.receiver.clear();
    this.waitingSends = [];
    const d = this.dgram;
    this.dgram = null;
    if (d) {
      try {
        d.close();
      } catch {
        // not running yet (a bind that failed): nothing to close
      }
    }
  }

  // ---- DTLS hand-over ------------------------------------------------------------------------

  /**
   * Gives the dgram socket to a DTLS successor (`upgradeToTls`): this socket falls silent;
   * datagrams that arrived and were not read go along (a ClientHello may be among them).
   * @throws SocketStateError when it is not a connected or bound socket with no recv pending.
   */
  handOver(): HandedDatagram {
    this.checkHandOver();
    const dgram = this.dgram!;
    dgram.removeListener('message', this.onMessage);
    dgram.removeListener('error', this.onError);
    const queued = this.receiver.drain();
    this.dgram = null;
    this.setState('takenOver', 'upgradeToTls (DTLS)');
    this.iomux.unregister(this);
    return { dgram, queued, peer: this.peer, connected: this.modeValue === 'client', options: this.handOverOptions, hostAsWritten: this.hostAsWritten };
  }

  /** The options a successor inherits (IoMux, log, limits), before its own override them. */
  get handOverOptions(): SocketOptions {
    return { ...this.options, iomux: this.iomux, log: this.log };
  }

  /** Throws, changing nothing, unless {@link DatagramSocket.handOver} can proceed. */
  checkHandOver(): void {
    this.throwIfTakenOver('upgradeToTls');
    if (this.modeValue === 'none') throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the UDP socket is neither connected nor bound');
    if (this.ignoresCalls) throw new SocketStateError(SocketErrorCode.ShutDown, 'upgradeToTls: the socket has ended or is shutting down');
    if ((this.state !== 'connected' && this.state !== 'bound') || !this.dgram) {
      throw new SocketStateError(SocketErrorCode.NotConnected, 'upgradeToTls: the UDP socket is not connected or bound yet');
    }
    if (this.receiver.hasPending || this.recvUndelivered) throw new SocketStateError(SocketErrorCode.RecvPending, 'upgradeToTls: a recv is pending (or its result not delivered yet); cancel it first');
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** Makes the dgram socket; false (and the socket ended) if the OS refuses one. */
  private open(reuseAddr: boolean): boolean {
    try {
      const d = createSocket({
        type: this.ipv6 ? 'udp6' : 'udp4',
        reuseAddr,
        recvBufferSize: this.recvBufferSize,
        sendBufferSize: this.sendBufferSize,
        lookup,
      });
      d.on('message', this.onMessage);
      d.on('error', this.onError);
      this.dgram = d;
      return true;
    } catch (err) {
      this.trace(`cannot open a UDP socket: ${this.codeOf(err)} ${(err as Error).message}`);
      this.reportShutdown(reasonForError(err, this.modeValue === 'client' ? 'connect' : 'bind'));
      return false;
    }
  }

  /** Broadcast and multicast options; each refused one is logged and the others still apply. */
  private applyGroupOptions(d: DgramSocket): void {
    const attempt = (what: string, apply: () => void): void => {
      try {
        apply();
      } catch (err) {
        this.trace(`${what} refused: ${this.codeOf(err)} ${(err as Error).message}`);
      }
    };
    if (this.options.broadcast) attempt('broadcast', () => d.setBroadcast(true));
    if (this.modeValue !== 'server') return; // group membership is about receiving, on bound sockets
    for (const group of this.options.multicastGroups ?? []) attempt(`multicast group ${group}`, () => d.addMembership(group));
    const loopback = this.options.multicastLoopback;
    if (loopback !== undefined) attempt('multicastLoopback', () => d.setMulticastLoopback(loopback));
  }
}

/** Set while {@link DatagramSocket} hands dgram a datagram for an address it already checked. */
let sendingNow = false;

/**
 * dgram's `lookup`: dgram runs it for every datagram sent to an address, and `dns.lookup`
 * answers even an IP literal a tick later, through a closure. A `sendTo` destination is an IP
 * literal the socket checked, so it is answered at once; everything else (bind, connect, the
 * sends of a DTLS successor) goes to `dns.lookup` as before.
 */
function lookup(host: string, options: LookupOneOptions | number, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  // dgram passes the family as a number (4 or 6), though Node's types say an options object.
  if (sendingNow) cb(null, host, typeof options === 'number' ? options : isIPv6(host) ? 6 : 4);
  else dnsLookup(host, options as LookupOneOptions, cb);
}

function addressOf(info: { address: string; port: number }): { address: string; port: number } {
  return { address: info.address, port: info.port };
}

function copyOf(data: Uint8Array, n: number): Buffer {
  return sendPool.copy(data, n);
}
