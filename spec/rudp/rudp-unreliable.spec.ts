/**
 * rudp unreliable messages (issue #20): never duplicated, never corrupted, may be lost;
 * fragmented when larger than a datagram; 0 bytes allowed; small messages of one tick share
 * datagrams; incomplete ones are dropped after the time-out or under the memory bound (a
 * hand-made peer leaves them incomplete).
 */
import { ShutdownReason } from '../../lib';
import { UNRELIABLE_TIMEOUT_MS } from '../../lib/core/rudp/inbound';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';
import { fragmentFrame, rawPeer } from './raw-peer';
import { poll, readTag, tagged } from './tags';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

describe('rudp unreliable messages', () => {
  it('under loss, duplication and reordering: never duplicated or corrupted; every send reported in order; reliable ones all there', async () => {
    const simulate = { lossPercent: 10, duplicatePercent: 25, reorderPercent: 25, jitterMs: 2, seed: 7 };
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server, { simulate: { ...simulate, seed: 8 } });
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu, {
      simulate,
      lanes: [
        { priority: 0, weight: 1 },
        { priority: 0, weight: 1 },
      ],
    });
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    const sizes = [6, 200, 1500, 5000, 30_000];
    const N = 150;
    let empties = 0;
    for (let i = 0; i < N; i++) {
      if (i % 10 === 9) {
        c.send(new Uint8Array(0), undefined, { reliable: false, lane: 1 });
        empties++;
      } else c.send(tagged(1, i, sizes[i % sizes.length], false), undefined, { reliable: false, lane: 1 });
      if (i % 15 === 0) c.send(tagged(0, i, 2000), undefined, { lane: 0 }); // reliable ones in between
    }
    const reliable = Math.ceil(N / 15);
    await cu.waitFor('socketSendResult', N + reliable, WAIT, c);
    // A reliable marker after everything: once it is in, the rest is in or lost for good (bar reordering, which only adds).
    c.send(tagged(0, 9999, 10), undefined, { lane: 0 });
    await server.waitUntil(() => server.messages.some((m) => m.byteLength === 10), 'the marker', WAIT);
    const tags = server.messages.filter((m) => m.byteLength > 0).map(readTag); // throws on a corrupted one
    const unreliable = tags.filter((t) => !t.reliable).map((t) => t.index);
    expect(new Set(unreliable).size).toBe(unreliable.length); // none twice
    expect(unreliable.length).toBeGreaterThan(0);
    expect(unreliable.length).toBeLessThanOrEqual(N - empties);
    expect(server.messages.filter((m) => m.byteLength === 0).length).toBeLessThanOrEqual(empties);
    expect(tags.filter((t) => t.reliable).map((t) => t.index)).toEqual([...Array(reliable).keys()].map((k) => k * 15).concat(9999));
    c.shutdown();
    expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
    l.shutdown();
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
  });

  it('small messages queued in one tick share datagrams, reliable and unreliable; a 0-byte unreliable message arrives as a 0-byte recv', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu);
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    const before = c.stats().packetsSent!;
    for (let i = 0; i < 20; i++) c.send(pattern(100, i), undefined, { reliable: i % 2 === 0 });
    c.send(new Uint8Array(0), undefined, { reliable: false });
    await cu.waitFor('socketSendResult', 21, WAIT, c);
    // 21 messages of at most 100 bytes: two datagrams' worth, plus any ACK of the server's acknowledgements.
    expect(c.stats().packetsSent! - before).toBeLessThanOrEqual(4);
    await server.waitUntil(() => server.messages.length === 21, 'every message', WAIT);
    expect(server.messages.slice(0, 20).map((m, i) => m.equals(pattern(100, i)))).toEqual(Array(20).fill(true));
    expect(server.messages[20].byteLength).toBe(0);
    c.shutdown();
    l.shutdown();
    await server.waitForShutdown(server.sockets[0], WAIT);
  });

  it(`an incomplete message is dropped ${UNRELIABLE_TIMEOUT_MS} ms after its last fragment, and the oldest incomplete one when the reassembly memory is full`, async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const peer = await rawPeer(port);
    await server.waitFor('socketAcceptComplete', 1, WAIT);
    const s = server.sockets[0];
    const dropped = (): number => s.stats().unreliableRecvDropped ?? 0;
    const body = pattern(5000, 1);
    // One fragment of a 5000-byte message, never the rest: dropped after the time-out.
    peer.sendData([fragmentFrame(false, 0, 1, 0, 5000, body.subarray(0, 1000))]);
    await poll(() => dropped() === 1, 'the incomplete message to be dropped', UNRELIABLE_TIMEOUT_MS + 5000);
    // The memory bound (1 MiB + 128 bytes with maxMessageSize 512 KiB): a third 400 000-byte message drops the oldest.
    for (let id = 10; id < 13; id++) peer.sendData([fragmentFrame(false, 0, id, 0, 400_000, Buffer.alloc(1000, id))]);
    await poll(() => dropped() === 2, 'the oldest incomplete message to be dropped');
    // A message whose fragments all come is delivered whole, whatever the order of its fragments.
    for (const off of [4000, 0, 2000, 1000, 3000]) peer.sendData([fragmentFrame(false, 0, 20, off, 5000, body.subarray(off, off + 1000))]);
    await server.waitUntil(() => server.messages.length === 1, 'the whole message', WAIT);
    expect(server.messages[0].equals(body)).toBe(true);
    expect(server.count('socketRecvFromResult')).toBe(1);
    s.shutdown();
    expect(await peer.closed()).toBe(0); // a normal close, acknowledged by the peer
    peer.close();
    l.shutdown();
    expect(await server.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
  });
});
