/**
 * The app's send queue of one rudp connection, in lanes (docs/rudp.md, "Lanes"), and the packing
 * of its messages into packets. The scheduling follows GameNetworkingSockets' lanes
 * (`ConfigureConnectionLanes`): a lane of a lower priority number is served strictly first;
 * lanes of one priority share the bandwidth by weight, and an idle lane saves up no share.
 * Within a priority the share is start-time fair queueing: each lane has a virtual time that
 * grows by bytes / weight as it sends, the lane with the smallest goes next, and a lane that
 * becomes busy starts at its group's current virtual time.
 *
 * Messages of one lane go in the order they were queued, reliable and unreliable alike; lost
 * reliable fragments are sent again from their own lane, before its new data. Flow control:
 * a reliable message starts only if the credit the peer granted covers its cost; while a lane's
 * next message waits for credit, no other lane of that priority or below starts one (so a large
 * message is not starved by small ones).
 */
import { Fifo } from '../../util/fifo';
import { writeFragmentHeader, FRAGMENT_OVERHEAD, UNRELIABLE_OVERHEAD } from './wire';

/** One lane of the `lanes` socket option. */
export interface LaneConfig {
  priority: number;
  weight: number;
}

/** Flow-control cost of a reliable message beyond its bytes (so empty messages are bounded too); both ends use it. */
export const MESSAGE_COST = 64;
/**
 * The bound of the app's send queue (bytes of messages not yet sent the first time, plus
 * {@link QUEUE_COST} each): 4 MiB, or 8 messages of `maxMessageSize` if that is more.
 */
export function sendQueueLimit(maxMessageSize: number): number {
  return Math.max(4 * 1024 * 1024, 8 * maxMessageSize);
}

/** What a queued message counts against the send queue's bound beyond its bytes (its objects). */
const QUEUE_COST = 64;
/** A fragment is cut to fit the rest of a packet only if at least this much of it fits. */
const MIN_PIECE = 64;

export interface OutMessage {
  readonly data: Buffer;
  readonly lane: number;
  readonly reliable: boolean;
  /** Reliable: its number on its lane; unreliable: its number on the connection. */
  readonly id: number;
  /** Bytes sent the first time. */
  sent: number;
  /** Reliable: fragments sent and not yet acknowledged. */
  unacked: number;
  done: boolean;
}

/** A reliable fragment sent and kept until acknowledged (a retransmission sends the same one again). */
export interface SentFrag {
  readonly msg: OutMessage;
  readonly offset: number;
  readonly len: number;
  acked: boolean;
  /** Waiting in its lane's retransmission queue (so a probe and a loss do not queue it twice). */
  queued: boolean;
}

class Lane {
  /** The lanes of its priority (set once they are grouped). */
  group!: Group;
  /** The message being sent, then the ones after it. */
  head: OutMessage | null = null;
  readonly queue = new Fifo<OutMessage>();
  retransmit: SentFrag[] = [];
  vtime = 0;
  nextId = 0;
  /** Messages not done (unacknowledged reliable, unsent unreliable). */
  pending = 0;
  /** Bytes not sent the first time. */
  unsent = 0;

  constructor(
    readonly priority: number,
    readonly weight: number,
  ) {}

  get busy(): boolean {
    return this.head !== null || this.retransmit.length > 0;
  }
}

interface Group {
  lanes: Lane[];
  vclock: number;
}

export class SendLanes {
  private readonly lanes: Lane[];
  private readonly groups: Group[];
  /** Every message in send order, for the results (one per message, in call order). */
  private readonly order = new Fifo<OutMessage>();
  private nextUnreliableId = 0;
  /** Bytes and objects of messages not yet sent the first time (the bounded part). */
  private backlog = 0;
  /** Flow control: the credit the peer granted, and the cost of the reliable messages started. */
  peerCredit: number;
  private started = 0;
  /** Unreliable messages dropped because the queue was full. */
  dropped = 0;

  constructor(
    config: readonly LaneConfig[],
    /** The bound of {@link SendLanes.backlog}. */
    readonly limit: number,
    initialCredit: number,
  ) {
    this.lanes = config.map((c) => new Lane(c.priority, c.weight));
    const priorities = [...new Set(config.map((c) => c.priority))].sort((a, b) => a - b);
    this.groups = priorities.map((p) => ({ lanes: this.lanes.filter((l) => l.priority === p), vclock: 0 }));
    for (const g of this.groups) for (const l of g.lanes) l.group = g;
    this.peerCredit = initialCredit;
  }

  get laneCount(): number {
    return this.lanes.length;
  }

  /**
   * Queues a message (the caller's own copy). False if the queue is full: an unreliable message
   * is then dropped (and still reported, in order); a reliable one was not queued.
   */
  push(data: Buffer, reliable: boolean, laneIndex: number): boolean {
    const lane = this.lanes[laneIndex];
    const cost = data.byteLength + QUEUE_COST;
    const full = this.backlog + cost > this.limit;
    if (full && reliable) return false;
    const msg: OutMessage = { data, lane: laneIndex, reliable, id: reliable ? lane.nextId++ : this.nextUnreliableId++, sent: 0, unacked: 0, done: full };
    this.order.push(msg);
    if (full) {
      this.dropped++;
      return false;
    }
    this.backlog += cost;
    lane.pending++;
    lane.unsent += data.byteLength;
    if (!lane.busy) lane.vtime = Math.max(lane.vtime, lane.group.vclock); // an idle lane saves up no share
    if (lane.head === null) lane.head = msg;
    else lane.queue.push(msg);
    return true;
  }

