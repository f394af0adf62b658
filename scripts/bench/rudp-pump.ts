// The client-side bookkeeping of the rudp bench's unreliable and ping-pong workloads, shared
// by the framework and raw dgram peers; enet-peer.c does the same in C with the same constants.
import { DGRAM, PING, PeerIo, fillPing, msSince, samePing } from './common';

/** An echo this many messages past an unanswered one means that one is lost (the paths do not reorder). */
export const REORDER = 32;
/** No echo for this long: every unanswered message is lost. */
export const STALL_MS = 300;

/**
 * Unreliable rate: `total` messages of 512 B, at most `window` unanswered, each echoed by the
 * server. Unlike the UDP workload's pump (udp.ts), a loss does not stall the window until a
 * time-out: a message is written off once the echo of one `REORDER` later came back, so the
 * rate through a lossy relay is the rate, not the time-out.
 */
export class UnrelPump {
  sent = 0;
  got = 0;
  lost = 0;
  /** Echoes of messages already written off. */
  late = 0;
  dup = 0;
  bad = 0;
  private low = 0;
  private progress = -1;
  private readonly state: Uint8Array; // 0 unanswered, 1 echoed, 2 lost
  private start = 0n;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly total: number,
    readonly window: number,
    private readonly sendOne: (seq: number) => void,
    private readonly done: (ms: number) => void,
  ) {
    this.state = new Uint8Array(total);
  }

  begin(): void {
    this.start = process.hrtime.bigint();
    this.timer = setInterval(() => this.watch(), STALL_MS);
    this.fill();
  }

  echo(b: Uint8Array, len: number): void {
    const seq = len >= 4 ? (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0 : -1;
    if (len !== DGRAM || seq < 0 || seq >= this.sent || b[DGRAM - 1] !== ((seq * 13) & 0xff)) this.bad++;
    else if (this.state[seq] === 1) this.dup++;
    else if (this.state[seq] === 2) this.late++;
    else {
      this.state[seq] = 1;
      this.got++;
      while (this.low < this.sent && (this.state[this.low] !== 0 || this.low + REORDER < seq)) this.writeOff(this.low++);
    }
    if (!this.finished()) this.fill();
  }

  private writeOff(seq: number): void {
    if (this.state[seq] !== 0) return;
    this.state[seq] = 2;
    this.lost++;
  }

  private fill(): void {
    while (this.sent < this.total && this.sent - this.got - this.lost < this.window) this.sendOne(this.sent++);
  }

  private watch(): void {
    if (this.got + this.lost === this.progress) {
      while (this.low < this.sent) this.writeOff(this.low++);
      if (!this.finished()) this.fill();
    }
    this.progress = this.got + this.lost;
  }

  private finished(): boolean {
    if (this.timer === null) return true; // reported already
    if (this.got + this.lost < this.total) return false;
    clearInterval(this.timer);
    this.timer = null;
    this.done(msSince(this.start));
    return true;
  }

  /** The RESULT line (and the errors that go with it). */
  report(io: PeerIo, ms: number, extra: Record<string, unknown> = {}): void {
    if (this.bad > 0 || this.dup > 0) io.error(`${this.bad} wrong and ${this.dup} duplicated echoes`);
    io.result({ ms, messages: this.got, sent: this.total, lost: this.lost, late: this.late, ...extra });
  }
}

/** Round-trip times of a ping-pong run: p50 and p99 in ms. */
export class RoundTrips {
  private readonly times: Float64Array;
  private n = 0;
  constructor(rounds: number) {
    this.times = new Float64Array(rounds);
  }
  add(ms: number): void {
    if (this.n < this.times.length) this.times[this.n++] = ms;
  }
  summary(): { p50Ms: number; p99Ms: number } {
    const t = this.times.subarray(0, this.n).sort();
    return { p50Ms: t[this.n >> 1] ?? 0, p99Ms: t[Math.floor((this.n * 99) / 100)] ?? 0 };
  }
}

/**
 * A ping-pong client's loop: 64 B messages one at a time through `send`, `warmup` untimed round
 * trips, then `rounds` timed ones. `send` may keep the message until its echo came back.
 */
export class PingPong {
  /** Round trips completed, warm-up included. */
  round = 0;
  private readonly times: RoundTrips;
  private readonly out = Buffer.alloc(PING);
  private start = 0n;
  private sentAt = 0n;

  constructor(
    readonly rounds: number,
    readonly warmup: number,
    private readonly io: PeerIo,
    private readonly send: (m: Buffer) => void,
  ) {
    this.times = new RoundTrips(rounds);
  }

  begin(): void {
    this.start = process.hrtime.bigint();
    this.ping();
  }

  /** An echo: the RESULT figures once the last round trip is done (the caller then closes), else null. */
  echo(m: Uint8Array): Record<string, number> | null {
    if (this.round >= this.warmup) this.times.add(msSince(this.sentAt));
    if (m.byteLength !== PING || !samePing(m, 0, this.out)) this.io.error(`round ${this.round}: wrong echo (${m.byteLength} bytes)`);
    if (++this.round === this.warmup) this.start = process.hrtime.bigint();
    if (this.round < this.warmup + this.rounds) {
      this.ping();
      return null;
    }
    return { ms: msSince(this.start), rounds: this.rounds, ...this.times.summary() };
  }

  private ping(): void {
    fillPing(this.out, this.round);
    this.sentAt = process.hrtime.bigint();
    this.send(this.out);
  }
}
