// AES-GCM record protection of an established DTLS 1.2 session (RFC 6347 §4.1, RFC 5288 §3),
// for application data: the engine (werift-dtls) runs the handshake and makes the keys, and
// this file protects and opens the records that follow, one per datagram. werift builds a
// record object graph, re-serialises it, concatenates buffers and goes through three promises
// per record; here a record is one buffer, written in place (issue #19's profile: about half of
// the DTLS echo's cost was werift's record path around the cipher). Everything else (handshake
// records, alerts, datagrams of several records) still goes to the engine.
import { createCipheriv, createDecipheriv } from 'node:crypto';

/** The keys and numbering of one direction pair, read from the engine once the handshake is done. */
export interface RecordKeys {
  algorithm: 'aes-128-gcm' | 'aes-256-gcm';
  /** Our write key, and the 4-byte implicit part of our nonce (the "salt" of RFC 5288). */
  writeKey: Buffer;
  writeSalt: Buffer;
  /** The peer's write key and salt. */
  readKey: Buffer;
  readSalt: Buffer;
  /** The epoch of the protected records (1 after the first handshake). */
  epoch: number;
  /** The record version we write, as two bytes (DTLS 1.2: 0xfefd). */
  version: number;
  /**
   * The next record sequence number. The engine numbers its own records (a retransmitted
   * Finished, our close_notify) from the same counter, so it is asked each time, never cached.
   */
  nextSequence(): number;
}

/** Record header: type (1), version (2), epoch (2), sequence number (6), length (2). */
const HEADER = 13;
/** The explicit nonce carried in each record (RFC 5288 §3): here the epoch and sequence number. */
const EXPLICIT = 8;
const TAG = 16;
/** Content type of application data. */
export const APPLICATION_DATA = 23;

/** Protects and opens single-record datagrams of one DTLS session. */
export class DtlsRecordLayer {
  private readonly writeNonce = Buffer.alloc(12);
  private readonly readNonce = Buffer.alloc(12);
  /** Additional data (RFC 5246 §6.2.3.3): epoch and sequence number, type, version, plaintext length. */
  private readonly aad = Buffer.alloc(13);

  constructor(private readonly keys: RecordKeys) {
    keys.writeSalt.copy(this.writeNonce, 0, 0, 4);
    keys.readSalt.copy(this.readNonce, 0, 0, 4);
  }

  /** One record of `type` carrying `data` (`len` bytes): header, explicit nonce, ciphertext, tag, in one buffer. */
  protect(type: number, data: Uint8Array, len: number): Buffer {
    const k = this.keys;
    const seq = k.nextSequence();
    const out = Buffer.allocUnsafe(HEADER + EXPLICIT + len + TAG);
    out[0] = type;
    out.writeUInt16BE(k.version, 1);
    out.writeUInt16BE(k.epoch, 3);
    out.writeUIntBE(seq, 5, 6);
    out.writeUInt16BE(EXPLICIT + len + TAG, 11);
    out.copy(out, HEADER, 3, 11); // the explicit nonce: epoch and sequence number, unique per key
    out.copy(this.writeNonce, 4, 3, 11);
    const aad = this.aad;
    out.copy(aad, 0, 3, 11);
    aad[8] = type;
    aad.writeUInt16BE(k.version, 9);
    aad.writeUInt16BE(len, 11);
    const cipher = createCipheriv(k.algorithm, k.writeKey, this.writeNonce, { authTagLength: TAG });
    cipher.setAAD(aad, { plaintextLength: len });
    let at = HEADER + EXPLICIT;
    at += cipher.update(data.subarray(0, len)).copy(out, at);
    at += cipher.final().copy(out, at); // empty for GCM; copied should it not be
    cipher.getAuthTag().copy(out, at);
    return out;
  }

  /**
   * The plaintext of `datagram` if it is exactly one record of `type` in our epoch that
   * authenticates; `'forged'` if it is one that does not (to be dropped silently, RFC 6347
   * §4.1.2.1); null if it is not such a record (the engine gets it: several records in one
   * datagram, another epoch or type).
   */
  open(datagram: Buffer, type: number): Buffer | 'forged' | null {
    const length = datagram.byteLength;
    if (length < HEADER + EXPLICIT + TAG || datagram[0] !== type) return null;
    if (((datagram[3] << 8) | datagram[4]) !== this.keys.epoch) return null;
    if (HEADER + ((datagram[11] << 8) | datagram[12]) !== length) return null; // several records: the engine's
    const plainLength = length - HEADER - EXPLICIT - TAG;
    datagram.copy(this.readNonce, 4, HEADER, HEADER + EXPLICIT);
    const aad = this.aad;
    datagram.copy(aad, 0, 3, 11);
    aad[8] = type;
    aad[9] = datagram[1];
    aad[10] = datagram[2];
    aad.writeUInt16BE(plainLength, 11);
    const decipher = createDecipheriv(this.keys.algorithm, this.keys.readKey, this.readNonce, { authTagLength: TAG });
    decipher.setAuthTag(datagram.subarray(length - TAG));
    decipher.setAAD(aad, { plaintextLength: plainLength });
    const plain = decipher.update(datagram.subarray(HEADER + EXPLICIT, length - TAG));
    try {
      const rest = decipher.final();
      return rest.byteLength === 0 ? plain : Buffer.concat([plain, rest]);
    } catch {
      return 'forged';
    }
  }
}
