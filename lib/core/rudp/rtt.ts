/**
 * A connection's round-trip time, as RFC 9002 §5 estimates it: the smoothed RTT and its
 * variation, the smallest RTT seen and the latest sample; the peer's ack delay is subtracted
 * from a sample when that keeps it at or above the smallest.
 */

/** The RTT assumed before the first sample (ms). */
export const INITIAL_RTT = 100;

export class RttEstimate {
  /** Smoothed RTT (ms), null before the first sample. */
  srtt: number | null = null;
  rttvar = 0;
  minRtt = Infinity;
  latestRtt = 0;

  constructor(
    /** The most of the peer's reported ack delay a sample is corrected by (its `max_ack_delay`). */
    private readonly maxAckDelay: number,
  ) {}

  /** The smoothed RTT, or the initial one before the first sample. */
  get smoothed(): number {
    return this.srtt ?? INITIAL_RTT;
  }

  sample(rtt: number, ackDelay: number): void {
    this.latestRtt = rtt;
    this.minRtt = Math.min(this.minRtt, rtt);
    if (this.srtt === null) {
      this.srtt = rtt;
      this.rttvar = rtt / 2;
      return;
    }
    const delay = Math.min(ackDelay, this.maxAckDelay);
    const adjusted = rtt - delay >= this.minRtt ? rtt - delay : rtt;
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - adjusted);
    this.srtt = 0.875 * this.srtt + 0.125 * adjusted;
  }
}
