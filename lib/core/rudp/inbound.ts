/**
 * The receiving side of one rudp connection's messages (docs/rudp.md, "Bounds"): reliable
 * messages reassembled and delivered in order per lane, exactly once; unreliable ones delivered
 * as they complete, never twice (a packet is processed once) and never with a hole (memory for a
 * reassembly is zeroed, and only whole messages leave). Every part is bounded:
 *
 * - Reliable: the cost (bytes + {@link MESSAGE_COST}) of the messages held, reassembling or
 *   waiting for the app, never exceeds `window`. A sender that keeps to its credit cannot pass
 *   it (the credit granted is what the app consumed plus `window`), so one that does broke flow
 *   control: `fragment()` says so and the connection ends.
 * - Unreliable, reassembling: at most `window` bytes; a message that would pass it drops the
 *   oldest incomplete ones first, and an incomplete one that got no fragment for
 *   {@link UNRELIABLE_TIMEOUT_MS} is dropped.
 * - Unreliable, complete and waiting for the app: at most `window` of cost; one more is dropped.
 */
import { Fifo } from '../../util/fifo';
import { MESSAGE_COST } from './send-lanes';
import { Fragment, fragmentBytes } from './wire';

/** An incomplete unreliable message is dropped after this long without a fragment. */
export const UNRELIABLE_TIMEOUT_MS = 1000;

interface Reassembly {
  buf: Buffer;
  got: Set<number>;
  bytes: number;
  /** When its last fragment came (unreliable). */
  at: number;
}

interface LaneIn {
  next: number;
  partial: Map<number, Reassembly>;
}

export const enum Verdict {
  Ok,
  /** The peer started a reliable message beyond the credit it was granted. */
  OverCredit,
  /** A reliable message larger than this end's `maxMessageSize`. */
  TooLarge,
}

/** The (never written) map of a connection that has no incomplete unreliable message yet. */
const NO_REASSEMBLIES = new Map<number, Reassembly>();

export class Inbound {
  /** Per lane number (0…255), made at its first fragment: an idle connection holds no map. */
  private readonly lanes: (LaneIn | undefined)[] = [];
  /** Incomplete unreliable messages, the least recently added to first (the shared empty map until the first). */
  private unreliable = NO_REASSEMBLIES;
  private unreliableBytes = 0;
  /** Whole messages waiting for the app, and each one's cost (negative: unreliable). */
  private readonly inbox = new Fifo<Buffer>();
  private readonly costs = new Fifo<number>();
  /** Cost of the reliable messages held (reassembling or in the inbox). */
  private held = 0;
  private unreliableQueued = 0;
  /** Cost of the reliable messages the app took: the credit granted is this plus `window`. */
  consumed = 0;
  /** Bytes waiting in the inbox. */
  inboxBytes = 0;
  /** Unreliable messages dropped: incomplete after the time-out or over the bound, or the inbox full. */
  dropped = 0;

  constructor(
    private readonly maxMessageSize: number,
    readonly window: number,
  ) {}

  get waiting(): number {
    return this.inbox.length;
  }

  /** One fragment of a fresh packet. */
  fragment(f: Fragment, now: number): Verdict {
    if (!f.reliable) {
      this.unreliableFragment(f, now);
      return Verdict.Ok;
    }
    let lane = this.lanes[f.lane];
    if (lane === undefined) this.lanes[f.lane] = lane = { next: 0, partial: new Map() };
    if (f.msgId < lane.next) return Verdict.Ok; // delivered before
    let m = lane.partial.get(f.msgId);
    if (m === undefined) {
      if (f.total > this.maxMessageSize) return Verdict.TooLarge;
      const cost = f.total + MESSAGE_COST;
      if (this.held + cost > this.window) return Verdict.OverCredit;
      this.held += cost;
      if (f.len === f.total && f.msgId === lane.next) {
        // The common case: a whole message, the next one on its lane.
        this.push(fragmentBytes(f), cost);
        lane.next++;
        this.deliverInOrder(lane);
        return Verdict.Ok;
      }
      m = { buf: Buffer.alloc(f.total), got: new Set(), bytes: 0, at: now };
      lane.partial.set(f.msgId, m);
    }
    if (m.buf.byteLength !== f.total || !this.add(m, f)) return Verdict.Ok;
    if (f.msgId === lane.next) this.deliverInOrder(lane);
    return Verdict.Ok;
  }

