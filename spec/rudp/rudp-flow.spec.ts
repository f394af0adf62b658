/**
 * rudp flow control, hardened (issue #20): the receiver enforces the credit it granted against a
 * sender that ignores it, and the sender's queue is bounded (docs/rudp.md, "Bounds").
 */
import { ShutdownReason } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { memoryLog, messageUser, rudp, rudpListener, WAIT } from './helpers';
import { fragmentFrame, rawPeer } from './raw-peer';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

/** The bound of the send queue with the default maxMessageSize (docs/rudp.md). */
const QUEUE_LIMIT = 4 * 1024 * 1024;
const QUEUE_COST = 64;

describe('rudp flow control', () => {
  it('a sender that ignores the credit is refused: the receiver ends SOCKET_LOST and logs why; the sender gets a flow-control close', async () => {
    const log = memoryLog();
    const server = new RecordingUser('server (never reads)');
    const { l, port } = await rudpListener(() => server, { log });
    const peer = await rawPeer(port);
    await server.waitFor('socketAcceptComplete', 1, WAIT);
    const s = server.sockets[0];
    // 60 000-byte messages started one fragment each: 17 fit the 1 MiB + 128-byte window, the 18th does not.
    for (let id = 0; id < 20; id++) peer.sendData([fragmentFrame(true, 0, id, 0, 60_000, Buffer.alloc(1000, id))]);
    expect(await peer.closed()).toBe(1); // CloseCode.FlowControl
    expect(await server.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Lost);
    expect(log.lines.some((line) => line.includes('beyond the credit it was granted'))).toBe(true);
    // Memory was never taken for more than the window.
    expect(s.stats().readAheadBytes).toBe(0);
    peer.close();
    l.shutdown();
  });

  it('a receiver that does not read holds a well-behaved sender: nothing is refused, and what arrived stays within the window', async () => {
    const server = new RecordingUser('server (reads later)');
    const { l, port } = await rudpListener(() => server);
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu);
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    for (let i = 0; i < 30; i++) c.send(Buffer.alloc(100_000, i));
    // The window holds 10 of these messages (1 MiB + 128 bytes at 100 064 each); their acknowledgements come, no more.
    await cu.waitFor('socketSendResult', 10, WAIT, c);
    await server.waitFor('socketAcceptComplete', 1, WAIT);
    const s = server.sockets[0];
    expect(s.stats().readAheadBytes).toBeLessThanOrEqual(10 * 100_000);
    expect(cu.count('socketSendResult')).toBeLessThanOrEqual(10);
    // Reading releases the rest, in order.
    const got: number[] = [];
    const buf = new Uint8Array(100_000);
    server.on('socketRecvFromResult', (_s, b: Uint8Array) => {
      got.push(b[0]);
      if (got.length < 30) s.recv(buf);
    });
    s.recv(buf);
    await server.waitUntil(() => got.length === 30, 'every message', WAIT);
    expect(got).toEqual([...Array(30).keys()]);
    await cu.waitFor('socketSendResult', 30, WAIT, c);
    c.shutdown();
    expect(await server.waitForShutdown(s, WAIT)).toBe(ShutdownReason.ByPeer);
    l.shutdown();
  });

  it('the send queue is bounded: an unreliable message over the bound is dropped (counted, still reported); a reliable one ends the connection SOCKET_LOST on both ends', async () => {
    const log = memoryLog();
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu, { log });
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    const SIZE = 100_000;
    const fit = Math.floor(QUEUE_LIMIT / (SIZE + QUEUE_COST)); // 41 messages
    for (let i = 0; i < fit; i++) c.send(Buffer.alloc(SIZE, i), undefined, { reliable: i !== fit - 1 });
    for (let i = 0; i < 5; i++) c.send(Buffer.alloc(SIZE, 200 + i), undefined, { reliable: false });
    expect(c.stats().unreliableSendDropped).toBe(5);
    await cu.waitFor('socketSendResult', fit + 5, WAIT, c); // the dropped ones too, in order
    const reliable = (): number[] => server.messages.map((m) => m[0]).filter((b) => b < fit - 1);
    await server.waitUntil(() => reliable().length === fit - 1, 'the reliable messages', WAIT);
    expect(reliable()).toEqual([...Array(fit - 1).keys()]);
    expect(server.messages.some((m) => m[0] >= 200)).toBe(false);
    // Reliable: the queue overflows within one tick; the connection ends rather than grow.
    for (let i = 0; i <= fit; i++) c.send(Buffer.alloc(SIZE, i));
    expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Lost);
    expect(log.lines.some((line) => line.includes('the send queue holds more than'))).toBe(true);
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.Lost);
    l.shutdown();
  });
});
