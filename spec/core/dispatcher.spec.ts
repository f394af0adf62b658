import { Dispatcher } from '../../lib/core/dispatcher';

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
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([1, 2, 3, 4]);
  });
  // A throwing callback is tested in a child process: spec/throwing-callback.spec.ts.
});
