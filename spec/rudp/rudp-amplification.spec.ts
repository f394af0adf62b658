/**
 * No amplification (issue #20; RFC 9000 §8): a source that never completes the handshake, or
 * completes it and then never answers, gets at most 3× the bytes it sent — measured with a
 * plain dgram socket on the source's side. And a peer that vanishes mid-transfer ends both
 * sides `SOCKET_LOST` after the idle time-out, keep-alives notwithstanding.
 */
import { ISocket, ShutdownReason } from '../../lib';
import { COOKIE_BYTES, HEADER, INITIAL_SIZE, PacketType, readHeader, writeHeader } from '../../lib/core/rudp/wire';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';
import { startRelay, stranger } from './relay';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

function initial(cid: number, size: number, cookie?: Buffer): Buffer {
  const b = Buffer.alloc(size);
  writeHeader(b, PacketType.Initial, 0, cid);
  if (cookie) {
    b[HEADER] = cookie.byteLength;
    cookie.copy(b, HEADER + 1);
  }
  return b;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('rudp amplification', () => {
  it('a source that never completes the handshake (short, padded and forged-cookie Initials, data for unknown IDs) gets at most 3× what it sent', async () => {
    const { l, lu, port } = await rudpListener(() => new RecordingUser('never'));
    const src = await stranger();
    try {
      for (let i = 0; i < 40; i++) {
        src.send(initial(1000 + i, INITIAL_SIZE), port); // answered with a 30-byte Retry
        src.send(initial(2000 + i, 100), port); // too short: no answer
        src.send(initial(3000 + i, INITIAL_SIZE, Buffer.alloc(COOKIE_BYTES, i)), port); // a forged cookie: a Retry again
        const data = Buffer.alloc(HEADER + 40);
        writeHeader(data, PacketType.Data, 0x7000 + i, 5);
        src.send(data, port); // nobody's ID: no answer
      }
      // Each well-formed Initial, forged cookie or not, is answered by one Retry: wait for all 80,
      // then for quiet, so that anything sent beyond them is counted too.
      await waitFor(() => src.packets.length >= 80, 'a Retry for each of the 80 Initials');
      await waitForQuiet(src);
      expect(src.packets.length).toBe(80);
      expect(src.received()).toBeLessThanOrEqual(3 * src.sent());
      expect(src.packets.every((p) => readHeader(p)?.type === PacketType.Retry)).toBe(true);
      expect(lu.eventsOf('socketListenResult')).toEqual([]);
    } finally {
      await src.close();
    }
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });

  it('a source that completes the cookie round and then never answers: everything it gets until the connection is lost stays within 3× what it sent', async () => {
    const server = new RecordingUser('server');
    const { l, lu, port } = await rudpListener(() => server, { idleTimeoutMs: 800, keepAliveMs: 100 });
    const src = await stranger();
    try {
      src.send(initial(0xabc, INITIAL_SIZE), port);
      await waitFor(() => src.packets.length === 1, 'the Retry');
      const cookie = src.packets[0].subarray(HEADER, HEADER + COOKIE_BYTES);
      src.send(initial(0xabc, INITIAL_SIZE, cookie), port);
      expect(await server.waitForShutdown(await firstSocket(server), WAIT)).toBe(ShutdownReason.Lost);
      expect(src.packets.map((p) => readHeader(p)?.type)).toContain(PacketType.Accept);
      expect(src.received()).toBeLessThanOrEqual(3 * src.sent());
    } finally {
      await src.close();
    }
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });

  it('a peer that vanishes mid-transfer (the path drops everything): both ends end SOCKET_LOST after idleTimeoutMs', async () => {
    const server = messageUser('server', { echo: true });
    const options = { idleTimeoutMs: 600, keepAliveMs: 150 };
    const { l, lu, port } = await rudpListener(() => server, options);
    const relay = await startRelay(port);
    try {
      const cu = messageUser('client');
      const c = rudp.createSocket(cu, options);
      c.connect(`127.0.0.1:${relay.port}`);
      await cu.waitFor('socketConnectComplete', 1, WAIT, c);
      for (let i = 0; i < 5; i++) c.send(pattern(20_000, i));
      await server.waitUntil(() => server.messages.length >= 1, 'the transfer under way', WAIT);
      relay.blocked = true;
      expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Lost);
      expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.Lost);
    } finally {
      await relay.close();
    }
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });
});

/** Resolves once `check()` holds (polled every 10 ms, at most WAIT). */
async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let t = 0; t < WAIT / 10; t++) {
    if (check()) return;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Waits until nothing more arrives at `src` for 200 ms (bounded). */
async function waitForQuiet(src: { received(): number }): Promise<void> {
  let last = -1;
  for (let t = 0; t < 50 && src.received() !== last; t++) {
    last = src.received();
    await sleep(200);
  }
}

async function firstSocket(u: RecordingUser): Promise<ISocket> {
  await u.waitFor('socketAcceptComplete', 1, WAIT);
  return u.sockets[0];
}
