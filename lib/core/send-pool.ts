/**
 * Copies of sent data, in recycled memory.
 *
 * The contract lets the caller reuse its buffer as soon as `send()` returns, so every send is
 * copied. A fresh 64 KiB `Buffer.allocUnsafe` per send costs more than the copy itself: each
 * is a new ArrayBuffer outside V8's young generation whose external memory drives the GC.
 * Copies above Node's own pool size therefore come from per-size-class free lists of
 * ArrayBuffers (powers of two) and go back once Node reports the write done, so a sender
 * with one block in flight keeps reusing the same memory.
 *
 * Small copies use `Buffer.allocUnsafe`, which slices Node's shared 8 KiB pool; they are
 * never released here (see {@link SendPool.release}).
 */
export class SendPool {
  /** Up to this size `Buffer.allocUnsafe` is cheap (a slice of Node's pool, or close to it). */
  static readonly SMALL = 4096;
  private static readonly MAX_CLASS = 22; // 4 MiB: larger copies are plain allocations
  /** Bytes kept free per size class: enough for a few blocks in flight, bounded for idle memory. */
  private static readonly KEEP_BYTES = 4 * 1024 * 1024;
  /** Bytes kept free over all classes: a burst of large sends must not leave ten classes full. */
  private static readonly KEEP_TOTAL = 8 * 1024 * 1024;
  private keptBytes = 0;

  private readonly free: ArrayBuffer[][] = [];
  /** The blocks this pool made: only these are ever taken back (never an app's own memory). */
  private readonly own = new WeakSet<ArrayBuffer>();

  /** A private copy of the first `n` bytes of `data`. */
  copy(data: Uint8Array, n: number): Buffer {
    const out = this.acquire(n);
    out.set(n === data.byteLength ? data : data.subarray(0, n));
    return out;
  }

  /** `n` bytes of uninitialised memory for a copy. */
  acquire(n: number): Buffer {
    if (n <= SendPool.SMALL) return Buffer.allocUnsafe(n);
    const cls = classOf(n);
    if (cls > SendPool.MAX_CLASS) return Buffer.allocUnsafeSlow(n);
    let ab = this.free[cls]?.pop();
    if (ab !== undefined) this.keptBytes -= ab.byteLength;
    if (ab === undefined) {
      ab = new ArrayBuffer(1 << cls);
      this.own.add(ab);
    }
    return Buffer.from(ab, 0, n);
  }

  /**
   * Takes back a copy made by {@link SendPool.acquire} once Node no longer reads it (its write
   * completed without error). Only blocks this pool made are kept; anything else (Node's pool,
   * an app's own buffer sent without a copy) is left alone.
   */
  release(buf: Buffer): void {
    if (buf.byteLength <= SendPool.SMALL || buf.byteOffset !== 0) return;
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.own.has(ab)) return;
    const cls = classOf(ab.byteLength);
    const list = (this.free[cls] ??= []);
    if ((list.length + 1) << cls > Math.max(SendPool.KEEP_BYTES, 2 << cls)) return;
    if (this.keptBytes + ab.byteLength > SendPool.KEEP_TOTAL) return;
    list.push(ab);
    this.keptBytes += ab.byteLength;
  }
}

/** The smallest pooled class: 8 KiB (smaller copies come from Node's pool). */
const MIN_CLASS = 13;

/** The power-of-two size class that holds `n` bytes (at least {@link MIN_CLASS}). */
function classOf(n: number): number {
  return Math.max(MIN_CLASS, 32 - Math.clz32(n - 1));
}

/** One pool for the process: sockets come and go, their memory need not. */
export const sendPool = new SendPool();
