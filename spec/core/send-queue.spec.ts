/** The one send queue (lib/core/send-queue.ts): held until open, in-flight accounting, completions in order, the drained-wait. */
import { SendQueue, SendQueueOwner } from '../../lib/core/send-queue';

class Owner implements SendQueueOwner {
  readonly log: string[] = [];
  transmit(data: Buffer): void {
    this.log.push(`transmit ${data}`);
  }
  sendFinished(data: Buffer, err: Error | null): void {
    this.log.push(`finished ${data}${err ? ` (${err.message})` : ''}`);
  }
}

describe('SendQueue', () => {
  it('holds sends until open(), then hands them down in call order; later sends go at once', () => {
    const owner = new Owner();
    const q = new SendQueue(owner);
    q.push(Buffer.from('a'));
    q.push(Buffer.from('bb'));
    expect(owner.log).toEqual([]);
    expect([q.heldCount, q.inFlightCount, q.queuedBytes, q.isEmpty]).toEqual([2, 0, 3, false]);
    q.open();
    q.push(Buffer.from('ccc'));
    expect(owner.log).toEqual(['transmit a', 'transmit bb', 'transmit ccc']);
    expect([q.heldCount, q.inFlightCount, q.queuedBytes]).toEqual([0, 3, 6]);
  });

  it('completes the oldest send first and counts every byte once; handedDown() sends are counted like the others', () => {
    const owner = new Owner();
    const q = new SendQueue(owner);
    q.open();
    q.push(Buffer.from('one'));
    q.handedDown(Buffer.from('two!'));
    expect(q.queuedBytes).toBe(7);
    q.complete(null);
    q.complete(new Error('refused'));
    q.complete(null); // nothing in flight: ignored
    expect(owner.log).toEqual(['transmit one', 'finished one', 'finished two! (refused)']);
    expect([q.queuedBytes, q.isEmpty]).toEqual([0, true]);
  });

  it('the drained-wait runs at once when empty, else after the last completion was reported', () => {
    const owner = new Owner();
    const q = new SendQueue(owner);
    let drained = 0;
    q.whenDrained(() => drained++);
    expect(drained).toBe(1);
    q.open();
    q.push(Buffer.from('x'));
    q.push(Buffer.from('y'));
    q.whenDrained(() => owner.log.push('drained'));
    q.complete(null);
    expect(owner.log).not.toContain('drained');
    q.complete(null);
    expect(owner.log.slice(-2)).toEqual(['finished y', 'drained']);
  });

  it('discard() drops held sends (never reported) and the drained-wait; sends in flight stay counted until completed', () => {
    const owner = new Owner();
    const q = new SendQueue(owner);
    q.push(Buffer.from('held'));
    q.discard();
    expect([q.queuedBytes, q.isEmpty]).toEqual([0, true]);
    q.open();
    q.push(Buffer.from('out'));
    q.whenDrained(() => owner.log.push('drained'));
    q.discard();
    expect(q.queuedBytes).toBe(3);
    q.complete(null);
    expect(owner.log).toEqual(['transmit out', 'finished out']);
  });
});
