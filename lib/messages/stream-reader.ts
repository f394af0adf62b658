import { MessageErrorCode } from './api';
import { DelimiterFraming, Framing } from './framing';

/**
 * The reused receive buffer's size: how far ahead of the app a message socket reads, at most;
 * also the step by which a message longer than that is taken in.
 */
export const READ_CHUNK = 64 * 1024;

/** The next message, nothing complete yet, or the error that ends the connection. */
export type ReadResult = { readonly message: Uint8Array } | { readonly error: { readonly code: MessageErrorCode; readonly detail: string } } | null;

type ReadError = Exclude<ReadResult, null | { readonly message: Uint8Array }>;

const EMPTY = new Uint8Array(0);

/**
 * `n` bytes of memory, or null when the process has none to give. V8 throws RangeError when an
 * ArrayBuffer cannot be allocated; here that ends one connection instead of the process.
 */
function allocate(n: number): Uint8Array | null {
  try {
    return new Uint8Array(n);
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}

/**
 * A message longer than the buffer, held as the pieces that arrived. Memory follows what the
 * peer sent, one step of at most {@link READ_CHUNK} ahead, never what its length prefix claims.
 */
interface LongMessage {
  /** Length-prefixed: the payload's announced length; delimited: -1 (until the delimiter). */
  readonly length: number;
  /** Full pieces, message bytes only, in order. */
  readonly parts: Uint8Array[];
  partsBytes: number;
  /** The piece being filled by recvs. */
  tail: Uint8Array;
  /** Delimited: the tail starts with the last `delimiter − 1` bytes before it, so a delimiter split between pieces is found in one search. Message bytes start here. */
  tailFrom: number;
  tailFill: number;
  /** Delimited: tail positions before this cannot start the delimiter. */
  searched: number;
}

/**
 * The received bytes of a stream socket, cut into messages by a framing.
 *
 * Bytes arrive through one reused buffer (`space()` → the socket's partial `recv` →
 * `wrote(n)`), so reading ahead of the app is bounded by that buffer. A message too long for
 * it is taken in as a list of pieces of at most {@link READ_CHUNK} bytes, each allocated when
 * the one before is full: a length prefix is only a claim, and allocating it up front let a
 * few peers exhaust the process with 4-byte headers (issue #15). A delimited message grows the
 * same way, so it is never held twice while it grows; the pieces are joined into the app's
 * copy once the message is complete. Every allocation that fails becomes an error result
 * ({@link MessageErrorCode.NoMemory}) that ends this connection only.
 */
export class StreamReader {
  private buf: Uint8Array = new Uint8Array(READ_CHUNK);
  private start = 0;
  private end = 0;
  private long: LongMessage | null = null;
  /** The framing when it is delimited: long messages are then searched here, piece by piece. */
  private readonly delimited: DelimiterFraming | null;

  /** @param growLimit the most bytes a delimited message in progress may hold (maxMessageSize + delimiter). */
  constructor(
    private readonly framing: Framing,
    private readonly growLimit: number,
  ) {
    this.delimited = framing instanceof DelimiterFraming ? framing : null;
  }

  /** Bytes of an unfinished message are held (a peer that closes now cut a message short). */
  get hasPartial(): boolean {
    return this.long !== null || this.end > this.start;
  }

  /** Bytes of memory the reader holds now (its buffer and the pieces of a long message). */
  get heldBytes(): number {
    const long = this.long;
    if (!long) return this.buf.byteLength;
    let n = this.buf.byteLength + long.tail.byteLength;
    for (const p of long.parts) n += p.buffer.byteLength; // each part is one piece's memory, overlap included
    return n;
  }

  /** The next whole message, in memory of its own; or null (then `space()` has room). */
  next(): ReadResult {
    return this.long ? this.nextLong(this.long) : this.nextInBuffer();
  }

  /** Where the next `recv` may write: never empty after `next()` returned null. */
  space(): Uint8Array {
    const long = this.long;
    return long ? long.tail.subarray(long.tailFill) : this.buf.subarray(this.end);
  }

  /** A `recv` into `space()` delivered `n` bytes. */
  wrote(n: number): void {
    if (this.long) this.long.tailFill += n;
    else this.end += n;
  }

  // ---- messages within the buffer ----------------------------------------------------------

  private nextInBuffer(): ReadResult {
    const found = this.framing.scan(this.buf, this.start, this.end);
    switch (found.kind) {
      case 'message': {
        // A copy: the app may keep the message, and the buffer is reused.
        const message = allocate(found.end - found.start);
        if (!message) return noMemory(found.end - found.start);
        message.set(this.buf.subarray(found.start, found.end));
        this.start = found.next;
        if (this.start === this.end) this.empty();
        return { message };
      }
      case 'error':
        return { error: found };
      case 'more':
        return this.makeRoom(found.headerLength, found.frameLength);
    }
  }

  private makeRoom(headerLength: number | undefined, frameLength: number | undefined): ReadResult {
    const capacity = this.buf.byteLength;
    if (headerLength !== undefined && frameLength !== undefined && frameLength > capacity) return this.startLong(headerLength, frameLength);
    if (frameLength !== undefined ? this.start + frameLength <= capacity : this.end < capacity) return null;
    if (this.start > 0) {
      this.compact();
      return null;
    }
    // A full buffer with no end of the message in it: only a delimited message gets here
    // (a length prefix is shorter than the buffer, and a longer frame went the way above).
    return this.startLongDelimited();
  }

  private compact(): void {
    this.buf.copyWithin(0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
  }

  /** Nothing is held: start over at the front. */
  private empty(): void {
    this.start = 0;
    this.end = 0;
  }

  // ---- long messages -----------------------------------------------------------------------

  /** A length-prefixed message longer than the buffer: its payload so far moves into the first piece. */
  private startLong(headerLength: number, frameLength: number): ReadResult {
    const length = frameLength - headerLength;
    const have = this.buf.subarray(this.start + headerLength, this.end);
    // `have` is shorter than the buffer, so it fits a first piece of one step.
    const tail = allocate(Math.min(length, READ_CHUNK));
    if (!tail) return noMemory(Math.min(length, READ_CHUNK));
    tail.set(have);
    this.long = { length, parts: [], partsBytes: 0, tail, tailFrom: 0, tailFill: have.byteLength, searched: 0 };
    this.empty();
    return null;
  }

  /** A delimited message fills the whole buffer: the buffer becomes its first piece. */
  private startLongDelimited(): ReadResult {
    const delimited = this.delimited;
    // Unreachable for the length framings (see makeRoom); refused rather than looping.
    if (!delimited) return { error: { code: MessageErrorCode.BadLength, detail: 'a frame header longer than the receive buffer' } };
    const first = this.buf;
    this.buf = EMPTY; // a fresh one once the message is complete
    this.end = 0;
    // The framing remembers how far it searched this frame; the frame leaves the buffer now.
    delimited.reset();
    const long: LongMessage = { length: -1, parts: [first], partsBytes: first.byteLength, tail: EMPTY, tailFrom: 0, tailFill: 0, searched: 0 };
    this.long = long;
    if (long.partsBytes >= this.growLimit) return { error: delimited.tooLarge(long.partsBytes) };
    return this.nextPiece(long);
  }

  private nextLong(long: LongMessage): ReadResult {
    const held = long.partsBytes + long.tailFill - long.tailFrom;
    if (long.length >= 0) {
      if (held === long.length) return this.finishLong(long, held, long.tailFill, long.tailFill);
      return long.tailFill < long.tail.byteLength ? null : this.nextPiece(long);
    }
    const delimited = this.delimited!;
    const d = delimited.delimiterLength;
    const from = long.searched;
    const at = from < long.tailFill ? delimited.find(long.tail, from, long.tailFill) : -1;
    if (at >= 0) {
      // The delimiter may begin in the overlap, that is in the piece before: the message ends there.
      const length = long.partsBytes + at - long.tailFrom;
      if (length > delimited.max) return { error: delimited.tooLarge(length) };
      return this.finishLong(long, length, at, at + d);
    }
    long.searched = Math.max(from, long.tailFill - (d - 1));
    if (held >= this.growLimit) return { error: delimited.tooLarge(held) };
    return long.tailFill < long.tail.byteLength ? null : this.nextPiece(long);
  }

  /** The tail is full (or not there yet): it joins the parts and a new one takes the next step. */
  private nextPiece(long: LongMessage): ReadResult {
    if (long.tailFill > long.tailFrom) {
      long.parts.push(long.tail.subarray(long.tailFrom, long.tailFill));
      long.partsBytes += long.tailFill - long.tailFrom;
    }
    const held = long.partsBytes;
    const delimiterLength = this.delimited?.delimiterLength ?? 0;
    const step = long.length >= 0 ? Math.min(READ_CHUNK, long.length - held) : Math.min(READ_CHUNK, this.growLimit - held);
    const overlap = long.length >= 0 ? 0 : Math.min(delimiterLength - 1, held);
    const tail = allocate(overlap + step);
    if (!tail) return noMemory(overlap + step);
    copyLast(long.parts, tail, overlap);
    long.tail = tail;
    long.tailFrom = overlap;
    long.tailFill = overlap;
    long.searched = 0;
    return null;
  }

  /**
   * The message is the first `length` bytes held; bytes of the tail from `rest` on (after a
   * delimiter ending at `rest`) go back into the buffer, where the next frame begins.
   */
  private finishLong(long: LongMessage, length: number, messageEndInTail: number, rest: number): ReadResult {
    const leftover = long.tail.subarray(rest, long.tailFill);
    let message: Uint8Array | null;
    const tail = long.tail;
    if (long.parts.length === 0 && long.tailFrom === 0 && messageEndInTail === tail.byteLength && length === tail.byteLength) {
      message = tail; // one exact piece: already the app's own memory
    } else {
      message = allocate(length);
      if (!message) return noMemory(length);
      let at = 0;
      for (const p of long.parts) {
        const n = Math.min(p.byteLength, length - at);
        message.set(n === p.byteLength ? p : p.subarray(0, n), at);
        at += n;
      }
      if (at < length) message.set(tail.subarray(long.tailFrom, long.tailFrom + length - at), at);
    }
    if (this.buf.byteLength === 0) {
      // Leftover bytes come from one piece, which is at most a step (plus overlap) and holds a delimiter.
      const buf = allocate(READ_CHUNK);
      if (!buf) return noMemory(READ_CHUNK);
      this.buf = buf;
    }
    this.long = null;
    this.buf.set(leftover);
    this.start = 0;
    this.end = leftover.byteLength;
    return { message };
  }
}

/** Copies the last `n` bytes held in `parts` to the front of `dst`. */
function copyLast(parts: readonly Uint8Array[], dst: Uint8Array, n: number): void {
  let need = n;
  for (let i = parts.length - 1; i >= 0 && need > 0; i--) {
    const p = parts[i];
    const take = Math.min(need, p.byteLength);
    need -= take;
    dst.set(p.subarray(p.byteLength - take), need);
  }
}

function noMemory(n: number): ReadError {
  return { error: { code: MessageErrorCode.NoMemory, detail: `no memory for ${n} bytes of an incoming message` } };
}
