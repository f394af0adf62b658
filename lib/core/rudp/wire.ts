/**
 * The rudp wire format (docs/rudp-wire.md): a 10-byte header (version, type and flags, the
 * receiver's and the sender's connection IDs) and a body per type. All integers big-endian.
 */
import { createHmac, randomBytes } from 'crypto';

export const WIRE_VERSION = 1;
export const HEADER = 10;
/** A client's Initial is padded to this size, so a server's answer (≤ 3× it) cannot amplify. */
export const INITIAL_SIZE = 1200;

export const enum PacketType {
  Initial = 1,
  Retry = 2,
  Accept = 3,
  Reject = 4,
  Data = 5,
  Close = 6,
  CloseAck = 7,
  /** Path validation (core/rudp/migration.ts): 8 random bytes; answered by a PathResponse with the same bytes. */
  PathChallenge = 8,
  PathResponse = 9,
}

export const enum FrameType {
  Ack = 1,
  Fragment = 2,
  Ping = 3,
  Credit = 4,
  Unreliable = 5,
}

export interface Header {
  type: PacketType;
  flags: number;
  dcid: number;
  scid: number;
}

/** Writes the header at `at` (0 unless the packet is written into a larger buffer). */
export function writeHeader(buf: Buffer, type: PacketType, dcid: number, scid: number, flags = 0, at = 0): void {
  buf[at] = WIRE_VERSION;
  buf[at + 1] = (type & 0x0f) | ((flags & 0x0f) << 4);
  buf.writeUInt32BE(dcid >>> 0, at + 2);
  buf.writeUInt32BE(scid >>> 0, at + 6);
}

/** Null for anything that is not a packet of this version (dropped, never thrown). */
export function readHeader(buf: Buffer): Header | null {
  if (buf.byteLength < HEADER || buf[0] !== WIRE_VERSION) return null;
  const type = buf[1] & 0x0f;
  if (type < PacketType.Initial || type > PacketType.PathResponse) return null;
  return { type, flags: buf[1] >> 4, dcid: buf.readUInt32BE(2), scid: buf.readUInt32BE(6) };
}

/** A random non-zero connection ID. */
export function newConnectionId(): number {
  let id = 0;
  while (id === 0) id = randomBytes(4).readUInt32BE(0);
  return id;
}

export const COOKIE_BYTES = 20;

/**
 * Stateless cookies: HMAC-SHA256 (truncated to 16 bytes) of the client's address, port and
 * connection ID and a 4-byte epoch, under a secret that rotates every `rotateMs`; the previous
 * secret is still accepted, so a cookie lives between one and two rotations.
 */
export class CookieJar {
  private secret = randomBytes(32);
  private previous = randomBytes(32);
  private epoch = 0;
  private rotatedAt = Date.now();

  constructor(private readonly rotateMs = 30_000) {}

  private rotate(): void {
    const now = Date.now();
    if (now - this.rotatedAt < this.rotateMs) return;
    this.previous = this.secret;
    this.secret = randomBytes(32);
    this.epoch = (this.epoch + 1) >>> 0;
    this.rotatedAt = now;
  }

  make(address: string, port: number, cid: number): Buffer {
    this.rotate();
    const out = Buffer.alloc(COOKIE_BYTES);
    out.writeUInt32BE(this.epoch, 0);
    mac(this.secret, address, port, cid, this.epoch).copy(out, 4);
    return out;
  }

  check(cookie: Buffer, address: string, port: number, cid: number): boolean {
    this.rotate();
    if (cookie.byteLength !== COOKIE_BYTES) return false;
    const epoch = cookie.readUInt32BE(0);
    const secret = epoch === this.epoch ? this.secret : epoch === (this.epoch - 1) >>> 0 ? this.previous : null;
    if (secret === null) return false;
    return mac(secret, address, port, cid, epoch).equals(cookie.subarray(4));
  }
}

function mac(secret: Buffer, address: string, port: number, cid: number, epoch: number): Buffer {
  return createHmac('sha256', secret).update(`${address}|${port}|${cid}|${epoch}`).digest().subarray(0, 16);
}

/** A fragment of a message: reliable (in order on its lane) or unreliable (never sent again). */
export interface Fragment {
  reliable: boolean;
  /** Reliable: the lane (the receiver orders per lane); unreliable: 0 (the receiver needs no lane). */
  lane: number;
  /** Reliable: the message's number on its lane; unreliable: its number on the connection. */
  msgId: number;
  offset: number;
  total: number;
  /** The fragment's bytes are `len` bytes of `packet` from `at` (copied out of it, never kept: no view per fragment). */
  packet: Buffer;
  at: number;
  len: number;
}

/** A fragment's bytes, copied into a buffer of their own. */
export function fragmentBytes(f: Fragment): Buffer {
  const b = Buffer.allocUnsafe(f.len);
  f.packet.copy(b, 0, f.at, f.at + f.len);
  return b;
}

/** FRAGMENT: type, lane, message ID, offset, message length, fragment length. */
export const FRAGMENT_OVERHEAD = 1 + 1 + 4 + 4 + 4 + 2;
/** UNRELIABLE: type, message ID, offset, message length, fragment length. */
export const UNRELIABLE_OVERHEAD = 1 + 4 + 4 + 4 + 2;
export const CREDIT_SIZE = 1 + 8;
export const MAX_ACK_RANGES = 32;

