/**
 * One rudp connection's reliability engine, after RFC 9000/9002 (docs/rudp-wire.md): packet
 * numbers never reused, ACK ranges with the ack delay, loss detection by packet threshold (3)
 * and time threshold (9/8 × max(srtt, latest RTT)), a probe time-out, retransmission of lost
 * reliable fragments in new packets, congestion control and pacing ({@link Congestion}), and a
 * byte credit (flow control) granted by the receiver as the app reads and enforced on the peer.
 * What is sent comes from {@link SendLanes} (the app's queue, in lanes); what arrives goes to
 * {@link Inbound}. It knows no socket: it speaks to its owner through {@link ConnectionHost}.
 */
import { Congestion } from './congestion';
import { Inbound, Verdict } from './inbound';
import { commitPacket, reservePacket } from './packet-slab';
import { MESSAGE_COST, SendLanes, SentFrag } from './send-lanes';
import { RttEstimate } from './rtt';
import { SentPacket, SentPackets } from './sent-packets';
import {
  ackSize,
  CloseCode,
  CREDIT_SIZE,
  FRAGMENT_OVERHEAD,
  FrameType,
  HEADER,
  MAX_ACK_RANGES,
  PacketType,
  FrameReader,
  writeCredit,
  writeHeader,
} from './wire';

export interface ConnectionHost {
  /** One datagram to the peer. */
  sendDatagram(buf: Buffer): void;
  /** `n` more messages are done (acknowledged; unreliable: sent or dropped), in send order. */
  messagesDone(n: number): void;
  /** A whole message is waiting in the inbox. */
  messageReady(): void;
  /** The peer sent a close packet (`code`: why). */
  peerClosed(code: CloseCode): void;
  /** Nothing heard from the peer for `idleTimeoutMs`. */
  idleTimedOut(): void;
  /** The peer broke the protocol: the connection sent a close packet and stopped. */
  protocolError(why: string): void;
  /** After {@link Connection.close}: the peer acknowledged the close, or the tries ran out. The path may go. */
  closeFinished(): void;
  traceLine(message: string): void;
}

export interface ConnectionSettings {
  localCid: number;
  peerCid: number;
  mtu: number;
  maxMessageSize: number;
  idleTimeoutMs: number;
  keepAliveMs: number;
}

const PACKET_THRESHOLD = 3;
/**
 * A lone packet is acknowledged within ACK_DELAY ms (two or more, or one out of order, at the end
 * of the read); both ends are this code, so the sender may count on MAX_ACK_DELAY (QUIC's
 * `max_ack_delay`, which a peer advertises there) with room for a busy event loop.
 */
const ACK_DELAY = 1;
const MAX_ACK_DELAY = 2;
/** Consecutive probe time-outs double the next one up to this many times (RFC 9002 leaves the cap open). */
const MAX_PTO_BACKOFF = 3;
const ACK_RANGES_PER_PACKET = 8;
/** A close packet is sent up to this many times, until the peer acknowledges it. */
const CLOSE_TRIES = 8;
/**
 * The credit each end may use before it heard the peer's (a protocol constant, so that ends with
 * different `maxMessageSize` agree); the first packet from the receiver grants its real credit.
 */
export const INITIAL_CREDIT = 64 * 1024;

/** Receive credit beyond what the app consumed, for a `maxMessageSize`: two messages' worth, at least the initial credit. */
export function receiveWindow(maxMessageSize: number): number {
  return Math.max(INITIAL_CREDIT, 2 * (maxMessageSize + MESSAGE_COST));
}

/**
 * The frames of the packet being read, for every connection of the process: one reader, not one
 * per connection (an idle connection keeps no parsed packet). receive() is never re-entered while
 * it reads them: packets arrive as events of their own, and nothing it calls delivers one.
 */
const FRAMES = new FrameReader();

// The timer and loop-turn callbacks, shared by every connection (they get it as an argument): a
// bound function or an arrow per connection would be an object per connection, idle ones too.
function tick(c: Connection): void {
  c.ticked();
}
function readFlush(c: Connection): void {
  c.readFlushed();
}
function sendCloseAgain(c: Connection): void {
  c.sendClose();
}

/** A packet without data: its (never written) list of fragments. */
const NO_FRAGS: SentFrag[] = [];

/** The earlier of a deadline `at` and `t`, where `t` of 0 (or less) is no deadline. */
function soonest(at: number, t: number): number {
  return t > 0 && t < at ? t : at;
}