  /** Messages done at the front of the send order (acknowledged, or unreliable and sent): one result each. */
  popDone(): number {
    let n = 0;
    for (let m = this.order.peek(); m !== undefined && m.done; m = this.order.peek()) {
      this.order.shift();
      n++;
    }
    return n;
  }

  /** Messages not done yet, over all lanes. */
  get pending(): number {
    return this.order.length;
  }

  /** Bytes not sent the first time, over all lanes. */
  get unsent(): number {
    let n = 0;
    for (const l of this.lanes) n += l.unsent;
    return n;
  }

  laneStats(): { queuedMessages: number; queuedBytes: number }[] {
    return this.lanes.map((l) => ({ queuedMessages: l.pending, queuedBytes: l.unsent }));
  }

  // ---- acknowledgements and losses ---------------------------------------------------------

  acked(f: SentFrag): void {
    if (f.acked) return;
    f.acked = true;
    const m = f.msg;
    // Fully sent means it left its lane's head (sentInFull); the last ack finishes it.
    if (--m.unacked === 0 && m.sent === m.data.byteLength && !m.done) this.finish(m);
  }

  /** A reliable fragment's packet was declared lost: it goes again, from its lane. */
  lost(f: SentFrag): void {
    if (f.acked || f.queued) return;
    f.queued = true;
    this.lanes[f.msg.lane].retransmit.push(f);
  }

  private finish(m: OutMessage): void {
    m.done = true;
    this.lanes[m.lane].pending--;
  }

  // ---- packing -------------------------------------------------------------------------------

  /** Whether {@link SendLanes.pack} would write anything into an empty packet. */
  hasSendable(): boolean {
    return this.pick() !== null;
  }

  /**
   * Writes fragments into `buf` from `at` up to `end`, lane by lane as the scheduling says;
   * reliable ones go to `frags` (to be acknowledged or sent again). Returns the new end.
   * Fragments are at most `fragSize` bytes, so a retransmission fits any packet.
   */
  pack(buf: Buffer, at: number, end: number, fragSize: number, frags: SentFrag[]): number {
    for (;;) {
      const lane = this.pick();
      if (lane === null) return at;
      let len: number;
      if (lane.retransmit.length > 0) {
        const f = lane.retransmit[0];
        if (f.acked) {
          lane.retransmit.shift();
          f.queued = false;
          continue;
        }
        if (at + FRAGMENT_OVERHEAD + f.len > end) return at;
        lane.retransmit.shift();
        f.queued = false;
        at = this.writeReliable(buf, at, f);
        frags.push(f);
        len = f.len;
        this.retransmits++;
      } else {
        const m = lane.head!;
        const overhead = m.reliable ? FRAGMENT_OVERHEAD : UNRELIABLE_OVERHEAD;
        const left = m.data.byteLength - m.sent;
        const room = end - at - overhead;
        len = Math.min(fragSize, left, room);
        if (len < 0 || (len < left && len < MIN_PIECE && len < fragSize)) return at;
        if (m.reliable && m.sent === 0) this.started += m.data.byteLength + MESSAGE_COST;
        if (m.reliable) {
          const f: SentFrag = { msg: m, offset: m.sent, len, acked: false, queued: false };
          m.unacked++;
          at = this.writeReliable(buf, at, f);
          frags.push(f);
        } else {
          at = writeFragmentHeader(buf, at, false, m.lane, m.id, m.sent, m.data.byteLength, len);
          m.data.copy(buf, at, m.sent, m.sent + len);
          at += len;
        }
        m.sent += len;
        lane.unsent -= len;
        if (m.sent === m.data.byteLength) this.sentInFull(lane, m);
      }
      lane.group.vclock = lane.vtime;
      lane.vtime += (len + MESSAGE_COST) / lane.weight;
    }
  }

  /** Fragments sent again (counted as they are packed). */
  retransmits = 0;

  private writeReliable(buf: Buffer, at: number, f: SentFrag): number {
    const m = f.msg;
    at = writeFragmentHeader(buf, at, true, m.lane, m.id, f.offset, m.data.byteLength, f.len);
    m.data.copy(buf, at, f.offset, f.offset + f.len);
    return at + f.len;
  }

  private sentInFull(lane: Lane, m: OutMessage): void {
    this.backlog -= m.data.byteLength + QUEUE_COST;
    lane.head = lane.queue.shift() ?? null;
    // An unreliable message is done once sent; a reliable one once every fragment is acknowledged.
    if (!m.reliable || m.unacked === 0) this.finish(m);
  }

  /**
   * The lane to serve next: the best priority with something it may send; within it, the
   * smallest virtual time. A reliable message that may not start for want of credit blocks the
   * start of reliable messages on its lane and every lane after it in this order.
   */
  private pick(): Lane | null {
    let blocked = false;
    for (const g of this.groups) {
      for (const lane of g.lanes) {
        if (lane.retransmit.length > 0) continue;
        const m = lane.head;
        if (m !== null && m.reliable && m.sent === 0 && this.started + m.data.byteLength + MESSAGE_COST > this.peerCredit) blocked = true;
      }
      let best: Lane | null = null;
      for (const lane of g.lanes) {
        if (!lane.busy) continue;
        if (lane.retransmit.length === 0 && blocked) {
          const m = lane.head!;
          if (m.reliable && m.sent === 0) continue;
        }
        if (best === null || lane.vtime < best.vtime) best = lane;
      }
      if (best !== null) return best;
    }
    return null;
  }
}