export function ackSize(ranges: number): number {
  return 1 + 2 + 1 + ranges * 8;
}

/** Writes a FRAGMENT or UNRELIABLE frame header at `at`; the caller copies the bytes after it. Returns where they go. */
export function writeFragmentHeader(
  buf: Buffer,
  at: number,
  reliable: boolean,
  lane: number,
  msgId: number,
  offset: number,
  total: number,
  len: number,
): number {
  if (reliable) {
    buf[at] = FrameType.Fragment;
    buf[at + 1] = lane;
    at += 2;
  } else buf[at++] = FrameType.Unreliable;
  buf.writeUInt32BE(msgId >>> 0, at);
  buf.writeUInt32BE(offset, at + 4);
  buf.writeUInt32BE(total, at + 8);
  buf.writeUInt16BE(len, at + 12);
  return at + 14;
}

/** Writes a CREDIT frame (a 64-bit byte count) at `at`; returns the end. */
export function writeCredit(buf: Buffer, at: number, credit: number): number {
  buf[at] = FrameType.Credit;
  buf.writeUInt32BE(Math.floor(credit / 0x100000000), at + 1);
  buf.writeUInt32BE(credit >>> 0, at + 5);
  return at + CREDIT_SIZE;
}

/**
 * The frames of one Data packet, parsed into storage that is reused from packet to packet: a packet costs no objects beyond what its messages need, which on a
 * busy connection is the difference between a garbage collection now and then and one every
 * few hundred packets. What `read` found is valid until the next `read`; the connections share
 * one (connection.ts).
 */
export class FrameReader {
  /** ACK frames: the ack delay of each, and where its ranges start in {@link FrameReader.ranges} and how many it has. */
  acks = 0;
  readonly ackDelay: number[] = [];
  readonly ackFirst: number[] = [];
  readonly ackCount: number[] = [];
  /** Every ACK frame's ranges, newest first, as lo, hi, lo, hi… (inclusive). */
  readonly ranges: number[] = [];
  /** FRAGMENT and UNRELIABLE frames: `frags[0 … fragCount)`. */
  fragCount = 0;
  readonly frags: Fragment[] = [];
  /** A CREDIT frame's value, or -1. */
  credit = -1;
  /** An ack-eliciting frame was there. */
  elicit = false;

  /** Parses the frames of `buf` from `start`; false if malformed (the whole packet is then dropped). */
  read(buf: Buffer, start: number): boolean {
    this.acks = 0;
    this.ranges.length = 0;
    this.fragCount = 0;
    this.credit = -1;
    this.elicit = false;
    const end = buf.byteLength;
    let i = start;
    try {
      while (i < end) {
        const t = buf[i++];
        if (t === FrameType.Ack) {
          if (i + 3 > end) return false;
          const n = buf[i + 2];
          if (i + 3 + n * 8 > end) return false;
          this.ackDelay[this.acks] = buf.readUInt16BE(i);
          this.ackFirst[this.acks] = this.ranges.length;
          this.ackCount[this.acks++] = n;
          i += 3;
          for (let k = 0; k < n; k++, i += 8) {
            const lo = buf.readUInt32BE(i);
            const hi = buf.readUInt32BE(i + 4);
            if (lo > hi) return false;
            this.ranges.push(lo, hi);
          }
        } else if (t === FrameType.Fragment || t === FrameType.Unreliable) {
          const reliable = t === FrameType.Fragment;
          const lane = reliable ? buf[i++] : 0;
          const msgId = buf.readUInt32BE(i);
          const offset = buf.readUInt32BE(i + 4);
          const total = buf.readUInt32BE(i + 8);
          const len = buf.readUInt16BE(i + 12);
          i += 14;
          if (i + len > end || offset + len > total || (len === 0 && total !== 0)) return false;
          let f = this.frags[this.fragCount];
          if (f === undefined) this.frags.push((f = { reliable, lane, msgId, offset, total, packet: buf, at: i, len }));
          else {
            f.reliable = reliable;
            f.lane = lane;
            f.msgId = msgId;
            f.offset = offset;
            f.total = total;
            f.packet = buf;
            f.at = i;
            f.len = len;
          }
          this.fragCount++;
          i += len;
          this.elicit = true;
        } else if (t === FrameType.Ping) {
          this.elicit = true;
        } else if (t === FrameType.Credit) {
          this.credit = buf.readUInt32BE(i) * 0x100000000 + buf.readUInt32BE(i + 4);
          i += 8;
        } else return false;
      }
    } catch {
      return false; // a truncated frame
    }
    return true;
  }
}

/** Why a connection was closed, in a Close packet's optional byte (none: a normal close). */
export const enum CloseCode {
  Normal = 0,
  /** The peer sent more than the credit it was granted (as QUIC's FLOW_CONTROL_ERROR). */
  FlowControl = 1,
  /** The sender gave up on the connection (its app's send queue overflowed). */
  Aborted = 2,
}