  /**
   * Copies a new fragment in; false if it was there already, or if the message already holds
   * one recorded fragment per 64 bytes (plus its last): a sender's fragments are hundreds of
   * bytes, so only a peer slicing a message into tiny pieces meets this bound on the record.
   */
  private add(m: Reassembly, f: Fragment): boolean {
    if (m.got.has(f.offset)) return false;
    if (m.got.size > m.buf.byteLength / 64 + 1 && f.offset + f.len !== m.buf.byteLength) return false;
    m.got.add(f.offset);
    f.packet.copy(m.buf, f.offset, f.at, f.at + f.len);
    m.bytes += f.len;
    return true;
  }

  private deliverInOrder(lane: LaneIn): void {
    for (;;) {
      const m = lane.partial.get(lane.next);
      if (m === undefined || m.bytes < m.buf.byteLength || m.got.size === 0) return;
      lane.partial.delete(lane.next++);
      this.push(m.buf, m.buf.byteLength + MESSAGE_COST);
    }
  }

  private unreliableFragment(f: Fragment, now: number): void {
    if (f.total > this.maxMessageSize) {
      this.dropped++;
      return;
    }
    if (f.len === f.total) return this.unreliableWhole(fragmentBytes(f));
    if (this.unreliable === NO_REASSEMBLIES) this.unreliable = new Map();
    let m = this.unreliable.get(f.msgId);
    if (m === undefined) {
      while (this.unreliableBytes + f.total > this.window && this.unreliable.size > 0) this.dropOldest();
      m = { buf: Buffer.alloc(f.total), got: new Set(), bytes: 0, at: now };
      this.unreliableBytes += f.total;
    } else {
      this.unreliable.delete(f.msgId); // set again below: the map stays in order of the last fragment
      if (m.buf.byteLength !== f.total) {
        this.unreliable.set(f.msgId, m);
        return;
      }
    }
    this.add(m, f);
    m.at = now;
    if (m.bytes < m.buf.byteLength) {
      this.unreliable.set(f.msgId, m);
      return;
    }
    this.unreliableBytes -= m.buf.byteLength;
    this.unreliableWhole(m.buf);
  }

  private dropOldest(): void {
    const [id, m] = this.unreliable.entries().next().value as [number, Reassembly];
    this.unreliable.delete(id);
    this.unreliableBytes -= m.buf.byteLength;
    this.dropped++;
  }

  private unreliableWhole(buf: Buffer): void {
    const cost = buf.byteLength + MESSAGE_COST;
    if (this.unreliableQueued + cost > this.window) {
      this.dropped++;
      return;
    }
    this.unreliableQueued += cost;
    this.push(buf, -cost);
  }

  private push(buf: Buffer, cost: number): void {
    this.inbox.push(buf);
    this.costs.push(cost);
    this.inboxBytes += buf.byteLength;
  }

  /** The next whole message for the app, or undefined; a reliable one adds its cost to `consumed`. */
  take(): Buffer | undefined {
    const buf = this.inbox.shift();
    if (buf === undefined) return undefined;
    const cost = this.costs.shift()!;
    this.inboxBytes -= buf.byteLength;
    if (cost > 0) {
      this.held -= cost;
      this.consumed += cost;
    } else this.unreliableQueued += cost;
    return buf;
  }

  /** Drops incomplete unreliable messages that got no fragment for the time-out. */
  sweep(now: number): void {
    for (const m of this.unreliable.values()) {
      if (now - m.at < UNRELIABLE_TIMEOUT_MS) return;
      this.dropOldest();
    }
  }

  /** When the next incomplete unreliable message times out; 0 if none. */
  get nextDeadline(): number {
    if (this.unreliable.size === 0) return 0; // no iterator: this is asked after every flush
    for (const m of this.unreliable.values()) return m.at + UNRELIABLE_TIMEOUT_MS;
    return 0;
  }
}
