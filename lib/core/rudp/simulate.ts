/** The `simulate` option: loss, duplication, reordering, delay and jitter on every datagram (for tests and demos). */

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
  /** A seed for the simulator's RNG (repeatable runs); Math.random when absent. */
  seed?: number;
}

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

/** Passes each datagram to `deliver` zero, one or two times, now or later, as the settings say. */
export class Simulator {
  private readonly random: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();
  dropped = 0;

  constructor(private readonly s: RudpSimulate) {
    this.random = s.seed !== undefined ? seededRandom(s.seed) : Math.random;
  }

  apply(deliver: () => void): void {
    const s = this.s;
    if (this.random() * 100 < (s.lossPercent ?? 0)) {
      this.dropped++;
      return;
    }
    const copies = this.random() * 100 < (s.duplicatePercent ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      let delay = (s.delayMs ?? 0) + this.random() * (s.jitterMs ?? 0);
      if (this.random() * 100 < (s.reorderPercent ?? 0)) delay += 1 + this.random() * 10;
      if (delay <= 0) deliver();
      else {
        const t = setTimeout(() => {
          this.timers.delete(t);
          deliver();
        }, delay);
        this.timers.add(t);
      }
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
