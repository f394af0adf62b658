/**
 * Connection migration (docs/rudp-wire.md, "Migration"), after RFC 9000 §8.2 and §9: a packet
 * with a known connection ID from a new address does not move the connection; it makes the
 * server challenge that address (a PathChallenge with 8 random bytes), and only a PathResponse
 * carrying the same bytes from that address moves the connection there. Until then nothing
 * from the new address reaches the connection (payloads are not authenticated: an unvalidated
 * packet is not trusted), and the address is sent at most 3× the bytes received from it, so a
 * replayed packet from a spoofed source neither steals the connection nor amplifies.
 */
import { randomBytes } from 'crypto';
import { DatagramHandle, DatagramSink, DatagramTransport, HandleSettings, HostPort } from '../datagram-path';
import { HEADER, PacketType, writeHeader } from './wire';

/** The random bytes of a challenge (RFC 9000 §19.17). */
export const CHALLENGE_BYTES = 8;
/** Candidate paths kept per connection (the oldest forgotten first). */
export const MAX_CANDIDATES = 4;
/** Challenges per candidate whose answer is still accepted (a lost one is sent again). */
const CHALLENGES_KEPT = 3;
/** Before validation, an address gets at most this many times the bytes it sent (RFC 9000 §8). */
export const AMPLIFICATION_LIMIT = 3;

/** Tests only (spec/rudp): moves a connected client to a new local UDP port (on another local address if one is given), as a NAT rebinding does. */
export const kRebind = Symbol('rudp.rebind');

/** A PathChallenge or PathResponse packet. */
export function pathPacket(type: PacketType.PathChallenge | PacketType.PathResponse, dcid: number, scid: number, data: Buffer): Buffer {
  const buf = Buffer.alloc(HEADER + CHALLENGE_BYTES);
  writeHeader(buf, type, dcid, scid);
  data.copy(buf, HEADER, 0, CHALLENGE_BYTES);
  return buf;
}

/** The response to a PathChallenge packet (the same bytes back), or null for a malformed one. */
export function answerChallenge(challenge: Buffer, localCid: number, peerCid: number): Buffer | null {
  if (challenge.byteLength < HEADER + CHALLENGE_BYTES) return null;
  return pathPacket(PacketType.PathResponse, peerCid, localCid, challenge.subarray(HEADER, HEADER + CHALLENGE_BYTES));
}

/** What a {@link PathValidator} needs of its connection (the listener's record of it). */
export interface PathHost {
  readonly localCid: number;
  readonly peerCid: number;
  /** The highest packet number of a Data packet from the validated path. */
  readonly largestPn: number;
  /** One datagram to `address`:`port` on the shared handle. */
  sendTo(buf: Buffer, address: string, port: number): void;
  /** The peer answered from `address`:`port`: the connection moves there. */
  validated(address: string, port: number): void;
  /** The connection's smoothed RTT (ms), null before a sample: paces repeated challenges. */
  rttMs(): number | null;
}

interface Candidate {
  address: string;
  port: number;
  received: number;
  sent: number;
  challenges: Buffer[];
  lastChallengeAt: number;
}

/** One connection's candidate paths on the server (made when a first packet comes from another address). */
export class PathValidator {
  private candidates: Candidate[] = [];

  constructor(private readonly host: PathHost) {}

  /**
   * A packet with this connection's ID from another address. Only a Data packet newer than any
   * from the validated path (RFC 9000 §9.3: the highest-numbered packet) opens a candidate: a
   * replay of an old packet opens nothing. The packet itself is dropped.
   */
  fromOther(type: PacketType, data: Buffer, address: string, port: number): void {
    let c = this.candidates.find((x) => x.address === address && x.port === port);
    if (type === PacketType.PathResponse) {
      if (c && data.byteLength >= HEADER + CHALLENGE_BYTES && c.challenges.some((ch) => ch.equals(data.subarray(HEADER, HEADER + CHALLENGE_BYTES)))) {
        this.candidates = [];
        this.host.validated(address, port);
      }
      return;
    }
    if (!c) {
      if (type !== PacketType.Data || data.byteLength < HEADER + 4 || data.readUInt32BE(HEADER) <= this.host.largestPn) return;
      c = { address, port, received: 0, sent: 0, challenges: [], lastChallengeAt: 0 };
      this.candidates.push(c);
      if (this.candidates.length > MAX_CANDIDATES) this.candidates.shift();
    }
    c.received += data.byteLength;
    const now = performance.now();
    // A lost challenge goes again when the peer sends again, no sooner than twice the RTT.
    if (c.challenges.length > 0 && now - c.lastChallengeAt < 2 * Math.max(5, this.host.rttMs() ?? 50)) return;
    if (c.sent + HEADER + CHALLENGE_BYTES > AMPLIFICATION_LIMIT * c.received) return;
    const challenge = randomBytes(CHALLENGE_BYTES);
    c.challenges.push(challenge);
    if (c.challenges.length > CHALLENGES_KEPT) c.challenges.shift();
    c.lastChallengeAt = now;
    const buf = pathPacket(PacketType.PathChallenge, this.host.peerCid, this.host.localCid, challenge);
    c.sent += buf.byteLength;
    this.host.sendTo(buf, address, port);
  }
}

/**
 * Tests only ({@link kRebind}): a new handle connected to `remote`, delivering to `sink`;
 * `done(null)` if the OS refused it. The caller swaps it in and closes the old one.
 */
export function openRebound(
  transport: DatagramTransport,
  settings: HandleSettings,
  sink: DatagramSink,
  remote: HostPort,
  done: (handle: DatagramHandle | null) => void,
  /** A local address to bind first (a move to another address, not only another port). */
  localAddress?: string,
): void {
  let handle: DatagramHandle;
  try {
    handle = transport.open(settings, sink);
  } catch {
    return done(null);
  }
  const connect = (): void =>
    handle.connect(remote.port, remote.address, (err) => {
      if (!err) return done(handle);
      handle.close();
      done(null);
    });
  if (localAddress === undefined) connect();
  else handle.bind(localAddress, 0, connect);
}
