import { Fifo } from '../../lib/core/fifo';

describe('Fifo (ring buffer)', () => {
  it('gives items back in order across growth and wrap-around, with the right length', () => {
    const q = new Fifo<number>();
    const model: number[] = [];
    let next = 0;
    // A fixed pattern of pushes and shifts that wraps the ring many times and grows it.
    for (let round = 0; round < 200; round++) {
      const pushes = (round * 7) % 13;
      const shifts = (round * 5) % 11;
      for (let i = 0; i < pushes; i++) {
        q.push(next);
        model.push(next++);
      }
      for (let i = 0; i < shifts; i++) expect(q.shift()).toBe(model.shift());
      expect(q.length).toBe(model.length);
    }
    while (model.length > 0) expect(q.shift()).toBe(model.shift());
    expect(q.shift()).toBeUndefined();
    expect(q.length).toBe(0);
  });

  it('keeps working after clear(), and after a large burst was drained', () => {
    const q = new Fifo<string>();
    for (let i = 0; i < 5000; i++) q.push(`x${i}`);
    for (let i = 0; i < 5000; i++) expect(q.shift()).toBe(`x${i}`);
    q.push('a');
    q.push('b');
    expect(q.shift()).toBe('a');
    q.clear();
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    q.push('c');
    expect([q.length, q.shift(), q.length]).toEqual([1, 'c', 0]);
  });

  it('does not keep references to items it gave back', () => {
    const q = new Fifo<object>();
    const items = (q as unknown as { items: unknown[] }).items;
    q.push({});
    q.shift();
    const now = (q as unknown as { items: unknown[] }).items;
    expect((now.length === 0 ? items : now).every((x) => x === undefined)).toBe(true);
  });
});
