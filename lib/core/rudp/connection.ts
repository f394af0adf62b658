/**
 * One rudp connection's reliability engine, after RFC 9000/9002 (docs/rudp-wire.md): packet
 * numbers never reused, ACK ranges with the ack delay, loss detection by packet threshold (3)
 * and time threshold (9/8 × max(srtt, latest RTT)), a probe time-out, retransmission of lost
 * fragments in new packets, NewReno congestion control with a token-bucket pacer, and a byte
 * credit (flow control) granted by the receiver as the app reads. It knows no socket: it
 * speaks to its owner through {@link ConnectionHost}.
 */
import { ackSize, AckInfo, FRAGMENT_OVERHEAD, FrameType, Fragment, HEADER, MAX_ACK_RANGES, PacketType, readFrames, writeHeader } from './wire';

export interface ConnectionHost {
  /** One datagram to the peer. */
  sendDatagram(buf: Buffer): void;
  /** The oldest unacknowledged reliable message is now acknowledged in full (in send order). */
  messageAcked(): void;
  /** A complete message is in the inbox. */
  messageReady(): void;
  /** The peer sent a close packet. */
  peerClosed(): void;
  /** Nothing heard from the peer for `idleTimeoutMs`. */
  idleTimedOut(): void;
  trace(message: string): void;
}

export interface ConnectionSettings {
  localCid: number;
  peerCid: number;
  mtu: number;
  maxMessageSize: number;
  idleTimeoutMs: number;
  keepAliveMs: number;
}

interface OutMessage {
  data: Buffer;
  id: number;
  cost: number;
  sentOffset: number;
  frags: number;
  acked: Set<number>;
}
interface SentFrag {
  msg: OutMessage;
  offset: number;
  len: number;
}
interface SentPacket {
  pn: number;
  time: number;
  size: number;
  frags: SentFrag[];
  elicit: boolean;
}
interface InMessage {
  total: number;
  buf: Buffer;
  got: Set<number>;
  bytes: number;
}

const PACKET_THRESHOLD = 3;
const INITIAL_RTT = 100;
const MAX_ACK_DELAY = 25;
const ACK_DELAY = 5;
const ACK_RANGES_PER_PACKET = 8;
/** Flow-control cost of a message beyond its bytes (so 0-byte messages are bounded too). */
export const MESSAGE_COST = 16;

/**
 * At most one recorded fragment per 64 bytes of a message (plus its last): a sender's fragments
 * are hundreds of bytes, so only a peer slicing a message into tiny pieces meets this bound.
 */
function fragmentRecordable(m: InMessage, f: Fragment): boolean {
  return m.got.size <= m.total / 64 + 1 || f.offset + f.data.byteLength === m.total;
}

export class Connection {
  // sending
  private readonly queue: OutMessage[] = []; // not fully sent yet
  private readonly unacked: OutMessage[] = []; // sent order, not fully acked
  private readonly retransmit: SentFrag[] = [];
  private readonly sent = new Map<number, SentPacket>();
  private nextPn = 0;
  private nextMsgId = 0;
  private inFlight = 0;
  private largestAcked = -1;
  private streamSent = 0;
  private peerCredit: number;
  cwnd: number;
  private ssthresh = Infinity;
  private recoveryStart = -1;
  private tokens: number;
  private tokensAt = performance.now();
  srtt: number | null = null;
  rttvar = 0;
  private minRtt = Infinity;
  private latestRtt = 0;
  private ptoCount = 0;
  private probes = 0;
  private lossTime = 0;
  private lastElicitSent = 0;
  private lastSent = performance.now();
  // receiving
  private readonly ranges: [number, number][] = []; // newest first, disjoint
  private largestRecvTime = 0;
  private ackPending = 0;
  private ackDeadline = 0;
  private readonly inbound = new Map<number, InMessage>();
  private nextDeliver = 0;
  readonly inbox: Buffer[] = [];
  private consumed = 0;
  /** Cost of the messages partly received or in the inbox (bounded by {@link admits}). */
  private held = 0;
  private grantedCredit: number;
  private creditDirty = false;
  private lastHeard = performance.now();
  // facts
  retransmits = 0;
  packetsSent = 0;
  packetsReceived = 0;
  packetsLost = 0;
  bytesOut = 0;
  bytesIn = 0;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private stopped = false;
  private readonly fragSize: number;
  /** Receive credit beyond what the app consumed (bytes of message cost). */
  readonly window: number;

