// werift entry 13 (see dtls-engine.ts, section "werift-dtls internals"): the sequence numbers
// of the records we send. Kept apart from the engine module, which is long enough.
import type { DtlsSocket as Engine } from 'werift-dtls/lib/dtls/src/index.js';

/**
 * **werift entry 13: every record we send has a sequence number of its own** (RFC 6347 §4.1:
 * unique within its epoch, retransmissions included). werift breaks this twice: it resets its
 * counter to 0 after its Finished, the first record of epoch 1, so its application data repeats
 * 1, 2, … and one record repeats the Finished's number; and it retransmits a flight as the same
 * bytes, sequence numbers included. A peer with an anti-replay window (OpenSSL) drops those
 * records as replays, and `openssl s_client` then blocks in its read: it printed 6 echoes and
 * stopped, or stopped after a late retransmitted flight 5 made us resend flight 6. Each
 * outgoing record is checked here: one whose number is not above the last one sent in its epoch
 * gets the next number (epoch 0: the header rewritten; a protected record: opened with our own
 * write key and sealed again under the new number, a fresh AES-GCM nonce), and werift's counter
 * is moved past it, so its next records are new numbers.
 *
 * - Mirrors: `record/builder.js` `createPlaintext` (`++dtls.recordSequenceNumber`), the resets
 *   in `flight/server/flight2.js`, `flight/client/flight5.js` and `flight/server/flight6.js`
 *   `sendFinished`, `flight/flight.js` `transmit` (the same buffers resent), and
 *   `cipher/suites/aead.js` `encrypt`/`decrypt` (epoch and sequence number in nonce and AAD).
 * - Detected: with entry 1 (`dtls.recordSequenceNumber` a number, a proven version); the
 *   cipher's `encrypt`/`decrypt` at the time of use.
 * - Fallback: the records go as werift made them (OpenSSL peers may stall as described).
 */
export class RecordSequencer {
  /** `enabled(engine)`: werift's numbering fields were found (entry 1), so they may be read and moved. */
  constructor(private readonly enabled: (engine: Engine) => boolean) {}

  /** The next sequence number of each epoch. */
  private readonly next: number[] = [];

  /** `data` with every record numbered above the last one sent in its epoch (a copy if one changed). */
  stamp(engine: Engine, data: Buffer): Buffer {
    if (!this.enabled(engine)) return data;
    let out = data;
    for (let o = 0; o + 13 <= out.length; o += 13 + out.readUInt16BE(o + 11)) {
      const epoch = out.readUInt16BE(o + 3);
      const seq = out.readUIntBE(o + 5, 6);
      const next = this.next[epoch] ?? 0;
      if (seq >= next) {
        this.next[epoch] = seq + 1;
        continue;
      }
      const end = o + 13 + out.readUInt16BE(o + 11);
      const record = end <= out.length ? renumber(engine, out.subarray(o, end), next) : null;
      if (!record) continue;
      if (out === data) out = Buffer.from(data);
      record.copy(out, o);
      this.next[epoch] = next + 1;
    }
    const dtls = engine.dtls;
    const after = this.next[dtls.epoch];
    if (after !== undefined && dtls.recordSequenceNumber < after - 1) dtls.recordSequenceNumber = after - 1;
    return out;
  }

  /** A number for a record of `epoch` that we protect ourselves (`transports/dtls-record.ts`), above all others. */
  take(engine: Engine, epoch: number): number {
    const dtls = engine.dtls;
    const n = Math.max(this.next[epoch] ?? 0, dtls.recordSequenceNumber + 1);
    this.next[epoch] = n + 1;
    dtls.recordSequenceNumber = n;
    return n;
  }

  /** Our records of `epoch` are numbered from `seq` on (at least). */
  startAt(engine: Engine, epoch: number, seq: number): void {
    this.next[epoch] = Math.max(this.next[epoch] ?? 0, seq);
    const dtls = engine.dtls;
    if (this.enabled(engine) && dtls.epoch === epoch && dtls.recordSequenceNumber < seq - 1) dtls.recordSequenceNumber = seq - 1;
  }
}

/** The same record under sequence number `seq`, or null if it cannot be sealed again. */
function renumber(engine: Engine, record: Buffer, seq: number): Buffer | null {
  const epoch = record.readUInt16BE(3);
  const out = Buffer.from(record);
  out.writeUIntBE(seq, 5, 6);
  if (epoch === 0) return out;
  const own = (engine.cipher as { sessionType?: unknown }).sessionType;
  const aead = engine.cipher.cipher as { encrypt?: unknown; decrypt?: unknown } | undefined;
  if ((own !== 1 && own !== 2) || typeof aead?.encrypt !== 'function' || typeof aead.decrypt !== 'function') return null;
  const header = { type: record[0], version: record.readUInt16BE(1), epoch, sequenceNumber: record.readUIntBE(5, 6) };
  try {
    // decrypt() of the other side's type opens with our own write key.
    const plain = (aead.decrypt as (t: number, d: Buffer, h: object) => Buffer).call(aead, own === 1 ? 2 : 1, record.subarray(13), header);
    const sealed = (aead.encrypt as (t: number, d: Buffer, h: object) => Buffer).call(aead, own, plain, { ...header, sequenceNumber: seq });
    if (sealed.length !== record.length - 13) return null;
    sealed.copy(out, 13);
    return out;
  } catch {
    return null;
  }
}
