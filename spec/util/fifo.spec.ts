import v8 from 'node:v8';
import vm from 'node:vm';
import { Fifo } from '../../lib/util/fifo';

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

  it('does not keep references to items it gave back', async () => {
    const gc = exposedGc();
    const q = new Fifo<object>();
    const small = new Fifo<object>();
    const burst = new Fifo<object>();
    // The items are made and handed out inside a function, so no variable of the test holds them.
    const refs = ((): { given: Array<WeakRef<object>>; queued: WeakRef<object> } => {
      const pushed = (fifo: Fifo<object>): WeakRef<object> => {
        const item = {};
        fifo.push(item);
        return new WeakRef(item);
      };
      // Given back while another item is still queued: the ring's slot must be cleared.
      const given = [pushed(q), pushed(q)];
      const queued = pushed(q);
      q.shift();
      q.shift();
      // A small ring emptied (it keeps its array), and a large burst drained (it lets the array go).
      given.push(pushed(small));
      small.shift();
      for (let i = 0; i < 3000; i++) given.push(pushed(burst));
      while (burst.length > 0) burst.shift();
      return { given, queued };
    })();
    await collectUntil(gc, () => refs.given.every((r) => r.deref() === undefined), 'the items given back to be collected');
    // The control: the same collections left the item still queued alone.
    expect(refs.queued.deref()).toBeDefined();
    expect([q.length, small.length, burst.length]).toEqual([1, 0, 0]);
  });
});

/**
 * `global.gc` without `--expose-gc` on jest's command line: the flag set at run time applies to
 * contexts made afterwards, so a new vm context has `gc` (a full, synchronous collection).
 */
function exposedGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** Collects garbage until `done()` (WeakRef targets live to the end of the current job: yield between tries), bounded. */
async function collectUntil(gc: () => void, done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    if (done()) return;
  }
  throw new Error(`gc did not free ${what}`);
}
