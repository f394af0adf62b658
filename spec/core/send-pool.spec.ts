import { SendPool } from '../../lib/core/send-pool';

describe('SendPool', () => {
  it('copies: changing the source after copy() does not change the copy', () => {
    const pool = new SendPool();
    for (const n of [1, 64, 4096, 4097, 65536, 100_000]) {
      const src = new Uint8Array(n).fill(7);
      const copy = pool.copy(src, n);
      src.fill(9);
      expect(copy.byteLength).toBe(n);
      expect(copy.every((b) => b === 7)).toBe(true);
    }
  });

  it('copies only the first n bytes', () => {
    const copy = new SendPool().copy(Uint8Array.of(1, 2, 3, 4), 2);
    expect([...copy]).toEqual([1, 2]);
  });

  it('reuses a released block for the next copy of its size class', () => {
    const pool = new SendPool();
    const a = pool.acquire(65536);
    pool.release(a);
    const b = pool.acquire(40_000);
    expect(b.buffer).toBe(a.buffer);
    const c = pool.acquire(40_000);
    expect(c.buffer).not.toBe(a.buffer); // handed out once only
  });

  it("never takes in memory it did not hand out: small copies (Node's shared pool) and views", () => {
    const pool = new SendPool();
    const small = pool.acquire(100);
    pool.release(small);
    const view = Buffer.from(new ArrayBuffer(65536), 1, 10_000);
    pool.release(view);
    const odd = Buffer.allocUnsafeSlow(10_000); // not a power-of-two block
    pool.release(odd);
    const appBlock = Buffer.from(new ArrayBuffer(16384)); // shaped like a pool block, but the app's
    pool.release(appBlock);
    const next = pool.acquire(10_000);
    expect([small.buffer, view.buffer, odd.buffer, appBlock.buffer]).not.toContain(next.buffer);
  });

  it('keeps a bounded amount of free memory per size class', () => {
    const pool = new SendPool();
    const blocks = Array.from({ length: 200 }, () => pool.acquire(65536));
    blocks.forEach((b) => pool.release(b));
    const reused = new Set<ArrayBufferLike>();
    const original = new Set<ArrayBufferLike>(blocks.map((b) => b.buffer));
    for (let i = 0; i < 200; i++) {
      const b = pool.acquire(65536);
      if (original.has(b.buffer)) reused.add(b.buffer);
    }
    expect(reused.size).toBe(64); // 4 MiB of 64 KiB blocks
  });

  it('keeps at most 8 MiB free over all size classes together', () => {
    const pool = new SendPool();
    const sizes = [8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304];
    const made = sizes.flatMap((n) => Array.from({ length: 4 }, () => pool.acquire(n)));
    made.forEach((b) => pool.release(b));
    const own = new Set<ArrayBufferLike>(made.map((b) => b.buffer));
    let keptBytes = 0;
    for (const n of sizes) {
      for (let i = 0; i < 4; i++) {
        const b = pool.acquire(n);
        if (own.has(b.buffer)) keptBytes += b.buffer.byteLength;
      }
    }
    expect(keptBytes).toBeGreaterThan(0);
    expect(keptBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
  });
});
