import { Fifo } from '../util/fifo';

/** One received datagram and where it came from. */
export interface Datagram {
  data: Uint8Array;
  address: string;
  port: number;
}

/**
 * Datagrams that arrived while no recv was pending, oldest first, at most `limit` of them.
 * One more is dropped and counted: UDP may lose datagrams, memory must not grow.
 */
export class DatagramQueue {
  private readonly items = new Fifo<Datagram>();
  private droppedCount = 0;
  private queuedBytes = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.length;
  }

  /** Bytes of the queued datagrams. */
  get bytes(): number {
    return this.queuedBytes;
  }

  /** Datagrams dropped because the queue was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Queues `d`; false (and counted) when the queue is full. */
  push(d: Datagram): boolean {
    if (this.items.length >= this.limit) {
      this.droppedCount++;
      return false;
    }
    this.items.push(d);
    this.queuedBytes += d.data.byteLength;
    return true;
  }

  shift(): Datagram | undefined {
    const d = this.items.shift();
    if (d) this.queuedBytes -= d.data.byteLength;
    return d;
  }

  /** Keeps the datagrams `keep` accepts, in order; returns the others, oldest first (not counted as dropped). */
  retain(keep: (d: Datagram) => boolean): Datagram[] {
    const removed: Datagram[] = [];
    for (let n = this.items.length; n > 0; n--) {
      const d = this.items.shift()!;
      if (keep(d)) {
        this.items.push(d);
      } else {
        removed.push(d);
        this.queuedBytes -= d.data.byteLength;
      }
    }
    return removed;
  }

  clear(): void {
    this.items.clear();
    this.queuedBytes = 0;
  }
}
