/**
 * Hand-built rudp packets and frames for the hostile-packet specs (the layouts of
 * docs/rudp-wire.md, in one place), and the memory and uncaught-error probes they share.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FRAGMENT_OVERHEAD, FrameType, HEADER, PacketType, writeFragmentHeader, writeHeader } from '../../lib/core/rudp/wire';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap and Buffer memory after a full GC, in bytes. */
export function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Errors that escaped to the process while the spec ran (registered for the spec file's life). */
export function catchUncaught(): unknown[] {
  const uncaught: unknown[] = [];
  const record = (err: unknown): void => void uncaught.push(err);
  const events = ['uncaughtException', 'unhandledRejection'] as const;
  beforeAll(() => events.forEach((e) => process.on(e, record)));
  afterAll(() => events.forEach((e) => process.removeListener(e, record)));
  return uncaught;
}

/** A FRAGMENT frame of a reliable message on lane 0: `len` bytes of 0x5a at `offset` of a `total`-byte message. */
export function fragmentFrame(msgId: number, offset: number, total: number, len: number): Buffer {
  const b = Buffer.alloc(FRAGMENT_OVERHEAD + len, 0x5a);
  writeFragmentHeader(b, 0, true, 0, msgId, offset >>> 0, total >>> 0, len);
  return b;
}

/** An ACK frame that claims `count` ranges and carries `ranges` (inclusive, newest first). */
export function ackFrame(delayMs: number, count: number, ranges: [number, number][]): Buffer {
  const b = Buffer.alloc(4 + ranges.length * 8);
  b[0] = FrameType.Ack;
  b.writeUInt16BE(delayMs, 1);
  b[3] = count;
  ranges.forEach(([lo, hi], i) => {
    b.writeUInt32BE(lo >>> 0, 4 + i * 8);
    b.writeUInt32BE(hi >>> 0, 8 + i * 8);
  });
  return b;
}

/** A CREDIT frame granting `hi` × 2^32 + `lo` bytes. */
export function creditFrame(hi: number, lo: number): Buffer {
  const b = Buffer.alloc(9);
  b[0] = FrameType.Credit;
  b.writeUInt32BE(hi >>> 0, 1);
  b.writeUInt32BE(lo >>> 0, 5);
  return b;
}

export const pingFrame = (): Buffer => Buffer.from([FrameType.Ping]);

/** A packet of `type` to connection `dcid` from `scid` with packet number `pn` and `frames`. */
export function forgePacket(type: PacketType, dcid: number, scid: number, pn: number, frames: Buffer[]): Buffer {
  const head = Buffer.alloc(HEADER + 4);
  writeHeader(head, type, dcid, scid);
  head.writeUInt32BE(pn >>> 0, HEADER);
  return Buffer.concat([head, ...frames]);
}
