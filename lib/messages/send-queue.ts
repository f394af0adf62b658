import { Fifo } from '../util/fifo';

/** The largest piece the queue hands to the socket in one `send`. */
export const SEND_CHUNK = 64 * 1024;

/** A queue's first piece: a few small frames, without holding a full chunk per idle connection. */
const FIRST_PIECE = 256;

/**
 * Frames waiting for their turn to be handed to the socket, packed back to back.
 *
 * A message socket sends each frame at once while few sends are in flight. Beyond that,
 * frames wait here as bytes, not as one `send` each: a queued `send` costs the socket a copy
 * object, Node a write request and the socket's in-flight entry (about 200 bytes for an empty
 * `'u32'` message of 4 bytes, issue #15). Here a queued message costs its frame's bytes, and
 * each piece of up to {@link SEND_CHUNK} bytes one count of the messages that end in it, so the
 * send results still come one per message.
 *
 * The last piece starts small and doubles up to {@link SEND_CHUNK}; full pieces wait in order.
 * A frame longer than the room left is split across pieces. Pure bookkeeping, no sockets.
 */
export class SendQueue {
  /** Full pieces, oldest first, and how many messages end in each. */
  private readonly full = new Fifo<Uint8Array>();
  private readonly fullEnds = new Fifo<number>();
  /** The piece being filled; its messages end in it. */
  private tail: Uint8Array | null = null;
  private tailFill = 0;
  private tailEnds = 0;
  private queued = 0;
  private held = 0;
  /** How many messages end in the piece `take()` returned last. */
  private lastEnds = 0;

  /** Bytes waiting. */
  get bytes(): number {
    return this.queued;
  }

  /** Bytes of memory the queue holds (the pieces' sizes). */
  get heldBytes(): number {
    return this.held;
  }

  get isEmpty(): boolean {
    return this.queued === 0;
  }

  /** Messages that end in the piece the last `take()` returned. */
  get takenEnds(): number {
    return this.lastEnds;
  }

  /**
   * Copies `frame` (a whole frame, at least one byte) to the end of the queue: one message,
   * which ends with its last byte.
   * @throws RangeError if memory for it cannot be allocated; nothing was queued then.
   */
  push(frame: Uint8Array): void {
    const n = frame.byteLength;
    // Allocated before anything changes, so that a frame is queued whole or not at all.
    const fresh: Uint8Array[] = [];
    let room = this.tail === null ? 0 : this.tail.byteLength - this.tailFill;
    let size = this.tail === null ? 0 : this.tail.byteLength;
    while (room < n) {
      size = nextSize(size, n - room);
      fresh.push(new Uint8Array(size));
      room += size;
    }
    let at = 0;
    for (let k = 0; at < n;) {
      if (this.tail === null || this.tailFill === this.tail.byteLength) this.startTail(fresh[k++]);
      const tail = this.tail!;
      const take = Math.min(tail.byteLength - this.tailFill, n - at);
      tail.set(frame.subarray(at, at + take), this.tailFill);
      this.tailFill += take;
      at += take;
    }
    this.tailEnds++;
    this.queued += n;
  }

  /**
   * The oldest piece's bytes, removed from the queue; `takenEnds` tells how many messages end
   * in it. The caller hands it to a `send`, which copies it, and may then `recycle` it.
   */
  take(): Uint8Array | null {
    const piece = this.full.shift();
    if (piece !== undefined) {
      this.lastEnds = this.fullEnds.shift()!;
      this.queued -= piece.byteLength;
      return piece;
    }
    const tail = this.tail;
    if (tail === null || this.tailFill === 0) return null;
    const out = tail.subarray(0, this.tailFill);
    this.lastEnds = this.tailEnds;
    this.queued -= this.tailFill;
    this.tail = null;
    this.tailFill = 0;
    this.tailEnds = 0;
    return out;
  }

  /** A piece from `take()` that was sent (and so copied): it may hold the next frames. */
  recycle(piece: Uint8Array): void {
    this.held -= piece.buffer.byteLength;
    if (this.tail !== null || this.queued > 0) return;
    this.tail = new Uint8Array(piece.buffer, 0, piece.buffer.byteLength);
    this.held += this.tail.byteLength;
  }

  /** Lets go of an empty last piece, so that an idle connection holds nothing here. */
  trim(): void {
    if (this.tail === null || this.tailFill > 0) return;
    this.held -= this.tail.byteLength;
    this.tail = null;
  }

  /** Drops everything queued. */
  clear(): void {
    this.full.clear();
    this.fullEnds.clear();
    this.tail = null;
    this.tailFill = 0;
    this.tailEnds = 0;
    this.queued = 0;
    this.held = 0;
  }

  /** The current tail is full (or missing): it joins the full pieces, and `next` takes its place. */
  private startTail(next: Uint8Array): void {
    const tail = this.tail;
    if (tail !== null) {
      this.full.push(tail.subarray(0, this.tailFill));
      this.fullEnds.push(this.tailEnds);
    }
    this.held += next.byteLength;
    this.tail = next;
    this.tailFill = 0;
    this.tailEnds = 0;
  }
}

/** The next piece's size after one of `previous` bytes, for `want` more bytes. */
function nextSize(previous: number, want: number): number {
  if (previous === 0) return Math.min(SEND_CHUNK, Math.max(FIRST_PIECE, want));
  return Math.min(SEND_CHUNK, Math.max(previous * 2, Math.min(want, SEND_CHUNK)));
}
