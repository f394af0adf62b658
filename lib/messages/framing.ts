/**
 * The stream framings: how a message becomes bytes on the wire (`frame`) and how the next
 * message is found in received bytes (`scan`). Pure byte work, no sockets.
 */
import { MessageErrorCode } from './api';

/** The largest length a `'u32'` prefix can carry, and so the largest `maxMessageSize`. */
export const MAX_MESSAGE_SIZE_LIMIT = 0xffff_ffff;

/** What `scan` found at the front of the received bytes. */
export type ScanResult =
  /** A whole message: its payload is `[start, end)`; the next frame begins at `next`. */
  | { readonly kind: 'message'; readonly start: number; readonly end: number; readonly next: number }
  /** Not complete yet. Once a length prefix told them: the header's and the whole frame's length. */
  | { readonly kind: 'more'; readonly headerLength?: number; readonly frameLength?: number }
  /** The peer broke the framing. */
  | { readonly kind: 'error'; readonly code: MessageErrorCode; readonly detail: string };

export interface Framing {
  /**
   * The frame for `message`: a view into a scratch buffer, valid until the next call (the
   * socket's `send` copies it at once).
   * @throws RangeError if the message cannot be framed (it contains the delimiter).
   */
  frame(message: Uint8Array): Uint8Array;
  /** Looks for the next message in `buf[start, end)`, where a frame begins at `start`. */
  scan(buf: Uint8Array, start: number, end: number): ScanResult;
}

/** Scratch frames up to this size are reused; a larger frame gets its own memory, once. */
const SCRATCH_LIMIT = 64 * 1024;

/** A reusable frame buffer: the underlying `send` copies, so one buffer serves every send. */
class Scratch {
  private buf = new Uint8Array(256);

  get(size: number): Uint8Array {
    if (size > SCRATCH_LIMIT) return new Uint8Array(size);
    if (size > this.buf.byteLength) this.buf = new Uint8Array(Math.min(SCRATCH_LIMIT, Math.max(size, this.buf.byteLength * 2)));
    return this.buf.subarray(0, size);
  }
}

const tooLarge = (length: number, max: number): ScanResult => ({
  kind: 'error',
  code: MessageErrorCode.TooLarge,
  detail: `an incoming message of ${length} bytes is larger than maxMessageSize ${max}`,
});

/** The payload after a header of `headerLength` bytes that announced `length` bytes. */
function payload(start: number, end: number, headerLength: number, length: number, max: number): ScanResult {
  if (length > max) return tooLarge(length, max);
  const frameLength = headerLength + length;
  if (end - start < frameLength) return { kind: 'more', headerLength, frameLength };
  return { kind: 'message', start: start + headerLength, end: start + frameLength, next: start + frameLength };
}

/** `'u32'`: a 4-byte big-endian length, then the payload. */
export class U32Framing implements Framing {
  private readonly scratch = new Scratch();

  constructor(private readonly max: number) {}

  frame(message: Uint8Array): Uint8Array {
    const out = this.scratch.get(4 + message.byteLength);
    new DataView(out.buffer, out.byteOffset, 4).setUint32(0, message.byteLength, false);
    out.set(message, 4);
    return out;
  }

  scan(buf: Uint8Array, start: number, end: number): ScanResult {
    if (end - start < 4) return { kind: 'more' };
    const length = ((buf[start] << 24) >>> 0) + (buf[start + 1] << 16) + (buf[start + 2] << 8) + buf[start + 3];
    return payload(start, end, 4, length, this.max);
  }
}

/** The most bytes of a varint length: 5 × 7 bits cover every u32. */
const VARINT_MAX_BYTES = 5;

/** The unsigned LEB128 encoding of `value` written at `out[0..]`; returns its byte count. */
export function writeVarint(out: Uint8Array, value: number): number {
  let n = 0;
  let v = value;
  while (v >= 0x80) {
    out[n++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[n++] = v;
  return n;
}

/** How many bytes `writeVarint` uses for `value`. */
export function varintLength(value: number): number {
  let n = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 0x80)) n++;
  return n;
}

