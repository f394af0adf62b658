/**
 * What a peer can do to a message socket, and what it cannot: messages over maxMessageSize
 * (by length prefix, by a missing delimiter, as a datagram) end that connection with
 * SOCKET_LOST, a logged reason and `framingError`, and nothing else; a peer that closes in
 * the middle of a message; a clean close after whole messages; and flow control: a fast
 * sender is held back while the app does not ask.
 */
import type * as net from 'node:net';
import { createUdpSocketProvider, LogFlag, ShutdownReason } from '../../lib';
import { MessageErrorCode, MessageFraming } from '../../lib/messages';
import { closeAllRaw, pollUntil, rawConnect, settle, StreamCollector } from '../helpers/net-helpers';
import { closePlainSockets, plainUdp } from '../helpers/udp-peers';
import { cleanupMessages, connected, memoryLog, MessageRecorder, StreamServer, withRawPeer, wrap } from './message-harness';

afterEach(async () => {
  const violations = await cleanupMessages();
  await closeAllRaw();
  closePlainSockets();
  expect(violations).toEqual([]);
});

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const framed = (m: string): Buffer => Buffer.concat([u32(Buffer.byteLength(m)), Buffer.from(m)]);

/** A TCP message-socket server (accepting with `options`) and a way to add raw clients. */
async function server(framing: MessageFraming, maxMessageSize?: number) {
  const srv = await new StreamServer('tcp', null, () => '').start();
  const log = memoryLog(LogFlag.Tcp);
  let n = 0;
  return {
    log,
    /** A new raw client, and the message user of its accepted end (receiving every message). */
    async client(): Promise<{ raw: net.Socket; seen: StreamCollector; user: MessageRecorder }> {
      const raw = await rawConnect(srv.port);
      const user = new MessageRecorder(`connection ${n}`, { autoReceive: true, echo: true });
      wrap(await srv.accepted(n++), user, { framing, maxMessageSize, log });
      return { raw, seen: new StreamCollector(raw), user };
    },
  };
}

describe('a message larger than maxMessageSize', () => {
  it.each([
    ['u32, by its length prefix (default limit: 16 MiB)', 'u32' as MessageFraming, undefined, u32(16 * 1024 * 1024 + 1)],
    ['u32, by its length prefix (limit 1000)', 'u32' as MessageFraming, 1000, u32(1001)],
    ['varint, by its length prefix', 'varint' as MessageFraming, 1000, Buffer.from([0xe9, 0x07])],
    ['a delimiter not found within the limit', { delimiter: '\n' } as MessageFraming, 1000, Buffer.alloc(1001, 0x61)],
  ])('%s: closes that connection (SOCKET_LOST, logged), after the messages before it; a second connection works', async (_name, framing, max, bad) => {
    const s = await server(framing, max);
    const first = await s.client();
    const ok = typeof framing === 'object' ? Buffer.from('fine\n') : framing === 'u32' ? framed('fine') : Buffer.from([4, ...Buffer.from('fine')]);
    first.raw.write(Buffer.concat([ok, bad]));

    expect(await first.user.waitForShutdown()).toBe(ShutdownReason.Lost);
    expect(first.user.messages().map(String)).toEqual(['fine']);
    const ms = first.user.events[0].socket;
    expect(ms.framingError).toBe(MessageErrorCode.TooLarge);
    expect(s.log.lines.join('\n')).toMatch(
      /tcp message socket \(\w+\) with 127\.0\.0\.1:\d+: .*maxMessageSize.*\(ERR_MESSAGE_TOO_LARGE\); closing the connection/,
    );
    await first.seen.waitForEnd(); // the echo of "fine" came first
    expect(first.seen.data().equals(ok)).toBe(true);

    const second = await s.client();
    second.raw.write(ok);
    await second.user.waitForMessages(1);
    await second.seen.waitForBytes(ok.length);
    expect(second.seen.data().equals(ok)).toBe(true);
    expect(second.user.count('messageSocketShutdown')).toBe(0);
  });

  it('a varint length prefix longer than 5 bytes: ERR_MESSAGE_BAD_LENGTH, SOCKET_LOST', async () => {
    const s = await server('varint');
    const c = await s.client();
    c.raw.write(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x00]));
    expect(await c.user.waitForShutdown()).toBe(ShutdownReason.Lost);
    expect(c.user.events[0].socket.framingError).toBe(MessageErrorCode.BadLength);
    expect(s.log.lines.join('\n')).toContain('ERR_MESSAGE_BAD_LENGTH');
  });

  it('UDP: a datagram over the limit ends the message socket (SOCKET_LOST, ERR_MESSAGE_TOO_LARGE)', async () => {
    const peer = await plainUdp();
    const socket = await connected(createUdpSocketProvider(), `127.0.0.1:${peer.port}`);
    const log = memoryLog(LogFlag.Udp);
    const u = new MessageRecorder('udp', { autoReceive: true });
    const ms = wrap(socket, u, { maxMessageSize: 100, log });
    await peer.send(Buffer.alloc(100, 1), socket.localPort!);
    await peer.send(Buffer.alloc(101, 2), socket.localPort!);
    expect(await u.waitForShutdown()).toBe(ShutdownReason.Lost);
    expect(u.messages()).toEqual([Buffer.alloc(100, 1)]);
    expect(ms.framingError).toBe(MessageErrorCode.TooLarge);
    expect(log.lines.join('\n')).toMatch(/^udp message socket \(datagram\) with 127\.0\.0\.1:\d+: an incoming datagram of more than 100 bytes/);
  });
});

