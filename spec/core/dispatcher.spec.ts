import { Dispatcher, enterApi, leaveApi } from '../../lib/core/dispatcher';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Dispatcher', () => {
  it('never runs a callback inside post(), and keeps post order', async () => {
    const d = new Dispatcher();
    const seen: number[] = [];
    d.post(() => seen.push(1));
    d.post(() => {
      seen.push(2);
      d.post(() => seen.push(4));
    });
    d.post(() => seen.push(3));
    expect(seen).toEqual([]);
    await turn();
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('calls a posted method on its object with its argument, without a closure', async () => {
    const d = new Dispatcher();
    const target = {
      got: [] as string[],
      take(this: { got: string[] }, arg: string) {
        this.got.push(arg);
      },
    };
    d.post(target.take, target, 'a');
    d.post(target.take, target, 'b');
    await turn();
    expect(target.got).toEqual(['a', 'b']);
  });

  describe('postFromEvent (a Node event handler delivering)', () => {
    it('runs at once when nothing is queued and nothing is running', () => {
      const d = new Dispatcher();
      const seen: string[] = [];
      d.postFromEvent(() => seen.push('now'), null);
      expect(seen).toEqual(['now']);
    });

    it('queues behind callbacks posted before it, so order is kept', async () => {
      const d = new Dispatcher();
      const seen: string[] = [];
      d.post(() => seen.push('first'));
      d.postFromEvent(() => seen.push('second'), null);
      expect(seen).toEqual([]);
      await turn();
      expect(seen).toEqual(['first', 'second']);
    });

    it('queues when called from inside a running callback (no nesting)', async () => {
      const d = new Dispatcher();
      const seen: string[] = [];
      d.post(() => {
        d.postFromEvent(() => seen.push('inner'), null);
        seen.push('outer done');
      });
      await turn();
      expect(seen).toEqual(['outer done', 'inner']);
    });

    it('queues while a socket method is on the stack (enterApi/leaveApi)', async () => {
      const d = new Dispatcher();
      const seen: string[] = [];
      enterApi();
      try {
        d.postFromEvent(() => seen.push('later'), null);
        expect(seen).toEqual([]);
      } finally {
        leaveApi();
      }
      await turn();
      expect(seen).toEqual(['later']);
    });

    it('queues on a manual dispatcher until poll()', () => {
      const d = new Dispatcher(true);
      const seen: string[] = [];
      d.postFromEvent(() => seen.push('polled'), null);
      expect(seen).toEqual([]);
      expect(d.poll()).toBe(1);
      expect(seen).toEqual(['polled']);
    });
  });
  // A throwing callback is tested in a child process: spec/throwing-callback.spec.ts.
});