export class Connection {
  // sending
  private readonly sent = new SentPackets();
  private nextPn = 0;
  private inFlight = 0;
  private largestAcked = -1;
  /** The RTT estimate and the congestion controller of the current path ({@link Connection.newPath}). */
  private rtt = new RttEstimate(MAX_ACK_DELAY);
  private cc: Congestion;
  private ptoCount = 0;
  private probes = 0;
  private lossTime = 0;
  private lastElicitSent = 0;
  private lastSent = performance.now();
  private flushQueued = false;
  private readFlushQueued = false;
  // receiving
  private readonly ranges: [number, number][] = []; // newest first, disjoint
  /** Packet numbers at or below this are no longer tracked: treated as duplicates. */
  private floor = -1;
  private largestRecvTime = 0;
  private ackPending = 0;
  private ackDeadline = 0;
  readonly inbound: Inbound;
  /** The packets an ACK acknowledged (reused: onAck). */
  private readonly newlyAcked: SentPacket[] = [];
  private grantedCredit: number;
  private creditDirty = false;
  private lastHeard = performance.now();
  // facts
  packetsSent = 0;
  packetsReceived = 0;
  packetsLost = 0;
  bytesOut = 0;
  bytesIn = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private stopped = false;
  /** Closing: the close packet waits for its acknowledgement. */
  private closeCode: CloseCode | null = null;
  private closeTries = 0;
  private closeTimer: NodeJS.Timeout | null = null;
  private readonly fragSize: number;

  constructor(
    private readonly s: ConnectionSettings,
    private readonly host: ConnectionHost,
    /** The app's queue (made by the socket, which queues into it before the connection is up). */
    readonly lanes: SendLanes,
  ) {
    // A fragment fits any packet: header, packet number, a full ACK, a credit and a PING besides.
    this.fragSize = s.mtu - HEADER - 4 - FRAGMENT_OVERHEAD - ackSize(ACK_RANGES_PER_PACKET) - CREDIT_SIZE - 1;
    this.cc = new Congestion(s.mtu, this.rtt, host);
    this.inbound = new Inbound(s.maxMessageSize, receiveWindow(s.maxMessageSize));
    this.grantedCredit = INITIAL_CREDIT;
    // The real credit goes at once: a message larger than the initial credit waits for it.
    this.creditDirty = true;
    this.wake();
  }

  // ---- the app's side --------------------------------------------------------------------

  /** Messages were queued: they go out after the current tick, so that a tick's small messages share datagrams. */
  wake(): void {
    if (this.flushQueued || this.stopped) return;
    this.flushQueued = true;
    queueMicrotask(this.flushTask);
  }

  private readonly flushTask = (): void => {
    this.flushQueued = false;
    this.flush();
  };

  get unackedBytes(): number {
    return this.inFlight;
  }
  get sendRate(): number {
    return this.cc.sendRate;
  }
  get srtt(): number | null {
    return this.rtt.srtt;
  }
  get rttvar(): number | null {
    return this.rtt.srtt === null ? null : this.rtt.rttvar;
  }

  get retransmits(): number {
    return this.lanes.retransmits;
  }

  /**
   * The peer moved to a new address (RFC 9000 §9.4): the congestion controller and the RTT
   * estimate start again, as on a new connection. Packets in flight on the old path stay in
   * flight: acknowledged or declared lost as any others.
   */
  newPath(): void {
    this.rtt = new RttEstimate(MAX_ACK_DELAY);
    this.cc = new Congestion(this.s.mtu, this.rtt, this.host);
  }

  /** The next whole message for the app; reading grants the peer more credit. */
  takeMessage(): Buffer | undefined {
    const m = this.inbound.take();
    if (m !== undefined && this.inbound.consumed + this.inbound.window - this.grantedCredit >= this.inbound.window / 4) {
      this.creditDirty = true;
      this.wake();
    }
    return m;
  }

  /**
   * Stops sending data and sends a close packet, again every few round trips until the peer
   * acknowledges it (at most {@link CLOSE_TRIES} times); then `closeFinished`.
   */
  close(code = CloseCode.Normal): void {
    if (this.stopped) return;
    this.stop();
    this.closeCode = code;
    this.sendClose();
  }

  /** Sent a close packet and waits for its acknowledgement. */
  get closing(): boolean {
    return this.closeCode !== null;
  }

  /** @internal Sends the close packet, again on its timer (sendCloseAgain) until acknowledged. */
  sendClose(): void {
    if (this.closeCode === null) return;
    if (this.closeTries++ >= CLOSE_TRIES) return this.closeDone();
    const buf = Buffer.alloc(HEADER + 1);
    writeHeader(buf, PacketType.Close, this.s.peerCid, this.s.localCid);
    buf[HEADER] = this.closeCode;
    this.out(buf);
    const interval = Math.min(200, Math.max(10, 2 * this.rtt.smoothed));
    this.closeTimer = setTimeout(sendCloseAgain, interval, this);
  }