/** `'varint'`: the length as unsigned LEB128 (low 7 bits first, high bit = more follows), then the payload. */
export class VarintFraming implements Framing {
  private readonly scratch = new Scratch();

  constructor(private readonly max: number) {}

  frame(message: Uint8Array): Uint8Array {
    const n = message.byteLength;
    const out = this.scratch.get(varintLength(n) + n);
    out.set(message, writeVarint(out, n));
    return out;
  }

  scan(buf: Uint8Array, start: number, end: number): ScanResult {
    let length = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_MAX_BYTES; i++) {
      if (start + i >= end) return { kind: 'more' };
      const b = buf[start + i];
      // Arithmetic, not bit operators: these lengths may pass 2^31.
      length += (b & 0x7f) * scale;
      // Later bytes only add, so a length already past the limit is refused at once.
      if (length > this.max) return tooLarge(length, this.max);
      if (b < 0x80) return payload(start, end, i + 1, length, this.max);
      scale *= 0x80;
    }
    return { kind: 'error', code: MessageErrorCode.BadLength, detail: `a varint length prefix longer than ${VARINT_MAX_BYTES} bytes` };
  }
}

/** `{ delimiter }`: the payload, then the delimiter bytes. */
export class DelimiterFraming implements Framing {
  private readonly scratch = new Scratch();
  private readonly delimiter: Buffer;
  /** Bytes after the frame's start already searched without a match (kept between scans). */
  private searched = 0;

  constructor(
    delimiter: Uint8Array,
    /** The largest message, in bytes. */
    readonly max: number,
  ) {
    this.delimiter = Buffer.from(delimiter);
  }

  get delimiterLength(): number {
    return this.delimiter.length;
  }

  /** Where the delimiter first starts in `buf[from, end)` (an index into `buf`), or -1. */
  find(buf: Uint8Array, from: number, end: number): number {
    const found = Buffer.from(buf.buffer, buf.byteOffset + from, end - from).indexOf(this.delimiter);
    return found < 0 ? -1 : from + found;
  }

  /** Forgets how far the frame at the front was searched: the reader took its bytes elsewhere. */
  reset(): void {
    this.searched = 0;
  }

  frame(message: Uint8Array): Uint8Array {
    const n = message.byteLength;
    const out = this.scratch.get(n + this.delimiter.length);
    out.set(message);
    out.set(this.delimiter, n);
    // Searching the whole frame also catches a message whose last bytes begin the delimiter
    // ("xab" + "aba"): the receiver would find the delimiter early and cut the message there.
    const found = Buffer.from(out.buffer, out.byteOffset, out.byteLength).indexOf(this.delimiter);
    if (found !== n) {
      throw new RangeError(
        found + this.delimiter.length <= n
          ? `sendMessage: the message contains the delimiter (at byte ${found})`
          : `sendMessage: the message ends with the start of the delimiter (from byte ${found}), so the receiver would cut it there`,
      );
    }
    return out;
  }

  scan(buf: Uint8Array, start: number, end: number): ScanResult {
    const d = this.delimiter.length;
    const from = start + this.searched;
    const at = from < end ? this.find(buf, from, end) : -1;
    if (at >= 0) {
      if (at - start > this.max) return this.tooLarge(at - start);
      this.searched = 0;
      return { kind: 'message', start, end: at, next: at + d };
    }
    const have = end - start;
    // Without a delimiter in max + d bytes, the message is certainly longer than max.
    if (have >= this.max + d) return this.tooLarge(have);
    // The last d - 1 bytes may be the start of a delimiter: searched again next time.
    this.searched = Math.max(0, have - (d - 1));
    return { kind: 'more' };
  }

  /** The error for a message of at least `atLeast` bytes without a delimiter within the limit. */
  tooLarge(atLeast: number): Extract<ScanResult, { kind: 'error' }> {
    return {
      kind: 'error',
      code: MessageErrorCode.TooLarge,
      detail: `no delimiter within maxMessageSize ${this.max} bytes (${atLeast} bytes without one)`,
    };
  }
}
