/** Helpers of the lane and message specs: tagged messages, a bounded poll, the simulator's random settings, the name of what a call throws. */
import fc from 'fast-check';
import { pattern } from './helpers';

/** Bytes of the tag at the front of a tagged message: lane (u8), reliable (u8), index (u32). */
export const TAG = 6;

/** A message of `size` bytes (at least {@link TAG}) carrying its tag and a pattern made from it. */
export function tagged(lane: number, index: number, size: number, reliable = true): Buffer {
  if (size < TAG) throw new RangeError(`a tagged message has at least ${TAG} bytes`);
  const b = pattern(size, lane * 100_003 + index * 7 + (reliable ? 1 : 0));
  b[0] = lane;
  b[1] = reliable ? 1 : 0;
  b.writeUInt32BE(index, 2);
  return b;
}

export interface Tag {
  lane: number;
  reliable: boolean;
  index: number;
  size: number;
}

/** The tag of a message made by {@link tagged}; throws if its bytes are not what that tag makes. */
export function readTag(b: Buffer): Tag {
  if (b.byteLength < TAG) throw new Error(`a ${b.byteLength}-byte message has no tag`);
  const tag = { lane: b[0], reliable: b[1] === 1, index: b.readUInt32BE(2), size: b.byteLength };
  if (!tagged(tag.lane, tag.index, tag.size, tag.reliable).equals(b)) throw new Error(`message ${JSON.stringify(tag)} is corrupted`);
  return tag;
}

/** Resolves once `check()` holds, checked every 10 ms; rejects after `timeoutMs` (for facts no callback announces). */
export function poll(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise<void>((resolve, reject) => {
    const step = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      else setTimeout(step, 10);
    };
    step();
  });
}

/** Random `simulate` settings: loss up to 20 %, duplication and reordering up to 10 %, jitter up to 3 ms. */
export const simulateSettings = fc.record({
  lossPercent: fc.integer({ min: 0, max: 20 }),
  duplicatePercent: fc.integer({ min: 0, max: 10 }),
  reorderPercent: fc.integer({ min: 0, max: 10 }),
  jitterMs: fc.integer({ min: 0, max: 3 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

/** The name of the error `f` throws (`RangeError`, `TypeError`, …), or `'nothing'`. */
export function thrownName(f: () => void): string {
  try {
    f();
  } catch (err) {
    return (err as Error).name;
  }
  return 'nothing';
}
