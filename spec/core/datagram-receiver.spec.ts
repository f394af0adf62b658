/**
 * DatagramReceiver (issue #15, defects 4 and 5): holding datagrams while a connect is on its
 * way and dropping those not from the peer at release; a pending recv whose buffer was
 * detached is cancelled, and the datagram waits for the next recv.
 */
import { DatagramReceiver, DatagramResult } from '../../lib/core/datagram-receiver';

function receiver(limit = 8): { r: DatagramReceiver; results: DatagramResult[]; canceled: Uint8Array[] } {
  const results: DatagramResult[] = [];
  const canceled: Uint8Array[] = [];
  const r = new DatagramReceiver(
    limit,
    (result) => results.push(result),
    (buffer) => canceled.push(buffer),
    () => undefined,
  );
  return { r, results, canceled };
}

const text = (s: string): Uint8Array => Buffer.from(s);
const got = (res: DatagramResult): string => Buffer.from(res.buffer.subarray(0, res.len)).toString();

describe('DatagramReceiver', () => {
  it('while held, a datagram completes no pending recv; release drops the strangers and serves the recv from the rest', () => {
    const { r, results } = receiver();
    r.hold();
    const buffer = new Uint8Array(16);
    r.request(buffer, 16);
    r.arrive(text('stranger'), '192.0.2.9', 9);
    r.arrive(text('peer'), '192.0.2.1', 1);
    expect(results).toEqual([]);
    const dropped = r.release((a, p) => a === '192.0.2.1' && p === 1);
    expect(dropped.map((d) => [Buffer.from(d.data).toString(), d.address, d.port])).toEqual([['stranger', '192.0.2.9', 9]]);
    expect(results.map(got)).toEqual(['peer']);
    expect(r.queued).toBe(0);
    expect(r.queuedBytes).toBe(0);
    expect(r.dropped).toBe(0); // the queue-full count is another matter
  });

  it('a recv made while held is not served from the queue before release', () => {
    const { r, results } = receiver();
    r.hold();
    r.arrive(text('early'), '192.0.2.1', 1);
    r.request(new Uint8Array(8), 8);
    expect(results).toEqual([]);
    r.release(() => true);
    expect(results.map(got)).toEqual(['early']);
  });

  it('a pending recv whose buffer was detached is cancelled; the datagram waits for the next recv', () => {
    const { r, results, canceled } = receiver();
    const buffer = new Uint8Array(8);
    r.request(buffer, 8);
    structuredClone(buffer.buffer, { transfer: [buffer.buffer] });
    expect(() => r.arrive(text('kept'), '192.0.2.1', 1, true)).not.toThrow();
    expect(canceled.length === 1 && canceled[0] === buffer).toBe(true);
    expect(r.hasPending).toBe(false);
    expect(r.queued).toBe(1);
    r.request(new Uint8Array(8), 8);
    expect(results.map(got)).toEqual(['kept']);
  });

  it('the same at release', () => {
    const { r, results, canceled } = receiver();
    r.hold();
    const buffer = new Uint8Array(8);
    r.request(buffer, 8);
    r.arrive(text('kept'), '192.0.2.1', 1);
    structuredClone(buffer.buffer, { transfer: [buffer.buffer] });
    r.release(() => true);
    expect(canceled.length === 1 && canceled[0] === buffer).toBe(true);
    expect(results).toEqual([]);
    r.request(new Uint8Array(8), 8);
    expect(results.map(got)).toEqual(['kept']);
  });
});
