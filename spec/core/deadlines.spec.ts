import { clearDeadline, setDeadline } from '../../lib/core/deadlines';

const WAIT = 5_000;

/** Resolves when `n` names were recorded, or rejects after WAIT ms. */
function until(fired: string[], n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = setTimeout(() => reject(new Error(`only ${fired.join(',')} fired`)), WAIT);
    const poll = setInterval(() => {
      if (fired.length >= n) {
        clearInterval(poll);
        clearTimeout(stop);
        resolve();
      }
    }, 5);
  });
}

function timeoutCount(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

describe('deadlines (shared time-outs per duration)', () => {
  it('fires each armed deadline once, in the order armed; a cleared one never fires', async () => {
    const fired: string[] = [];
    const a = setDeadline(30, () => fired.push('a'));
    const b = setDeadline(30, () => fired.push('b'));
    setDeadline(30, () => fired.push('c'));
    clearDeadline(b);
    clearDeadline(b); // twice: left alone
    await until(fired, 2);
    clearDeadline(a); // after it fired: left alone
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).toEqual(['a', 'c']);
  });

  it('clearing the oldest does not lose the ones behind it; other durations run on their own', async () => {
    const fired: string[] = [];
    const first = setDeadline(20, () => fired.push('first'));
    setDeadline(20, () => fired.push('second'));
    setDeadline(7, () => fired.push('short'));
    clearDeadline(first);
    await until(fired, 2);
    expect(fired).toEqual(['short', 'second']);
  });

  it('a deadline armed from a firing one (same duration) fires too', async () => {
    const fired: string[] = [];
    setDeadline(15, () => {
      fired.push('outer');
      setDeadline(15, () => fired.push('inner'));
    });
    await until(fired, 2);
    expect(fired).toEqual(['outer', 'inner']);
  });

  it('once every deadline is cleared, no timer is left to keep the process alive', () => {
    const before = timeoutCount();
    const all = Array.from({ length: 100 }, () => setDeadline(60_000, () => undefined));
    expect(timeoutCount()).toBe(before + 1); // one Node timer for the whole lane
    for (const d of all) clearDeadline(d);
    expect(timeoutCount()).toBe(before);
  });
});

describe('deadlines: unref', () => {
  it('an unref deadline keeps no timer that holds the process, and still fires', async () => {
    const before = timeoutCount();
    const fired: string[] = [];
    setDeadline(10, () => fired.push('u'), true);
    expect(timeoutCount()).toBe(before);
    await until(fired, 1);
    expect(fired).toEqual(['u']);
  });
});

describe('deadlines: arming from inside an expiry', () => {
  it('a deadline armed by a firing one does not delay an older one of the same duration', () => {
    // Fake timers (Date.now included): when each fires is checked on the fake clock, no waiting.
    jest.useFakeTimers();
    try {
      const fired: string[] = [];
      setDeadline(80, () => {
        fired.push('a');
        setDeadline(80, () => fired.push('c')); // due at 160
      });
      jest.advanceTimersByTime(20);
      setDeadline(80, () => fired.push('b')); // due at 100
      jest.advanceTimersByTime(60);
      expect(fired).toEqual(['a']);
      jest.advanceTimersByTime(19);
      expect(fired).toEqual(['a']);
      jest.advanceTimersByTime(1); // 100: b, not held back until c's time
      expect(fired).toEqual(['a', 'b']);
      jest.advanceTimersByTime(60);
      expect(fired).toEqual(['a', 'b', 'c']);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a duration beyond what setTimeout takes (2^31 - 1 ms) does not fire early', async () => {
    const fired: string[] = [];
    const far = setDeadline(3_000_000_000, () => fired.push('far'), true);
    await new Promise((r) => setTimeout(r, 30));
    clearDeadline(far);
    expect(fired).toEqual([]);
  });
});
