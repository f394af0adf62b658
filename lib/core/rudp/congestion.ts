/**
 * One rudp connection's congestion control and pacer (docs/rudp-wire.md, "Congestion control"):
 * RFC 9002 §7 NewReno, with four rules from documented algorithms for what NewReno does badly
 * on a loopback, a LAN or a lossy radio link (each explained where it acts), and a token-bucket
 * pacer. It sees the connection only through the RTT estimate and the calls below.
 */
import { INITIAL_RTT, RttEstimate } from './rtt';

/**
 * Below this queueing delay (ms; or the smallest RTT, on a long path) a loss is taken as random,
 * not congestion; from it (or a quarter of the smallest RTT) a standing queue with no loss is drained.
 */
const QUEUE_DELAY_MS = 4;
/**
 * A queue is drained from {@link QUEUE_DELAY_MS} or this share of the smallest RTT: a smaller
 * share than a loss's, because a connection that measured its smallest RTT behind another's
 * queue sees less queue than there is, and must still give way.
 */
const DRAIN_RTT_SHARE = 0.25;
/** What a random loss, or a queue with no loss, leaves of the window (TCP Veno's 4/5). */
const RANDOM_LOSS_BETA = 0.8;
/**
 * Slow start ends once our queue on the path holds this much (ms; or half the smallest RTT, on
 * a long path); the window after a random loss keeps this much queue over the path's BDP.
 */
const QUEUE_GROW_MS = 2;
/** The delivery rate's largest sample is kept this many round trips. */
const RATE_WINDOW_RTTS = 10;
/** The smallest round trip a rate is computed with, in ms. */
const MIN_RATE_RTT = 0.05;
/**
 * The pacer lets out at most this many milliseconds of its rate at once: a Node timer waits a
 * millisecond or more, so a smaller burst would cap the rate at a burst per timer tick.
 */
const PACER_BURST_MS = 2;

export class Congestion {
  /** The congestion window, bytes. */
  cwnd: number;
  private ssthresh = Infinity;
  /** Packets sent before this time do not grow the window, nor does their loss shrink it again (RFC 9002 §7.3.2). */
  private recoveryStart = -1;
  private tokens: number;
  private tokensAt = performance.now();
  /** Delivery rate: bytes acknowledged ever, the current sample's start, the largest recent sample (bytes/ms). */
  private delivered = 0;
  private rateAt = performance.now();
  private rateDelivered = 0;
  private maxRate = 0;
  private maxRateAt = 0;
  /** When the window was last cut for a standing queue (ms). */
  private drainedAt = 0;

  constructor(
    private readonly mtu: number,
    private readonly rtt: RttEstimate,
    /** Where each reduction is logged (the connection's host). */
    private readonly log: { traceLine(message: string): void },
  ) {
    this.cwnd = 10 * mtu;
    this.tokens = this.cwnd;
  }

  /** What the controller allows now, bytes per second: the window per smoothed RTT. */
  get sendRate(): number {
    return (this.cwnd * 1000) / this.rttForRate();
  }

  // ---- acknowledgements and losses ---------------------------------------------------------

  /**
   * An ACK frame arrives; {@link Congestion.acked} follows for each packet it acknowledged.
   * Slow start ends when the RTT rises by {@link QUEUE_GROW_MS} (HyStart++'s idea, RFC 9406): a
   * window doubled until a loss fills a loopback's or a LAN's buffers, many round trips deep,
   * before the first drop tells it to stop.
   */
  ackStart(): void {
    if (this.cwnd < this.ssthresh && this.queueing(QUEUE_GROW_MS, 0.5)) this.ssthresh = this.cwnd;
  }

  /** A packet of `size` bytes sent at `sentAt` was acknowledged. */
  acked(size: number, sentAt: number): void {
    this.delivered += size;
    if (sentAt <= this.recoveryStart) return;
    if (this.cwnd < this.ssthresh) this.cwnd += size;
    else this.cwnd += (this.mtu * size) / this.cwnd;
  }

  /**
   * The ACK frame is done: the delivery rate is sampled once per smallest round trip from the
   * bytes acknowledged, and the largest sample of the last {@link RATE_WINDOW_RTTS} round trips
   * is kept (an app that sends less lowers it; nothing raises it but acknowledgements).
   */
  ackEnd(now: number): void {
    const interval = now - this.rateAt;
    if (interval < Math.max(this.rtt.minRtt, MIN_RATE_RTT)) return;
    const rate = (this.delivered - this.rateDelivered) / interval;
    if (rate >= this.maxRate || now - this.maxRateAt > RATE_WINDOW_RTTS * Math.max(this.rtt.smoothed, 1)) {
      this.maxRate = rate;
      this.maxRateAt = now;
    }
    this.rateAt = now;
    this.rateDelivered = this.delivered;
    this.drain(now);
  }