  constructor(
    private readonly s: ConnectionSettings,
    private readonly host: ConnectionHost,
  ) {
    this.fragSize = s.mtu - HEADER - 4 - FRAGMENT_OVERHEAD - ackSize(ACK_RANGES_PER_PACKET) - 9;
    this.cwnd = 10 * s.mtu;
    this.tokens = this.cwnd;
    this.window = 2 * (s.maxMessageSize + MESSAGE_COST);
    this.peerCredit = this.window;
    this.grantedCredit = this.window;
    this.arm();
  }

  // ---- the app's side --------------------------------------------------------------------

  /** Queues one reliable message (copied by the caller). */
  send(data: Buffer): void {
    const frags = Math.max(1, Math.ceil(data.byteLength / this.fragSize));
    this.queue.push({ data, id: this.nextMsgId++, cost: data.byteLength + MESSAGE_COST, sentOffset: 0, frags, acked: new Set() });
    this.flush();
  }

  /** Messages not yet acknowledged in full (queued or in flight). */
  get pendingMessages(): number {
    return this.unacked.length + this.queue.length;
  }
  get queuedBytes(): number {
    let n = 0;
    for (const m of this.queue) n += m.data.byteLength - m.sentOffset;
    return n;
  }
  get unackedBytes(): number {
    return this.inFlight;
  }
  get sendRate(): number {
    return (this.cwnd * 1000) / Math.max(1, this.srtt ?? INITIAL_RTT);
  }

  /** The app took `n` bytes' worth of message cost from the inbox: more credit for the peer. */
  consumedMessage(bytes: number): void {
    this.consumed += bytes + MESSAGE_COST;
    this.held -= bytes + MESSAGE_COST;
    if (this.consumed + this.window - this.grantedCredit >= this.window / 4) {
      this.creditDirty = true;
      this.flush();
    }
  }

