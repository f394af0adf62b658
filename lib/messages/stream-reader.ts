import type { MessageErrorCode } from './api';
import { Framing } from './framing';

/** The reused receive buffer's size: how far ahead of the app a message socket reads, at most. */
export const READ_CHUNK = 64 * 1024;

/** The next message, nothing complete yet, or the framing error that ends the connection. */
export type ReadResult = { readonly message: Uint8Array } | { readonly error: { readonly code: MessageErrorCode; readonly detail: string } } | null;

/**
 * The received bytes of a stream socket, cut into messages by a framing.
 *
 * Bytes arrive through one reused buffer (`space()` → the socket's partial `recv` →
 * `wrote(n)`), so reading ahead of the app is bounded by that buffer. A length-prefixed
 * message too large for it is received straight into its own memory instead, which is the
 * copy the app gets anyway. A delimited message has no announced length: the buffer grows
 * (doubling) up to `maxMessageSize` plus the delimiter, and shrinks again once it is empty.
 */
export class StreamReader {
  private buf = new Uint8Array(READ_CHUNK);
  private start = 0;
  private end = 0;
  /** A length-prefixed message larger than the buffer, filled by recvs of its remainder. */
  private direct: { message: Uint8Array; filled: number } | null = null;

  /** @param growLimit the most the buffer may grow to (delimited framing: maxMessageSize + delimiter). */
  constructor(
    private readonly framing: Framing,
    private readonly growLimit: number,
  ) {}

  /** Bytes of an unfinished message are held (a peer that closes now cut a message short). */
  get hasPartial(): boolean {
    return this.direct !== null || this.end > this.start;
  }

  /** The next whole message, in memory of its own; or null (then `space()` has room). */
  next(): ReadResult {
    const direct = this.direct;
    if (direct) {
      if (direct.filled < direct.message.byteLength) return null;
      this.direct = null;
      return { message: direct.message };
    }
    const found = this.framing.scan(this.buf, this.start, this.end);
    switch (found.kind) {
      case 'message': {
        // slice() of a Uint8Array copies (unlike Buffer's): the app may keep the message.
        const message = this.buf.slice(found.start, found.end);
        this.start = found.next;
        if (this.start === this.end) this.empty();
        return { message };
      }
      case 'error':
        return { error: found };
      case 'more':
        this.makeRoom(found.headerLength, found.frameLength);
        return null;
    }
  }

  /** Where the next `recv` may write: never empty after `next()` returned null. */
  space(): Uint8Array {
    const direct = this.direct;
    return direct ? direct.message.subarray(direct.filled) : this.buf.subarray(this.end);
  }

  /** A `recv` into `space()` delivered `n` bytes. */
  wrote(n: number): void {
    if (this.direct) this.direct.filled += n;
    else this.end += n;
  }

  private makeRoom(headerLength: number | undefined, frameLength: number | undefined): void {
    const capacity = this.buf.byteLength;
    if (headerLength !== undefined && frameLength !== undefined && frameLength > capacity) {
      const have = this.buf.subarray(this.start + headerLength, this.end);
      const message = new Uint8Array(frameLength - headerLength);
      message.set(have);
      this.direct = { message, filled: have.byteLength };
      this.empty();
    } else if (frameLength !== undefined ? this.start + frameLength > capacity : this.end === capacity) {
      if (this.start > 0) this.compact();
      else this.grow();
    }
  }

  private compact(): void {
    this.buf.copyWithin(0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
  }

  private grow(): void {
    const size = Math.min(this.growLimit, this.buf.byteLength * 2);
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.end));
    this.buf = bigger;
  }

  /** Nothing is held: start over at the front, in a buffer of the usual size. */
  private empty(): void {
    this.start = 0;
    this.end = 0;
    if (this.buf.byteLength > READ_CHUNK) this.buf = new Uint8Array(READ_CHUNK);
  }
}