  /**
   * A standing queue with no loss ({@link QUEUE_DELAY_MS}): the window loses a fifth, at most once
   * per smoothed RTT so the cut can show in the samples first, never below the path's
   * bandwidth-delay product (the largest recent delivery rate times the smallest RTT). TCP Vegas
   * lowers its window on a growing queue (L. Brakmo and L. Peterson, IEEE JSAC 1995); the cut is
   * multiplicative and the growth between cuts a packet per round trip, so connections that
   * share a queue move toward equal shares as under loss-driven AIMD (D. Chiu and R. Jain, 1989),
   * though not all the way (Vegas' min-RTT bias: docs/rudp-wire.md). A loss's reduction counts
   * as the round trip's cut. Without it a deep buffer (a relay's or a router's 1 MiB) holds
   * 10 ms of queue and more for the connection's life, and every later loss there is taken for
   * congestion.
   */
  private drain(now: number): void {
    if (now - Math.max(this.drainedAt, this.recoveryStart) < this.rtt.smoothed || !this.queueing(QUEUE_DELAY_MS, DRAIN_RTT_SHARE)) return;
    const next = Math.max(2 * this.mtu, this.cwnd * RANDOM_LOSS_BETA, this.pathWindow(0));
    if (next >= this.cwnd) return;
    const before = this.cwnd;
    this.cwnd = next;
    this.ssthresh = Math.min(this.ssthresh, next);
    this.drainedAt = now;
    const queue = (this.rtt.smoothed - this.rtt.minRtt).toFixed(2);
    this.log.traceLine(
      `queue: window ${Math.round(before)} -> ${Math.round(next)} bytes (queue ${queue} ms over the smallest RTT, ${this.rtt.minRtt.toFixed(2)} ms; no loss)`,
    );
  }

  /**
   * Packets were declared lost, the newest of them sent at `newestSentAt`: one reduction per
   * recovery period. A loss behind a queue (the smoothed RTT 4 ms or more above the smallest, or
   * the smallest RTT on a long path) halves the window, as NewReno does; without one it is taken
   * for random loss (TCP Veno's rule: C. P. Fu and S. C. Liew, IEEE JSAC 21(2), 2003), see
   * {@link Congestion.windowAfterRandomLoss}. Each reduction is logged with the window before
   * and after.
   */
  lost(newestSentAt: number, now: number): void {
    if (newestSentAt <= this.recoveryStart) return;
    this.recoveryStart = now;
    const before = this.cwnd;
    const congestion = this.queueing(QUEUE_DELAY_MS, 1);
    this.ssthresh = Math.max(congestion ? before / 2 : this.windowAfterRandomLoss(), 2 * this.mtu);
    this.cwnd = this.ssthresh;
    const queue = (this.rtt.smoothed - this.rtt.minRtt).toFixed(2);
    this.log.traceLine(`loss: window ${Math.round(before)} -> ${Math.round(this.cwnd)} bytes (${congestion ? 'congestion' : 'random'}: queue ${queue} ms)`);
  }

  /**
   * The window after a random loss: a fifth less, but not below the window the path proved it
   * carries (the largest recent delivery rate times the smallest RTT plus slow start's
   * {@link QUEUE_GROW_MS}: BBR's bandwidth-delay estimate, draft-ietf-ccwg-bbr), or at a few
   * percent of random loss the window would spend its time regrowing. Never above the window
   * before.
   */
  private windowAfterRandomLoss(): number {
    return Math.min(this.cwnd, Math.max(this.cwnd * RANDOM_LOSS_BETA, this.pathWindow(QUEUE_GROW_MS)));
  }

  /**
   * The largest recent delivery rate times (the smallest RTT + `queueMs`); 0 before both were
   * measured (a loss can be declared before the first RTT sample: on a path the peer just moved
   * to, the packets sent to the old one), where 0 × Infinity would make the window NaN.
   */
  private pathWindow(queueMs: number): number {
    return this.maxRate > 0 && Number.isFinite(this.rtt.minRtt) ? this.maxRate * (this.rtt.minRtt + queueMs) : 0;
  }

  /**
   * Our data waits in a queue on the path for `ms` or more, or `share` of the smallest RTT if
   * that is more (a long path's RTT varies by more than a LAN's queue): the smoothed RTT exceeds
   * the smallest by that much.
   */
  private queueing(ms: number, share: number): boolean {
    const srtt = this.rtt.srtt;
    return srtt !== null && srtt - this.rtt.minRtt >= Math.max(ms, share * this.rtt.minRtt);
  }

  // ---- the pacer ---------------------------------------------------------------------------

  /** The round-trip time rates are computed with (a loopback's can be a few microseconds). */
  private rttForRate(): number {
    return Math.max(MIN_RATE_RTT, this.rtt.srtt ?? INITIAL_RTT);
  }

  /** Bytes per millisecond the pacer lets out: 1.25 windows per round trip (RFC 9002 §7.7's N). */
  private pacingRate(): number {
    return (1.25 * this.cwnd) / this.rttForRate();
  }

  /**
   * Refills the bucket for the time since the last refill, up to a burst of max(10 packets,
   * a quarter window, {@link PACER_BURST_MS} of the rate).
   */
  refill(now: number): void {
    const rate = this.pacingRate();
    this.tokens = Math.min(Math.max(10 * this.mtu, this.cwnd / 4, rate * PACER_BURST_MS), this.tokens + rate * (now - this.tokensAt));
    this.tokensAt = now;
  }

  /** Whether a full packet may go with `inFlight` bytes unacknowledged (the window and the pacer). */
  canSend(inFlight: number): boolean {
    return inFlight + this.mtu <= this.cwnd && this.tokens >= this.mtu;
  }

  /** Whether the window has room for a full packet (the pacer aside). */
  windowOpen(inFlight: number): boolean {
    return inFlight + this.mtu <= this.cwnd;
  }

  /** An ack-eliciting packet of `size` bytes went. */
  spend(size: number): void {
    this.tokens -= size;
  }

  /** How long until the pacer lets a full packet out (ms; 0 if it would now). */
  get pacerWait(): number {
    return Math.max(0, (this.mtu - this.tokens) / this.pacingRate());
  }
}
