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
  private items: Datagram[] = [];
  private head = 0;
  private droppedCount = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.items.length - this.head;
  }

  /** Datagrams dropped because the queue was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Queues `d`; false (and counted) when the queue is full. */
  push(d: Datagram): boolean {
    if (this.size >= this.limit) {
      this.droppedCount++;
      return false;
    }
    this.items.push(d);
    return true;
  }

  shift(): Datagram | undefined {
    if (this.head >= this.items.length) return undefined;
    const d = this.items[this.head++];
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return d;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
