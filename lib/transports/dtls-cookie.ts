// The DTLS listener's stateless cookie gate (RFC 6347 §4.2.1): a datagram from a peer the
// listener does not know yet is read here, before any state is kept for it. Only a ClientHello
// carrying a cookie we made (for that address and port, under the current or the previous
// secret) admits the peer; a ClientHello without one is answered by a HelloVerifyRequest sent
// straight from the shared handle, and everything else is garbage. Pure parsing and HMAC: no
// engine, no per-peer memory.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DatagramGate, GateVerdict } from '../core/datagram-session';

/** Bytes of the cookie: HMAC-SHA256 truncated (RFC 6347 allows up to 255; 32 is ample). */
export const COOKIE_LENGTH = 20;
/** How often the secret changes; a cookie made under the previous secret is still accepted. */
export const DEFAULT_SECRET_ROTATION_MS = 30_000;

const RECORD_HEADER = 13;
const HANDSHAKE_HEADER = 12;

/** Where the parts of a ClientHello record are (offsets into the datagram). */
export interface ClientHelloView {
  /** The record's sequence number (6 bytes at offset 5), echoed in our HelloVerifyRequest. */
  recordSeq: Buffer;
  /** client_version, random and session_id: what the cookie binds (with the address and port). */
  bound: Buffer;
  /** Offset of the cookie's length byte. */
  cookieAt: number;
  cookie: Buffer;
}

/**
 * Reads a datagram as one unfragmented, unprotected ClientHello record (content type 22, DTLS
 * 1.0 or 1.2, epoch 0, handshake type 1 whose fragment covers the whole message), or null.
 */
export function readClientHello(data: Uint8Array): ClientHelloView | null {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < RECORD_HEADER + HANDSHAKE_HEADER) return null;
  if (buf[0] !== 22 || buf[1] !== 0xfe || (buf[2] !== 0xff && buf[2] !== 0xfd)) return null;
  if (buf[3] !== 0 || buf[4] !== 0) return null; // epoch 0
  const recordLength = buf.readUInt16BE(11);
  if (RECORD_HEADER + recordLength > buf.length) return null;
  const h = RECORD_HEADER;
  if (buf[h] !== 1) return null; // client_hello
  const length = buf.readUIntBE(h + 1, 3);
  const fragmentOffset = buf.readUIntBE(h + 6, 3);
  const fragmentLength = buf.readUIntBE(h + 9, 3);
  if (fragmentOffset !== 0 || fragmentLength !== length || HANDSHAKE_HEADER + length > recordLength) return null;
  const body = h + HANDSHAKE_HEADER;
  const end = body + length;
  // client_version (2), random (32), session_id <0..32>, cookie <0..255>, then the rest.
  if (body + 35 > end) return null;
  const sessionIdLength = buf[body + 34];
  if (sessionIdLength > 32) return null;
  const cookieAt = body + 35 + sessionIdLength;
  if (cookieAt + 1 > end) return null;
  const cookieLength = buf[cookieAt];
  if (cookieAt + 1 + cookieLength + 2 > end) return null; // at least the cipher suites' length must follow
  return {
    recordSeq: buf.subarray(5, 11),
    bound: buf.subarray(body, cookieAt),
    cookieAt,
    cookie: buf.subarray(cookieAt + 1, cookieAt + 1 + cookieLength),
  };
}

/** The HelloVerifyRequest record for `hello` (RFC 6347 §4.2.1: server_version DTLS 1.0, the ClientHello's record sequence number, message_seq 0). */
export function helloVerifyRequest(hello: ClientHelloView, cookie: Buffer): Buffer {
  const bodyLength = 3 + cookie.length;
  const out = Buffer.alloc(RECORD_HEADER + HANDSHAKE_HEADER + bodyLength);
  out[0] = 22;
  out[1] = 0xfe;
  out[2] = 0xff; // DTLS 1.0, as RFC 6347 recommends for the HelloVerifyRequest
  hello.recordSeq.copy(out, 5); // epoch 0 (bytes 3-4), then the ClientHello's sequence number
  out.writeUInt16BE(HANDSHAKE_HEADER + bodyLength, 11);
  const h = RECORD_HEADER;
  out[h] = 3; // hello_verify_request
  out.writeUIntBE(bodyLength, h + 1, 3);
  // message_seq 0 (h+4..5), fragment_offset 0 (h+6..8)
  out.writeUIntBE(bodyLength, h + 9, 3);
  out[h + 12] = 0xfe;
  out[h + 13] = 0xff;
  out[h + 14] = cookie.length;
  cookie.copy(out, h + 15);
  return out;
}

/** The same ClientHello record with an empty cookie (lengths adjusted). */
export function withoutCookie(data: Buffer, hello: ClientHelloView): Buffer {
  const n = hello.cookie.length;
  const out = Buffer.concat([data.subarray(0, hello.cookieAt), Buffer.from([0]), data.subarray(hello.cookieAt + 1 + n)]);
  out.writeUInt16BE(out.readUInt16BE(11) - n, 11);
  const h = RECORD_HEADER;
  out.writeUIntBE(out.readUIntBE(h + 1, 3) - n, h + 1, 3);
  out.writeUIntBE(out.readUIntBE(h + 9, 3) - n, h + 9, 3);
  return out;
}

/**
 * The gate: HMAC-SHA256(secret, address | port | client_version | random | session_id),
 * truncated to {@link COOKIE_LENGTH} bytes. The secret is replaced every `rotationMs`; the
 * previous one is still accepted, so a cookie lives between one and two periods.
 */
export class CookieGate implements DatagramGate {
  private current = randomBytes(32);
  private previous = randomBytes(32);
  private rotatedAt: number;

  constructor(
    private readonly rotationMs = DEFAULT_SECRET_ROTATION_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.rotatedAt = now();
  }

  check(data: Buffer, address: string, port: number, reply: (data: Buffer) => void): GateVerdict {
    const hello = readClientHello(data);
    if (!hello) return 'garbage';
    this.rotate();
    if (hello.cookie.length === COOKIE_LENGTH) {
      for (const secret of [this.current, this.previous]) {
        if (timingSafeEqual(hello.cookie, this.cookieOf(secret, hello, address, port))) return 'admit';
      }
    }
    reply(helloVerifyRequest(hello, this.cookieOf(this.current, hello, address, port)));
    return 'answered';
  }

  private rotate(): void {
    const now = this.now();
    if (now - this.rotatedAt < this.rotationMs) return;
    // Two periods or more without a ClientHello: both secrets are stale.
    this.previous = now - this.rotatedAt >= 2 * this.rotationMs ? randomBytes(32) : this.current;
    this.current = randomBytes(32);
    this.rotatedAt = now;
  }

  private cookieOf(secret: Buffer, hello: ClientHelloView, address: string, port: number): Buffer {
    return createHmac('sha256', secret).update(`${address}|${port}|`).update(hello.bound).digest().subarray(0, COOKIE_LENGTH);
  }
}