  private closeDone(): void {
    if (this.closeCode === null) return;
    this.closeCode = null;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.host.closeFinished();
  }

  /** Stops everything, a close under way included. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.closeCode = null;
  }

  private sendCloseAck(): void {
    const buf = Buffer.alloc(HEADER);
    writeHeader(buf, PacketType.CloseAck, this.s.peerCid, this.s.localCid);
    this.out(buf);
  }

  // ---- packets in ------------------------------------------------------------------------

  /** A Data or Close packet addressed to this connection (header checked by the caller). */
  receive(type: PacketType, buf: Buffer): void {
    if (this.closeCode !== null) {
      // Closing: an acknowledgement ends it, and so does the peer's own close (both closed at once).
      if (type === PacketType.Close) this.sendCloseAck();
      if (type === PacketType.Close || type === PacketType.CloseAck) this.closeDone();
      return;
    }
    if (this.stopped) return;
    const now = performance.now();
    this.lastHeard = now;
    this.bytesIn += buf.byteLength;
    if (type === PacketType.Close) {
      this.sendCloseAck();
      this.stop();
      this.host.peerClosed(buf.byteLength > HEADER ? buf[HEADER] : CloseCode.Normal);
      return;
    }
    if (type !== PacketType.Data || buf.byteLength < HEADER + 4) return;
    const pn = buf.readUInt32BE(HEADER);
    const frames = FRAMES;
    if (!frames.read(buf, HEADER + 4)) return;
    this.packetsReceived++;
    const fresh = this.noteReceived(pn, now);
    for (let k = 0; k < frames.acks; k++) this.onAck(frames.ackDelay[k], frames.ackFirst[k], frames.ackCount[k], now);
    if (frames.credit > this.lanes.peerCredit) this.lanes.peerCredit = frames.credit;
    if (frames.elicit) {
      this.ackPending++;
      if (!fresh || this.ackPending >= 2 || pn !== this.ranges[0]?.[1]) this.ackDeadline = now;
      else if (this.ackDeadline === 0) this.ackDeadline = now + ACK_DELAY;
    }
    if (fresh && frames.fragCount > 0) {
      const before = this.inbound.waiting;
      for (let k = 0; k < frames.fragCount; k++) {
        const f = frames.frags[k];
        const verdict = this.inbound.fragment(f, now);
        if (verdict !== Verdict.Ok) return this.refuse(verdict, f.total);
      }
      if (this.inbound.waiting > before) this.host.messageReady();
    }
    this.flushAfterReading();
  }

  /**
   * What a packet calls for (an ACK, more data as the window opens) goes once the datagrams
   * that arrived together were all read: one ACK then covers a burst, however many packets it had.
   */
  private flushAfterReading(): void {
    if (this.readFlushQueued) return;
    this.readFlushQueued = true;
    setImmediate(readFlush, this);
  }

  /** @internal The loop turn after a read (readFlush). */
  readFlushed(): void {
    this.readFlushQueued = false;
    this.flush();
  }

  /** The peer broke flow control or sent a message over the limit: close, and say why. */
  private refuse(verdict: Verdict, total: number): void {
    const why =
      verdict === Verdict.OverCredit
        ? `the peer sent beyond the credit it was granted (a reliable message of ${total} bytes with ${this.inbound.window} bytes of credit in use): flow control violated`
        : `the peer sent a reliable message of ${total} bytes, more than maxMessageSize (${this.s.maxMessageSize})`;
    this.close(CloseCode.FlowControl);
    this.host.protocolError(why);
  }

  /** Records `pn`; false if it was seen before (or is too old to tell). */
  private noteReceived(pn: number, now: number): boolean {
    if (pn <= this.floor) return false;
    const r = this.ranges;
    let i = 0;
    while (i < r.length && r[i][0] > pn) i++;
    if (i < r.length && r[i][1] >= pn) return false;
    // r[i] (if any) is below pn; r[i-1] (if any) above.
    const joinsBelow = i < r.length && r[i][1] === pn - 1;
    const joinsAbove = i > 0 && r[i - 1][0] === pn + 1;
    if (joinsBelow && joinsAbove) {
      r[i - 1][0] = r[i][0];
      r.splice(i, 1);
    } else if (joinsBelow) r[i][1] = pn;
    else if (joinsAbove) r[i - 1][0] = pn;
    else r.splice(i, 0, [pn, pn]);
    if (r.length > MAX_ACK_RANGES) {
      // The oldest ranges were acked long ago; below them nothing can be told from a duplicate.
      this.floor = r[MAX_ACK_RANGES][1];
      r.length = MAX_ACK_RANGES;
    }
    if (pn === r[0][1]) this.largestRecvTime = now;
    return true;
  }

