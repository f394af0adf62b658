/**
 * How stdin is cut into what a message-oriented socket sends: datagrams (udp, DTLS), one per
 * stdin read, or messages (rudp), one per line. Both hold at most one piece's worth of stdin.
 */

/** Cuts stdin into the pieces a socket sends, one `send` each. */
export interface StdinSplitter {
  /** The pieces of this stdin chunk (none while a line is unfinished). */
  push(chunk: Buffer): Buffer[];
  /** At the end of stdin: what is left (an unfinished last line). */
  end(): Buffer[];
}

/** The largest UDP payload over IPv4; a longer stdin read is sent as several datagrams. */
export const MAX_DATAGRAM = 65507;
/** DTLS adds 37 bytes to each datagram (record header, explicit nonce, AES-GCM tag). */
export const MAX_DTLS_DATAGRAM = MAX_DATAGRAM - 37;
/** The longest line sent as one rudp message; a longer one goes as several. */
export const MAX_LINE = 64 * 1024;

/** Each stdin read is one datagram; a read longer than `max` bytes, several. */
export function datagramSplitter(max: number): StdinSplitter {
  return {
    push(chunk) {
      const pieces: Buffer[] = [];
      for (let at = 0; at < chunk.length; at += max) pieces.push(chunk.subarray(at, at + max));
      return pieces;
    },
    end: () => [],
  };
}

/**
 * Each line, with its `\n`, is one message, however stdin was read; the unfinished last line
 * goes at the end of stdin. A line longer than `max` is sent in pieces of `max` bytes, so at
 * most `max` bytes wait here for their newline.
 */
export class LineSplitter implements StdinSplitter {
  private rest = Buffer.alloc(0);

  constructor(private readonly max = MAX_LINE) {}

  push(chunk: Buffer): Buffer[] {
    const data = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    const pieces: Buffer[] = [];
    let start = 0;
    for (;;) {
      const eol = data.indexOf(0x0a, start);
      const lineEnd = eol < 0 ? -1 : eol + 1;
      if (lineEnd > 0 && lineEnd - start <= this.max) {
        pieces.push(data.subarray(start, lineEnd));
        start = lineEnd;
      } else if (data.length - start >= this.max) {
        pieces.push(data.subarray(start, start + this.max));
        start += this.max;
      } else break;
    }
    this.rest = Buffer.from(data.subarray(start)); // a copy: stdin's chunk is not kept
    return pieces;
  }

  end(): Buffer[] {
    const last = this.rest;
    this.rest = Buffer.alloc(0);
    return last.length > 0 ? [last] : [];
  }
}
