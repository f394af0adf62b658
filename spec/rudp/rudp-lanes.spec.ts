/**
 * rudp lanes (issue #20): a lane of a lower priority number is served strictly first, lanes of
 * one priority share by weight, reliable messages are in order per lane, `stats().lanes` tells
 * each lane's queue, and the options are checked. Orders are checked at the receiver (which
 * completes messages in the order their last fragment arrives), never timings.
 */
import { ISocket, ShutdownReason } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { messageUser, rudp, rudpListener, WAIT } from './helpers';
import { readTag, Tag, tagged, thrownName } from './tags';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

async function connectedClient(port: number, lanes: { priority: number; weight: number }[]): Promise<{ c: ISocket; cu: RecordingUser }> {
  const cu = new RecordingUser('client');
  const c = rudp.createSocket(cu, { lanes });
  c.connect(`127.0.0.1:${port}`);
  await cu.waitFor('socketConnectComplete', 1, WAIT, c);
  return { c, cu };
}

describe('rudp lanes', () => {
  it('a small message on a high-priority lane overtakes the backlog of a low-priority lane at the next packet', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const { c, cu } = await connectedClient(port, [
      { priority: 0, weight: 1 },
      { priority: 5, weight: 1 },
    ]);
    const N = 40;
    const SIZE = 50_000;
    for (let i = 0; i < N; i++) c.send(tagged(1, i, SIZE), undefined, { lane: 1 });
    await cu.waitFor('socketSendResult', 1, WAIT, c); // the backlog is flowing
    const lane1 = c.stats().lanes![1];
    const notStarted = Math.floor(lane1.queuedBytes / SIZE);
    expect(notStarted).toBeGreaterThan(5); // there is a backlog to overtake
    c.send(tagged(0, 0, 100), undefined, { lane: 0 });
    await server.waitUntil(() => server.messages.length === N + 1, 'every message', WAIT);
    const order = server.messages.map(readTag);
    const urgentAt = order.findIndex((t) => t.lane === 0);
    // Only the messages already started may come first.
    expect(urgentAt).toBeLessThanOrEqual(N - notStarted);
    expect(order.filter((t) => t.lane === 1).map((t) => t.index)).toEqual([...Array(N).keys()]);
    await cu.waitFor('socketSendResult', N + 1, WAIT, c);
    expect(c.stats().lanes).toEqual([
      { queuedMessages: 0, queuedBytes: 0 },
      { queuedMessages: 0, queuedBytes: 0 },
    ]);
    c.shutdown();
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
    l.shutdown();
  });

  it('lanes of one priority share by weight (3:1 in bytes while both are busy); a lower priority waits until both are empty', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const { c, cu } = await connectedClient(port, [
      { priority: 2, weight: 3 },
      { priority: 2, weight: 1 },
      { priority: 7, weight: 100 },
    ]);
    const N = 60;
    const SIZE = 3000;
    // Queued in one tick, the low priority first and the weights' lanes interleaved: the call order does not matter.
    for (let i = 0; i < 20; i++) c.send(tagged(2, i, SIZE), undefined, { lane: 2 });
    for (let i = 0; i < N; i++) {
      c.send(tagged(1, i, SIZE), undefined, { lane: 1 });
      c.send(tagged(0, i, SIZE), undefined, { lane: 0 });
    }
    const lanes = c.stats().lanes!;
    expect(lanes.map((s) => s.queuedMessages)).toEqual([N, N, 20]);
    expect(lanes.map((s) => s.queuedBytes)).toEqual([N * SIZE, N * SIZE, 20 * SIZE]);
    const total = 2 * N + 20;
    await server.waitUntil(() => server.messages.length === total, 'every message', WAIT);
    const order: Tag[] = server.messages.map(readTag);
    for (const lane of [0, 1, 2]) {
      expect(order.filter((t) => t.lane === lane).map((t) => t.index)).toEqual([...Array(lane === 2 ? 20 : N).keys()]);
    }
    // Strict priority: lane 2 only after lanes 0 and 1 are done.
    const firstLow = order.findIndex((t) => t.lane === 2);
    expect(firstLow).toBe(2 * N);
    // Weighted sharing: up to the last message of the heavier lane, 3 bytes of it for every byte of the other.
    const lastHeavy = order.map((t) => t.lane).lastIndexOf(0);
    const window = order.slice(0, lastHeavy + 1);
    const bytes = (lane: number): number => window.filter((t) => t.lane === lane).reduce((n, t) => n + t.size, 0);
    const ratio = bytes(0) / bytes(1);
    expect(ratio).toBeGreaterThan(2.5);
    expect(ratio).toBeLessThan(3.5);
    await cu.waitFor('socketSendResult', total, WAIT, c);
    c.shutdown();
    l.shutdown();
    await server.waitForShutdown(server.sockets[0], WAIT);
  });

  it('a listener’s lanes apply to the connections it accepts; a lane outside them throws RangeError', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server, {
      lanes: [
        { priority: 0, weight: 1 },
        { priority: 0, weight: 2 },
      ],
    });
    const { c, cu } = await connectedClient(port, [{ priority: 0, weight: 1 }]);
    await server.waitFor('socketAcceptComplete', 1, WAIT);
    const s = server.sockets[0];
    expect(s.stats().lanes).toHaveLength(2);
    s.send(Buffer.from('on lane 1'), undefined, { lane: 1 });
    expect(thrownName(() => s.send(Buffer.from('x'), undefined, { lane: 2 }))).toBe('RangeError');
    expect(thrownName(() => c.send(Buffer.from('x'), undefined, { lane: 1 }))).toBe('RangeError');
    await server.waitFor('socketSendResult', 1, WAIT, s);
    expect(cu.count('socketSendResult')).toBe(0); // the refused sends left nothing behind
    c.shutdown();
    l.shutdown();
    await server.waitForShutdown(s, WAIT);
  });

  it('checks the lanes option and the send options', () => {
    const make = (lanes: unknown): string => thrownName(() => rudp.createSocket(new RecordingUser('bad'), { lanes } as never));
    expect(make('one')).toBe('TypeError');
    expect(make([])).toBe('RangeError');
    expect(make([{ priority: 0, weight: 0 }])).toBe('RangeError');
    expect(make([{ priority: 0.5, weight: 1 }])).toBe('RangeError');
    expect(make([{ priority: 0 }])).toBe('RangeError');
    expect(make([null])).toBe('TypeError');
    expect(make(Array.from({ length: 256 }, () => ({ priority: 0, weight: 1 })))).toBe('RangeError');
    const s = rudp.createSocket(new RecordingUser('ok'), { lanes: Array.from({ length: 255 }, (_, i) => ({ priority: i % 3, weight: 1 + i })) });
    s.connect('127.0.0.1:9'); // nothing listens: the sends below are checked anyway
    const data = Buffer.from('x');
    expect(thrownName(() => s.send(data, undefined, { lane: 255 }))).toBe('RangeError');
    expect(thrownName(() => s.send(data, undefined, { lane: -1 }))).toBe('RangeError');
    expect(thrownName(() => s.send(data, undefined, { lane: 1.5 }))).toBe('RangeError');
    expect(thrownName(() => s.send(data, undefined, { lane: '1' } as never))).toBe('TypeError');
    expect(thrownName(() => s.send(data, undefined, { reliable: 'no' } as never))).toBe('TypeError');
    expect(thrownName(() => s.send(data, undefined, null as never))).toBe('TypeError');
    expect(thrownName(() => s.send(data, undefined, { lane: 254, reliable: false }))).toBe('nothing');
    expect(s.stats().lanes![254]).toEqual({ queuedMessages: 1, queuedBytes: 1 });
    s.shutdown();
  });
});