describe('the peer closing', () => {
  it('cleanly after whole messages: they are delivered as the app asks, then SOCKET_SHUTDOWN_BY_PEER, not before', async () => {
    const user = new MessageRecorder('server');
    const { raw, ms } = await withRawPeer(user);
    raw.end(Buffer.concat([framed('one'), framed('two'), framed('three')]));
    ms.receiveNext();
    await user.waitForMessages(1);
    await settle(); // the peer's end has arrived by now; the two messages left hold it back
    expect(user.count('messageSocketShutdown')).toBe(0);
    ms.receiveNext();
    await user.waitForMessages(2);
    ms.receiveNext();
    await user.waitForMessages(3);
    expect(user.count('messageSocketShutdown')).toBe(0);
    ms.receiveNext(); // nothing left: the end comes instead of a message
    expect(await user.waitForShutdown()).toBe(ShutdownReason.ByPeer);
    expect(user.messages().map(String)).toEqual(['one', 'two', 'three']);
    expect(ms.framingError).toBeNull();
  });

  it('in the middle of a message: the messages before it, then SOCKET_LOST with ERR_MESSAGE_TRUNCATED', async () => {
    const log = memoryLog(LogFlag.Tcp);
    const user = new MessageRecorder('server', { autoReceive: true });
    const { raw, ms } = await withRawPeer(user, { log });
    raw.end(Buffer.concat([framed('whole'), u32(10), Buffer.from('half')]));
    expect(await user.waitForShutdown()).toBe(ShutdownReason.Lost);
    expect(user.messages().map(String)).toEqual(['whole']);
    expect(ms.framingError).toBe(MessageErrorCode.Truncated);
    expect(log.lines.join('\n')).toContain('the peer closed in the middle of a message (ERR_MESSAGE_TRUNCATED)');
  });

  it('with a reset: SOCKET_LOST, no framing error', async () => {
    const user = new MessageRecorder('server', { autoReceive: true });
    const { raw, ms } = await withRawPeer(user);
    raw.write(framed('before the reset'));
    await user.waitForMessages(1);
    raw.resetAndDestroy();
    expect(await user.waitForShutdown()).toBe(ShutdownReason.Lost);
    expect(ms.framingError).toBeNull();
  });
});

describe('flow control', () => {
  it('holds back a fast sender while the app does not ask for the next message, and loses nothing', async () => {
    const user = new MessageRecorder('server');
    const { raw, ms } = await withRawPeer(user);
    const COUNT = 2048;
    const body = Buffer.alloc(16 * 1024 - 4, 0x5a);
    const frame = Buffer.concat([u32(body.length), body]); // 32 MiB in all: more than every kernel buffer on the way
    let drained = false;
    for (let i = 0; i < COUNT; i++) raw.write(frame);
    raw.once('drain', () => (drained = true));

    ms.receiveNext();
    await user.waitForMessages(1);
    await settle(300); // nothing asks now: the sender must stay stuck
    expect(user.count('messageReceived')).toBe(1);
    expect(drained).toBe(false);
    expect(raw.writableLength).toBeGreaterThan(0);
    // Taken from the network: at most the socket's read-ahead (256 KiB), the message socket's
    // buffer (64 KiB) and a chunk or two Node read.
    expect(ms.socket.bytesReceived).toBeLessThan(1024 * 1024);

    user.onMessage = (s) => s.receiveNext();
    ms.receiveNext();
    await user.waitForMessages(COUNT, 20000);
    await pollUntil(() => drained, 'the sender to drain');
    expect(user.messages().every((m) => m.equals(body))).toBe(true);
  });
});
