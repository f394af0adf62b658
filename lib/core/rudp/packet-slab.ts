/**
 * Where outgoing rudp packets are written: one shared 64 KiB slab, handed out packet by packet,
 * instead of a `Buffer.allocUnsafe` per packet (whose 8 KiB pool Node replaces every six
 * packets of 1200 bytes: a measurable share of a bulk transfer's time). A packet's bytes are
 * never written again once sent (dgram reads them after `send()` returns, a simulator holds them
 * for a while), so a slab is left to the garbage collector when it is full, never reused.
 */
const SLAB_SIZE = 64 * 1024;

let slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
let used = 0;

/** Room for a packet of up to `size` bytes: `buf` from `at`; then {@link commitPacket} with its length. */
export function reservePacket(size: number): { buf: Buffer; at: number } {
  if (used + size > slab.byteLength) {
    slab = Buffer.allocUnsafeSlow(Math.max(SLAB_SIZE, size));
    used = 0;
  }
  return { buf: slab, at: used };
}

/** The packet written at the reserved place is `length` bytes: returns it (a view of the slab). */
export function commitPacket(length: number): Buffer {
  const packet = slab.subarray(used, used + length);
  used += (length + 7) & ~7; // 8-byte aligned, as Node's own pool
  return packet;
}