  /** An ACK frame: its delay, and its `count` ranges at `first` of the frame reader's ranges (newest first). */
  private onAck(delayMs: number, first: number, count: number, now: number): void {
    const r = FRAMES.ranges;
    const newlyAcked = this.newlyAcked;
    newlyAcked.length = 0;
    for (let k = 0; k < count; k++) this.sent.takeRange(r[first + 2 * k], r[first + 2 * k + 1], newlyAcked);
    if (newlyAcked.length === 0) return;
    let largest = newlyAcked[0];
    this.cc.ackStart();
    for (const p of newlyAcked) {
      if (p.pn > largest.pn) largest = p;
      this.inFlight -= p.size;
      this.cc.acked(p.size, p.time);
      for (const f of p.frags) this.lanes.acked(f);
    }
    newlyAcked.length = 0; // holds no packet longer than needed
    if (largest.pn > this.largestAcked) this.largestAcked = largest.pn;
    if (count > 0 && largest.pn === r[first + 1]) this.rtt.sample(now - largest.time, delayMs);
    this.cc.ackEnd(now);
    this.ptoCount = 0;
    this.detectLoss(now);
    this.reportDone();
  }

  private reportDone(): void {
    const n = this.lanes.popDone();
    if (n > 0) this.host.messagesDone(n);
  }

  private detectLoss(now: number): void {
    const delay = Math.max(1, (9 / 8) * Math.max(this.rtt.latestRtt, this.rtt.smoothed));
    this.lossTime = 0;
    let lostLatest = -1;
    this.sent.forEach((p) => {
      if (p.pn > this.largestAcked) return false;
      if (p.pn <= this.largestAcked - PACKET_THRESHOLD || p.time <= now - delay) {
        this.declareLost(p);
        lostLatest = Math.max(lostLatest, p.time);
      } else if (this.lossTime === 0 || p.time + delay < this.lossTime) this.lossTime = p.time + delay;
      return true;
    });
    if (lostLatest >= 0) this.cc.lost(lostLatest, now);
  }

  private declareLost(p: SentPacket): void {
    this.sent.remove(p);
    this.inFlight -= p.size;
    this.packetsLost++;
    for (const f of p.frags) this.lanes.lost(f);
    if (p.credit) this.creditDirty = true;
  }

  // ---- packets out -----------------------------------------------------------------------

  /** Sends what congestion control, pacing and the peer's credit allow. */
  flush(): void {
    if (this.stopped) return;
    const now = performance.now();
    const mtu = this.s.mtu;
    this.cc.refill(now);
    for (;;) {
      const ackNow = this.ackPending > 0 && this.ackDeadline <= now;
      const probing = this.probes > 0;
      const canData = probing || this.cc.canSend(this.inFlight);
      const hasData = canData && this.lanes.hasSendable();
      if (!hasData && !ackNow && !this.creditDirty && !probing) break;
      // The packet is written at `base` of a shared slab (packet-slab.ts).
      const { buf, at: base } = reservePacket(mtu);
      writeHeader(buf, PacketType.Data, this.s.peerCid, this.s.localCid, 0, base);
      const pn = this.nextPn++;
      buf.writeUInt32BE(pn, base + HEADER);
      let at = base + HEADER + 4;
      const acking = this.ackPending > 0 && this.ranges.length > 0;
      if (acking) at = this.writeAck(buf, at, now);
      // The credit rides on every ACK (cheap), and is resent when a packet that updated it is lost.
      const creditUpdate = this.creditDirty;
      if (creditUpdate || acking || pn % 16 === 0) {
        this.grantedCredit = this.inbound.consumed + this.inbound.window;
        at = writeCredit(buf, at, this.grantedCredit);
        this.creditDirty = false;
      }
      // A packet without data shares one empty list (pack() is the only writer, and only with data).
      const frags: SentFrag[] = hasData ? [] : NO_FRAGS;
      const dataAt = at;
      if (hasData) at = this.lanes.pack(buf, at, base + mtu, this.fragSize, frags);
      let elicit = at > dataAt;
      if (at === base + HEADER + 4 && !probing) {
        this.nextPn--; // nothing to say after all
        break;
      }
      if (!elicit && (probing || creditUpdate)) {
        buf[at++] = FrameType.Ping; // a probe, or a credit update that must be acknowledged (and so resent if lost)
        elicit = true;
      }
      if (probing) this.probes--;
      const size = at - base;
      if (elicit) {
        this.sent.push({ pn, time: now, size, frags, credit: creditUpdate, gone: false });
        this.inFlight += size;
        this.cc.spend(size);
        this.lastElicitSent = now;
      }
      this.out(commitPacket(size), now);
    }
    this.reportDone(); // unreliable messages are done once sent
    this.arm();
  }

