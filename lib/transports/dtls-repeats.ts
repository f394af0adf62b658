// Repeated handshake records, dropped before the engine. werift takes every handshake message it
// receives as a new one: a retransmitted ServerKeyExchange makes its client generate a new key
// pair, a retransmitted ServerHelloDone runs the client's flight 5 again (after the handshake
// too: new keys the peer never gets), and each retransmitted ClientKeyExchange makes its server
// redo the ECDH. Under load every flight is retransmitted several times (werift's first timer is
// 0.5 s), so that wasted work fed itself: 180 clients on one listener sent their flight 5 about
// 4.7 times each, and the listener's UDP receive buffer overflowed (see docs/dtls.md).

const RECORD_HEADER = 13;
const HANDSHAKE_HEADER = 12;
/** Distinct handshake records remembered per session: a real handshake has about ten. */
const MAX_REMEMBERED = 64;

/**
 * Drops the peer's unprotected (epoch 0) handshake records that repeat one already given to
 * the engine (same handshake headers: type, length, message_seq, fragment offset and length,
 * which a retransmission keeps, RFC 6347 §4.2.2), and every one once the handshake is done.
 * ClientHellos always pass during the handshake: werift's server answers a repeated one (a
 * lost HelloVerifyRequest or ServerHello flight is resent only then). Everything else that was
 * lost is resent by the sender's own retransmission timer, and werift's server resends its
 * last flight on the peer's repeated Finished, which is protected (epoch 1) and passes.
 */
export class HandshakeRepeatFilter {
  private readonly seen = new Set<string>();
  /** Records dropped so far. */
  dropped = 0;

  /** `msg` without the repeated records (the same buffer when none is), or null if nothing is left. */
  filter(msg: Buffer, secured: boolean): Buffer | null {
    let kept: Buffer[] | null = null;
    let o = 0;
    while (o + RECORD_HEADER <= msg.length) {
      const end = o + RECORD_HEADER + msg.readUInt16BE(o + 11);
      if (end > msg.length) break; // a cut record: left to the engine, which ignores it
      if (this.isRepeat(msg, o, end, secured)) {
        this.dropped++;
        kept ??= o > 0 ? [msg.subarray(0, o)] : [];
      } else if (kept) {
        kept.push(msg.subarray(o, end));
      }
      o = end;
    }
    if (!kept) return msg;
    if (o < msg.length) kept.push(msg.subarray(o));
    return kept.length === 0 ? null : Buffer.concat(kept);
  }

  private isRepeat(msg: Buffer, start: number, end: number, secured: boolean): boolean {
    if (msg[start] !== 22 || msg[start + 3] !== 0 || msg[start + 4] !== 0) return false; // not an unprotected handshake record
    if (secured) return true;
    if (msg[start + RECORD_HEADER] === 1) return false; // client_hello
    let key = '';
    for (let h = start + RECORD_HEADER; h + HANDSHAKE_HEADER <= end; h += HANDSHAKE_HEADER + msg.readUIntBE(h + 9, 3)) {
      key += msg.toString('latin1', h, h + HANDSHAKE_HEADER);
    }
    if (this.seen.has(key)) return true;
    if (this.seen.size < MAX_REMEMBERED) this.seen.add(key);
    return false;
  }
}