  /** Sends a close packet (twice: best effort) and stops. */
  close(): void {
    if (this.stopped) return;
    const buf = Buffer.alloc(HEADER);
    writeHeader(buf, PacketType.Close, this.s.peerCid, this.s.localCid);
    this.out(buf);
    this.out(buf);
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  // ---- packets in ------------------------------------------------------------------------

  /** A Data or Close packet addressed to this connection (header checked by the caller). */
  receive(type: PacketType, buf: Buffer): void {
    if (this.stopped) return;
    this.lastHeard = performance.now();
    this.bytesIn += buf.byteLength;
    if (type === PacketType.Close) {
      this.stop();
      this.host.peerClosed();
      return;
    }
    if (type !== PacketType.Data || buf.byteLength < HEADER + 4) return;
    const pn = buf.readUInt32BE(HEADER);
    const frames = readFrames(buf.subarray(HEADER + 4));
    if (frames === null) return;
    this.packetsReceived++;
    const fresh = this.noteReceived(pn);
    for (const a of frames.acks) this.onAck(a);
    if (frames.credit !== null && frames.credit > this.peerCredit) this.peerCredit = frames.credit;
    if (frames.elicit) {
      this.ackPending++;
      if (!fresh || this.ackPending >= 2 || pn !== this.ranges[0][1]) this.ackDeadline = performance.now();
      else if (this.ackDeadline === 0) this.ackDeadline = performance.now() + ACK_DELAY;
    }
    if (fresh) for (const f of frames.frags) this.onFragment(f);
    this.flush();
  }

  /** Records `pn`; false if it was seen before (a duplicate). */
  private noteReceived(pn: number): boolean {
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
    if (r.length > MAX_ACK_RANGES) r.length = MAX_ACK_RANGES; // the oldest ranges were acked long ago
    if (pn === r[0][1]) this.largestRecvTime = performance.now();
    return true;
  }

  private onFragment(f: Fragment): void {
    if (f.msgId < this.nextDeliver || f.total > this.s.maxMessageSize) return; // delivered before, or too big
    let m = this.inbound.get(f.msgId);
    if (!m) {
      if (!this.admits(f.total)) return;
      m = { total: f.total, buf: Buffer.allocUnsafe(f.total), got: new Set(), bytes: 0 };
      this.inbound.set(f.msgId, m);
    }
    if (m.total !== f.total || m.got.has(f.offset) || !fragmentRecordable(m, f)) return;
    m.got.add(f.offset);
    f.data.copy(m.buf, f.offset);
    m.bytes += f.data.byteLength;
    let ready = false;
    for (;;) {
      const next = this.inbound.get(this.nextDeliver);
      if (!next || next.bytes < next.total || (next.total === 0 && next.got.size === 0)) break;
      this.inbound.delete(this.nextDeliver++);
      this.inbox.push(next.buf);
      ready = true;
    }
    if (ready) this.host.messageReady();
  }

  /**
   * Receiver memory bound: a new message is taken only while the cost of the messages held
   * (partly received or unread) stays within the credit granted. An honest sender never
   * exceeds it; one that ignores the credit has its fragments dropped.
   */
  private admits(total: number): boolean {
    if (this.held + total + MESSAGE_COST > this.grantedCredit - this.consumed) return false;
    this.held += total + MESSAGE_COST;
    return true;
  }

  private onAck(a: AckInfo): void {
    const now = performance.now();
    let newlyAcked: SentPacket[] = [];
    for (const [lo, hi] of a.ranges) this.collectAcked(lo, hi, newlyAcked);
    if (newlyAcked.length === 0) return;
    newlyAcked = newlyAcked.sort((x, y) => y.pn - x.pn);
    const largest = newlyAcked[0];
    if (largest.pn > this.largestAcked) this.largestAcked = largest.pn;
    if (largest.pn === a.ranges[0]?.[1] && largest.elicit) this.rttSample(now - largest.time, a.delayMs);
    for (const p of newlyAcked) {
      this.sent.delete(p.pn);
      this.inFlight -= p.size;
      if (p.time > this.recoveryStart) {
        if (this.cwnd < this.ssthresh) this.cwnd += p.size;
        else this.cwnd += (this.s.mtu * p.size) / this.cwnd;
      }
      for (const f of p.frags) f.msg.acked.add(f.offset);
    }
    this.ptoCount = 0;
    this.detectLoss(now);
    while (this.unacked.length > 0 && this.unacked[0].acked.size === this.unacked[0].frags) {
      this.unacked.shift();
      this.host.messageAcked();
    }
  }

  /** The packets in flight numbered lo…hi: walks the range or what is in flight, whichever is shorter. */
  private collectAcked(lo: number, hi: number, into: SentPacket[]): void {
    if (hi - lo < this.sent.size) {
      for (let pn = lo; pn <= hi; pn++) {
        const p = this.sent.get(pn);
        if (p) into.push(p);
      }
    } else for (const p of this.sent.values()) if (p.pn >= lo && p.pn <= hi) into.push(p);
  }

  private rttSample(rtt: number, delayMs: number): void {
    this.latestRtt = rtt;
    this.minRtt = Math.min(this.minRtt, rtt);
    if (this.srtt === null) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
      return;
    }
    const adjusted = rtt - Math.min(delayMs, MAX_ACK_DELAY) >= this.minRtt ? rtt - Math.min(delayMs, MAX_ACK_DELAY) : rtt;
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - adjusted);
    this.srtt = 0.875 * this.srtt + 0.125 * adjusted;
  }

  private detectLoss(now: number): void {
    const delay = Math.max(1, (9 / 8) * Math.max(this.latestRtt, this.srtt ?? INITIAL_RTT));
    this.lossTime = 0;
    let lostLatest = -1;
    for (const p of this.sent.values()) {
      if (p.pn > this.largestAcked) continue;
      if (p.pn <= this.largestAcked - PACKET_THRESHOLD || p.time <= now - delay) {
        this.declareLost(p);
        lostLatest = Math.max(lostLatest, p.time);
      } else if (this.lossTime === 0 || p.time + delay < this.lossTime) this.lossTime = p.time + delay;
    }
    if (lostLatest > this.recoveryStart) {
      this.recoveryStart = now;
      this.ssthresh = Math.max(this.cwnd / 2, 2 * this.s.mtu);
      this.cwnd = this.ssthresh;
    }
  }

  private declareLost(p: SentPacket): void {
    this.sent.delete(p.pn);
    this.inFlight -= p.size;
    this.packetsLost++;
    for (const f of p.frags) if (!f.msg.acked.has(f.offset)) this.retransmit.push(f);
  }

  // ---- packets out -----------------------------------------------------------------------

  /** Sends what congestion control, pacing and the peer's credit allow. */
  flush(): void {
    if (this.stopped) return;
    const now = performance.now();
    const rate = (1.25 * this.cwnd) / Math.max(1, this.srtt ?? INITIAL_RTT); // bytes per ms
    this.tokens = Math.min(Math.max(10 * this.s.mtu, this.cwnd / 4), this.tokens + rate * (now - this.tokensAt));
    this.tokensAt = now;
    for (;;) {
      const ackNow = this.ackPending > 0 && this.ackDeadline <= now;
      const probing = this.probes > 0;
      const canData = probing || (this.inFlight + this.s.mtu <= this.cwnd && this.tokens >= this.s.mtu);
      const hasData = this.retransmit.length > 0 || this.sendableNew();
      if (!(canData && hasData) && !ackNow && !this.creditDirty && !probing) break;
      const buf = Buffer.allocUnsafe(this.s.mtu);
      writeHeader(buf, PacketType.Data, this.s.peerCid, this.s.localCid);
      const pn = this.nextPn++;
      buf.writeUInt32BE(pn, HEADER);
      let at = HEADER + 4;
      if (this.ackPending > 0 && this.ranges.length > 0) at = this.writeAck(buf, at, now);
      if (this.creditDirty || pn % 16 === 0) {
        this.grantedCredit = this.consumed + this.window;
        buf[at] = FrameType.Credit;
        buf.writeUInt32BE(Math.floor(this.grantedCredit / 0x100000000), at + 1);
        buf.writeUInt32BE(this.grantedCredit >>> 0, at + 5);
        at += 9;
        this.creditDirty = false;
      }
      const frags: SentFrag[] = [];
      if (canData) {
        while (at + FRAGMENT_OVERHEAD <= this.s.mtu) {
          const f = this.nextFrag(this.s.mtu - at - FRAGMENT_OVERHEAD);
          if (!f) break;
          buf[at] = FrameType.Fragment;
          buf.writeUInt32BE(f.msg.id, at + 1);
          buf.writeUInt32BE(f.offset, at + 5);
          buf.writeUInt32BE(f.msg.data.byteLength, at + 9);
          buf.writeUInt16BE(f.len, at + 13);
          f.msg.data.copy(buf, at + 15, f.offset, f.offset + f.len);
          at += 15 + f.len;
          frags.push(f);
        }
      }
      let elicit = frags.length > 0;
      if (at === HEADER + 4 && !probing) {
        this.nextPn--; // nothing to say after all
        break;
      }
      if (probing && !elicit) {
        buf[at++] = FrameType.Ping;
        elicit = true;
      }
      if (probing) this.probes--;
      const packet = buf.subarray(0, at);
      if (elicit) {
        this.sent.set(pn, { pn, time: now, size: at, frags, elicit });
        this.inFlight += at;
        this.tokens -= at;
        this.lastElicitSent = now;
      }
      this.out(packet);
    }
    this.arm();
  }

  private sendableNew(): boolean {
    const m = this.queue[0];
    if (!m) return false;
    return m.sentOffset > 0 || this.streamSent + m.cost <= this.peerCredit;
  }

  private nextFrag(room: number): SentFrag | null {
    while (this.retransmit.length > 0) {
      const f = this.retransmit[0];
      if (f.msg.acked.has(f.offset)) {
        this.retransmit.shift();
        continue;
      }
      if (f.len > room) return null;
      this.retransmits++;
      return this.retransmit.shift()!;
    }
    if (!this.sendableNew()) return null;
    const m = this.queue[0];
    const len = Math.min(this.fragSize, m.data.byteLength - m.sentOffset);
    if (len > room) return null;
    if (m.sentOffset === 0) {
      this.streamSent += m.cost;
      this.unacked.push(m);
    }
    const f = { msg: m, offset: m.sentOffset, len };
    m.sentOffset += len;
    if (m.sentOffset >= m.data.byteLength) this.queue.shift();
    return f;
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

  private out(buf: Buffer): void {
    this.packetsSent++;
    this.bytesOut += buf.byteLength;
    this.lastSent = performance.now();
    this.host.sendDatagram(buf);
  }

  // ---- timers ----------------------------------------------------------------------------

  private ptoTime(): number {
    if (this.sent.size === 0) return 0;
    const srtt = this.srtt ?? INITIAL_RTT;
    const base = srtt + Math.max(4 * (this.srtt === null ? srtt / 2 : this.rttvar), 1) + MAX_ACK_DELAY;
    return this.lastElicitSent + base * 2 ** Math.min(this.ptoCount, 6);
  }

  private arm(): void {
    if (this.stopped) return;
    const now = performance.now();
    const times: number[] = [];
    if (this.lossTime > 0) times.push(this.lossTime);
    else {
      const pto = this.ptoTime();
      if (pto > 0) times.push(pto);
    }
    if (this.ackPending > 0) times.push(this.ackDeadline);
    if (this.retransmit.length > 0 || this.sendableNew()) {
      if (this.inFlight + this.s.mtu <= this.cwnd) times.push(now + 1); // the pacer refills
    }
    if (this.s.keepAliveMs > 0) times.push(this.lastSent + this.s.keepAliveMs);
    if (this.s.idleTimeoutMs > 0) times.push(this.lastHeard + this.s.idleTimeoutMs);
    if (times.length === 0) return;
    const at = Math.min(...times);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - now));
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = performance.now();
    if (this.s.idleTimeoutMs > 0 && now - this.lastHeard >= this.s.idleTimeoutMs) {
      this.host.trace(`idle for ${this.s.idleTimeoutMs} ms`);
      this.stop();
      this.host.idleTimedOut();
      return;
    }
    if (this.lossTime > 0 && now >= this.lossTime) this.detectLoss(now);
    else if (this.lossTime === 0 && this.sent.size > 0 && now >= this.ptoTime()) {
      this.ptoCount++;
      // Probe: the oldest fragments in flight go again, in new packets (or a PING).
      const oldest = [...this.sent.values()].slice(0, 2);
      for (const p of oldest.reverse()) for (const f of p.frags) if (!f.msg.acked.has(f.offset)) this.retransmit.unshift(f);
      this.probes = 2;
    }
    if (this.s.keepAliveMs > 0 && now - this.lastSent >= this.s.keepAliveMs && this.probes === 0) this.probes = 1;
    this.flush();
  }
}