  private writeAck(buf: Buffer, at: number, now: number): number {
    const n = Math.min(ACK_RANGES_PER_PACKET, this.ranges.length);
    buf[at] = FrameType.Ack;
    buf.writeUInt16BE(Math.min(65535, Math.round(now - this.largestRecvTime)), at + 1);
    buf[at + 3] = n;
    at += 4;
    for (let i = 0; i < n; i++, at += 8) {
      buf.writeUInt32BE(this.ranges[i][0], at);
      buf.writeUInt32BE(this.ranges[i][1], at + 4);
    }
    this.ackPending = 0;
    this.ackDeadline = 0;
    return at;
  }

  private out(buf: Buffer, now = performance.now()): void {
    this.packetsSent++;
    this.bytesOut += buf.byteLength;
    this.lastSent = now;
    this.host.sendDatagram(buf);
  }

  // ---- timers ----------------------------------------------------------------------------

  private ptoTime(): number {
    if (this.sent.size === 0) return 0;
    const srtt = this.rtt.smoothed;
    const rttvar = this.rtt.srtt === null ? srtt / 2 : this.rtt.rttvar;
    // RFC 9002's srtt + 4·rttvar, at least a tail-loss probe's 2·srtt (RFC 8985 §7.2) and a
    // timer's millisecond. The peer's ack delay counts only for a lone packet: the peer acks
    // two or more at once when its read ends, so with more in flight a lost ACK or tail is
    // probed after a round trip or two, not after a fixed delay that is many of them on a LAN.
    const base = Math.max(srtt + 4 * rttvar, 2 * srtt, 1) + (this.sent.size === 1 ? MAX_ACK_DELAY : 0);
    return this.lastElicitSent + base * 2 ** Math.min(this.ptoCount, MAX_PTO_BACKOFF);
  }

  private arm(): void {
    if (this.stopped) return;
    const now = performance.now();
    // The earliest deadline of these (0: none).
    let at = soonest(Infinity, this.lossTime > 0 ? this.lossTime : this.ptoTime());
    if (this.ackPending > 0) at = soonest(at, Math.max(this.ackDeadline, now));
    if (this.cc.windowOpen(this.inFlight) && this.lanes.hasSendable()) {
      // The pacer refills: a wait shorter than a timer's millisecond is a loop turn instead.
      const wait = this.cc.pacerWait;
      if (wait < 1) this.flushAfterReading();
      else at = soonest(at, now + wait);
    }
    if (this.s.keepAliveMs > 0) at = soonest(at, this.lastSent + this.s.keepAliveMs);
    if (this.s.idleTimeoutMs > 0) at = soonest(at, this.lastHeard + this.s.idleTimeoutMs);
    at = soonest(at, this.inbound.nextDeadline);
    if (at === Infinity) return;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(tick, Math.max(0, Math.ceil(at - now)), this); // not early: Node rounds a fraction down
  }

  /** @internal The connection's timer (tick). */
  ticked(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = performance.now();
    if (this.s.idleTimeoutMs > 0 && now - this.lastHeard >= this.s.idleTimeoutMs) {
      this.host.traceLine(`idle for ${this.s.idleTimeoutMs} ms`);
      this.stop();
      this.host.idleTimedOut();
      return;
    }
    this.inbound.sweep(now);
    if (this.lossTime > 0 && now >= this.lossTime) this.detectLoss(now);
    else if (this.lossTime === 0 && this.sent.size > 0 && now >= this.ptoTime()) {
      this.ptoCount++;
      // Probe: the oldest reliable fragments in flight go again (from their lanes), in new packets, or a PING.
      for (const p of this.sent.oldest(2)) for (const f of p.frags) this.lanes.lost(f);
      this.probes = 2;
    }
    if (this.s.keepAliveMs > 0 && now - this.lastSent >= this.s.keepAliveMs && this.probes === 0) this.probes = 1;
    this.flush();
  }
}
