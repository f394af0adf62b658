/**
 * The rudp socket pair of `socket-provider/testing` (issue #20: the socket pair stands in for an
 * rudp connection in app tests): two real rudp sockets over an in-process link.
 */
import { ISocket, ShutdownReason } from '../../lib';
import { createRudpSocketPair } from '../../lib/testing';
import { cleanupAndCheck, guard, RecordingUser } from '../helpers/recording-user';
import { messageUser, pattern, WAIT } from './helpers';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

/** A guarded pair: API calls through the returned sockets are checked by the recording users. */
function pair(a: RecordingUser, b: RecordingUser, options = {}): [ISocket, ISocket] {
  const [sa, sb] = createRudpSocketPair(a, b, options);
  a.adopt(sa);
  b.adopt(sb);
  return [guard(sa), guard(sb)];
}

describe('createRudpSocketPair', () => {
  it('two connected rudp ends: A connects, B is accepted; messages 0 B … 512 KiB both ways, intact, one per recv; shutdown gives BY_PEER', async () => {
    const a = messageUser('a');
    const b = messageUser('b', { echo: true });
    const [sa, sb] = pair(a, b);
    expect([sa.type, sa.mode, sb.type, sb.mode]).toEqual(['rudp', 'client', 'rudp', 'client']);
    await a.waitFor('socketConnectComplete', 1, WAIT, sa);
    await b.waitFor('socketAcceptComplete', 1, WAIT, sb);
    expect(sa.remoteAddress).toBe('');
    expect(sb.getLocalAddress()).toEqual({ address: '', port: 0 });
    const sizes = [0, 1, 1500, 65536, 512 * 1024];
    const sent = sizes.map((n, i) => pattern(n, i));
    for (const m of sent) sa.send(m);
    await a.waitUntil(() => a.messages.length === sizes.length, 'the echoes', WAIT);
    a.messages.forEach((m, i) => expect(m.equals(sent[i])).toBe(true));
    await a.waitFor('socketSendResult', sizes.length, WAIT, sa);
    expect(sa.stats().rttMs).not.toBeNull();
    sa.shutdown();
    expect(await b.waitForShutdown(sb, WAIT)).toBe(ShutdownReason.ByPeer);
    expect(await a.waitForShutdown(sa, WAIT)).toBe(ShutdownReason.Normal);
  });

  it('simulate applies: under 10 % loss, duplication and reordering every message still arrives once, in order', async () => {
    const a = new RecordingUser('a');
    const b = messageUser('b');
    const [sa, sb] = pair(a, b, { simulate: { lossPercent: 10, duplicatePercent: 5, reorderPercent: 5, seed: 11 } });
    for (let i = 0; i < 50; i++) sa.send(pattern(100 + i * 97, i));
    await b.waitUntil(() => b.messages.length === 50, 'every message', WAIT);
    b.messages.forEach((m, i) => expect(m.equals(pattern(100 + i * 97, i))).toBe(true));
    expect(sa.stats().retransmits).toBeGreaterThan(0);
    sa.shutdown();
    await b.waitForShutdown(sb, WAIT);
  });

  it('a message longer than the recv is not lost; the options are checked as on any rudp socket', async () => {
    const a = new RecordingUser('a');
    const b = new RecordingUser('b');
    const [sa, sb] = pair(a, b);
    sa.send(pattern(10, 1));
    const got: number[] = [];
    const buf = new Uint8Array(4);
    b.on('socketRecvFromResult', (s: ISocket, _b: Uint8Array, n: number) => {
      got.push(n);
      if (got.length < 3) s.recv(buf);
    });
    sb.recv(buf);
    await b.waitUntil(() => got.length === 3, 'three recvs', WAIT);
    expect(got).toEqual([4, 4, 2]);
    expect(() => createRudpSocketPair(new RecordingUser('x'), new RecordingUser('y'), { mtu: 10 })).toThrow(RangeError);
    expect(() => createRudpSocketPair(new RecordingUser('x'), {} as RecordingUser)).toThrow(TypeError);
    sa.shutdown();
    sb.shutdown();
  });

  it('an end that goes silent: the other ends SOCKET_LOST after idleTimeoutMs', async () => {
    const a = new RecordingUser('a');
    const b = new RecordingUser('b');
    const [, sb] = pair(a, b, { idleTimeoutMs: 300, keepAliveMs: 100, simulate: { lossPercent: 100 } });
    expect(await b.waitForShutdown(sb, WAIT)).toBe(ShutdownReason.Lost);
  });
});
