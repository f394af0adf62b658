/**
 * A first-in first-out queue, shared by the core and the layers above it (it imports nothing): a ring buffer over an array whose size is a power of two.
 *
 * `Array.prototype.shift` moves every element, which turns a long queue of sends into
 * quadratic work; and a queue that empties after every item (one send in flight, one datagram)
 * must not give its array back to be allocated again at the next push, which costs more than
 * the push itself. So the ring keeps its array while it is small, and lets go of a large one
 * once it is empty (a burst must not hold memory for good).
 */
export class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  private size = 0;
  /** `items.length - 1` (the length is a power of two, or 0). */
  private mask = -1;

  /** An empty queue lets go of an array larger than this. */
  private static readonly KEEP = 1024;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & this.mask] = item;
    this.size++;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    if (--this.size === 0 && this.items.length > Fifo.KEEP) this.clear();
    return item;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (this.size > 0) out.push(this.shift() as T);
    return out;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.size = 0;
    this.mask = -1;
  }

  private grow(): void {
    const capacity = this.items.length === 0 ? 4 : this.items.length * 2;
    const next = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.size; i++) next[i] = this.items[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.mask = capacity - 1;
  }
}
