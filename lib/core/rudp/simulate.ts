/** The `simulate` option: loss, a rate-limited bottleneck, duplication, reordering, delay and jitter on every datagram (for tests and demos). */

/** rudp's `simulate` option, per datagram sent or received (socket option `simulate`). */
export interface RudpSimulate {
  /** Percent of datagrams dropped (0–100). */
  lossPercent?: number;
  /** Percent of datagrams delivered twice. */
  duplicatePercent?: number;
  /** Percent of datagrams held back 1–11 ms more than the others. */
  reorderPercent?: number;
  /** Delay added to every datagram, in ms. */
  delayMs?: number;
  /** A random delay of up to this many ms added to every datagram. */
  jitterMs?: number;
  /**
   * A bottleneck: datagrams leave at most at this many bytes per second, in order, through a
   * queue of `rateLimitQueueBytes`; a datagram that does not fit is dropped (drop-tail, as a
   * router's full queue does). A listening socket's bottleneck is on what arrives at its port,
   * so all its connections share it. Absent or 0: no limit.
   */
  rateLimitBytesPerSec?: number;
  /** The bottleneck's queue, in bytes. Default 64 KiB. */
  rateLimitQueueBytes?: number;
  /** A seed for the simulator's RNG (repeatable runs); Math.random when absent. */
  seed?: number;
}

/** The default bottleneck queue: 64 KiB. */
export const DEFAULT_RATE_LIMIT_QUEUE_BYTES = 64 * 1024;

/** A small seeded RNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkSimulate(s: RudpSimulate): void {
  if (typeof s !== 'object' || s === null) throw new TypeError('simulate: expected an object');
  for (const key of ['lossPercent', 'duplicatePercent', 'reorderPercent', 'delayMs', 'jitterMs', 'rateLimitBytesPerSec', 'rateLimitQueueBytes'] as const) {
    const v = s[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`simulate.${key}: expected a number >= 0, got ${String(v)}`);
  }
}

/**
 * A link of `rate` bytes per second with a drop-tail queue of `limit` bytes: each datagram
 * leaves when the ones before it have (its departure time is computed when it arrives), and
 * one timer serves whatever is due.
 */
class Bottleneck {
  private readonly queue: { at: number; bytes: number; go: () => void }[] = [];
  private head = 0;
  private queued = 0;
  private freeAt = 0;
  private timer: NodeJS.Timeout | null = null;
  dropped = 0;

  constructor(
    private readonly rate: number,
    private readonly limit: number,
  ) {}

  enqueue(bytes: number, go: () => void): void {
    if (this.queued + bytes > this.limit) {
      this.dropped++;
      return;
    }
    const now = performance.now();
    this.freeAt = Math.max(now, this.freeAt) + (bytes * 1000) / this.rate;
    this.queue.push({ at: this.freeAt, bytes, go });
    this.queued += bytes;
    this.arm(now);
  }

  private arm(now: number): void {
    if (this.timer || this.head >= this.queue.length) return;
    this.timer = setTimeout(() => this.serve(), Math.max(0, this.queue[this.head].at - now));
  }

  private serve(): void {
    this.timer = null;
    const now = performance.now();
    while (this.head < this.queue.length && this.queue[this.head].at <= now) {
      const d = this.queue[this.head++];
      this.queued -= d.bytes;
      d.go();
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.arm(now);
  }

  /** Everything queued leaves now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const rest = this.queue.slice(this.head);
    this.queue.length = this.head = this.queued = 0;
    for (const d of rest) d.go();
  }
}

/** Passes each datagram to `deliver` zero, one or two times, now or later, as the settings say. */
export class Simulator {
  private readonly random: () => number;
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private flushing = false;
  private readonly bottleneck: Bottleneck | null;
  private lost = 0;

  /** @throws TypeError or RangeError for malformed settings */
  constructor(private readonly s: RudpSimulate) {
    checkSimulate(s);
    this.random = s.seed !== undefined ? seededRandom(s.seed) : Math.random;
    const rate = s.rateLimitBytesPerSec ?? 0;
    this.bottleneck = rate > 0 ? new Bottleneck(rate, s.rateLimitQueueBytes ?? DEFAULT_RATE_LIMIT_QUEUE_BYTES) : null;
  }

  /** Datagrams dropped: by `lossPercent`, and by the bottleneck's full queue. */
  get dropped(): number {
    return this.lost + (this.bottleneck?.dropped ?? 0);
  }

  /** One datagram of `bytes` bytes; `deliver` passes it on. */
  apply(deliver: () => void, bytes = 0): void {
    if (this.random() * 100 < (this.s.lossPercent ?? 0)) {
      this.lost++;
      return;
    }
    if (this.bottleneck) this.bottleneck.enqueue(bytes, () => this.pass(deliver));
    else this.pass(deliver);
  }

  private pass(deliver: () => void): void {
    const s = this.s;
    const copies = this.random() * 100 < (s.duplicatePercent ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = (s.delayMs ?? 0) + this.random() * (s.jitterMs ?? 0);
      if (this.random() * 100 < (s.reorderPercent ?? 0)) delay += 1 + this.random() * 10;
      if (delay <= 0 || this.flushing) deliver();
      else {
        const t = setTimeout(() => {
          this.timers.delete(t);
          deliver();
        }, delay);
        this.timers.set(t, deliver);
      }
    }
  }

  /**
   * The socket ended: what the simulator still holds is passed on at once
   * (so the close packet of a shutdown is not lost to the simulation); later datagrams pass as before.
   */
  stop(): void {
    this.flushing = true;
    try {
      this.bottleneck?.flush();
      const held = [...this.timers];
      this.timers.clear();
      for (const [t, deliver] of held) {
        clearTimeout(t);
        deliver();
      }
    } finally {
      this.flushing = false;
    }
  }
}
