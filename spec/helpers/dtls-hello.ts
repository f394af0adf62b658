/**
 * Raw DTLS 1.2 ClientHellos for the DTLS listener's specs (the cookie gate, the flood, the
 * fuzz): real-looking records a plain dgram socket can send, and the cookie read back from a
 * HelloVerifyRequest.
 */
import { randomBytes } from 'node:crypto';

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u24(n: number): Buffer {
  const b = Buffer.alloc(3);
  b.writeUIntBE(n, 0, 3);
  return b;
}

function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

/** A DTLS 1.2 ClientHello record (ECDHE-ECDSA/RSA-AES128-GCM, P-256, SHA-256 signatures, EMS, no SNI). */
export function clientHello(options: { random?: Buffer; cookie?: Buffer; recordSeq?: number; messageSeq?: number } = {}): Buffer {
  const random = options.random ?? randomBytes(32);
  const cookie = options.cookie ?? Buffer.alloc(0);
  const extensions = Buffer.concat([
    ext(10, Buffer.from([0, 2, 0, 23])), // supported_groups: secp256r1
    ext(11, Buffer.from([1, 0])), // ec_point_formats: uncompressed
    ext(13, Buffer.from([0, 4, 4, 3, 4, 1])), // signature_algorithms: ecdsa_sha256, rsa_sha256
    ext(23, Buffer.alloc(0)), // extended_master_secret
  ]);
  const body = Buffer.concat([
    Buffer.from([0xfe, 0xfd]),
    random,
    Buffer.from([0]), // session_id
    Buffer.from([cookie.length]),
    cookie,
    u16(4),
    Buffer.from([0xc0, 0x2b, 0xc0, 0x2f]),
    Buffer.from([1, 0]), // compression: null
    u16(extensions.length),
    extensions,
  ]);
  const handshake = Buffer.concat([Buffer.from([1]), u24(body.length), u16(options.messageSeq ?? 0), u24(0), u24(body.length), body]);
  const seq = Buffer.alloc(6);
  seq.writeUIntBE(options.recordSeq ?? 0, 0, 6);
  return Buffer.concat([Buffer.from([22, 0xfe, 0xfd, 0, 0]), seq, u16(handshake.length), handshake]);
}

/** The cookie of a HelloVerifyRequest record, or null if `data` is not one. */
export function cookieOfVerifyRequest(data: Buffer): Buffer | null {
  if (data.length < 28 || data[0] !== 22 || data[13] !== 3) return null;
  const n = data[27];
  return data.length >= 28 + n ? Buffer.from(data.subarray(28, 28 + n)) : null;
}
