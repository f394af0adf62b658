/**
 * A connected peer that breaks the protocol on purpose (issue #20, "memory bounded"): it ignores
 * the receiver's credit and starts a thousand 512 KiB messages it never finishes, and it sends
 * ACK frames whose ranges span millions of packet numbers. The receiver holds at most its
 * window, and an ACK costs work in proportion to what is in flight, not to the ranges' width.
 */
import { ISocket } from '../../lib';
import { FrameReader, HEADER, PacketType, readHeader } from '../../lib/core/rudp/wire';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { ackFrame, forgePacket, fragmentFrame as fragment, memory } from './forge';
import { messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';
import { Relay, startRelay } from './relay';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

/** A data packet from the client of `relay`'s connection (its IDs, read from the recorded traffic). */
function forge(relay: Relay, pn: number, frames: Buffer[]): Buffer {
  const real = relay.toServer.find((p) => readHeader(p)?.type === PacketType.Data)!;
  const h = readHeader(real)!;
  const packet = forgePacket(PacketType.Data, h.dcid, h.scid, pn, frames);
  // The forged frames must be what this version's parser reads, or the attack would not be one.
  expect(new FrameReader().read(packet, HEADER + 4)).toBe(true);
  return packet;
}

/**
 * Until the socket has read what was sent to it: its packet count stayed the same for five looks
 * 20 ms apart (bounded by WAIT). Under load the packets injected are still on their way when
 * the injecting loop ends, and memory measured then counts them in flight.
 */
async function settled(s: ISocket): Promise<void> {
  let last = -1;
  let same = 0;
  for (const end = Date.now() + WAIT; same < 5 && Date.now() < end; await sleep(20)) {
    const n = s.stats().packetsReceived ?? 0;
    same = n === last ? same + 1 : 0;
    last = n;
  }
}

async function connected(
  serverUser: RecordingUser,
): Promise<{ l: ISocket; lu: RecordingUser; relay: Relay; c: ISocket; cu: RecordingUser & { messages: Buffer[] } }> {
  const { l, lu, port } = await rudpListener(() => serverUser);
  const relay = await startRelay(port);
  const cu = messageUser('client');
  const c = rudp.createSocket(cu);
  c.connect(`127.0.0.1:${relay.port}`);
  await cu.waitFor('socketConnectComplete', 1, WAIT, c);
  c.send(pattern(100, 1)); // one real data packet, to learn the IDs
  await cu.waitFor('socketSendResult', 1, WAIT, c);
  return { l, lu, relay, c, cu };
}

/** The client closes; once the server side saw it (through the relay), the relay and listener go. */
async function closeAll(server: RecordingUser, l: ISocket, lu: RecordingUser, relay: Relay, c: ISocket): Promise<void> {
  c.shutdown();
  if (server.sockets[0]) await server.waitForShutdown(server.sockets[0], WAIT);
  await relay.close();
  l.shutdown();
  await lu.waitForShutdown(l, WAIT);
}

describe('rudp against a hostile peer', () => {
  it('a peer that ignores the credit and starts 1000 messages of 512 KiB: the receiver holds at most its window (about 1 MiB)', async () => {
    const server = new RecordingUser('server'); // never reads
    const { l, lu, relay, c } = await connected(server);
    try {
      await server.waitFor('socketAcceptComplete', 1, WAIT);
      const before = memory();
      // Message 1 is never sent, so none of these can complete; each claims the largest size.
      for (let k = 0; k < 1000; k++) {
        relay.injectToServer(forge(relay, 1000 + k, [fragment(2 + k, 0, 512 * 1024, 1000)]));
        if (k % 100 === 99) await sleep(5);
      }
      await settled(server.sockets[0]);
      const growth = memory() - before;
      // Without the bound this is 1000 × 512 KiB = 500 MiB.
      expect(growth).toBeLessThan(4 * 1024 * 1024);
      expect(server.sockets[0].stats().readAheadBytes).toBe(100); // the one real message, unread
    } finally {
      await closeAll(server, l, lu, relay, c);
    }
  }, 60000);

  it('1-byte fragments at every offset of two 512 KiB messages: the receiver keeps a bounded record of them', async () => {
    const server = new RecordingUser('server');
    const { l, lu, relay, c } = await connected(server);
    try {
      await server.waitFor('socketAcceptComplete', 1, WAIT);
      const before = memory();
      let pn = 5000;
      for (let off = 0; off < 512 * 1024 - 70; off += 70) {
        for (const msgId of [1, 2]) {
          const frames = Array.from({ length: 70 }, (_, i) => fragment(msgId, off + i, 512 * 1024, 1));
          relay.injectToServer(forge(relay, pn++, frames));
        }
        if (pn % 50 === 0) await sleep(2);
      }
      await settled(server.sockets[0]);
      const growth = memory() - before;
      // 1 MiB of message buffers and a record of ~16 000 fragments; without the bound, ~1 000 000.
      expect(growth).toBeLessThan(5 * 1024 * 1024);
    } finally {
      await closeAll(server, l, lu, relay, c);
    }
  }, 60000);

  it('ACK frames with 255 ranges of a million packet numbers each: the connection keeps up and still delivers', async () => {
    const server = messageUser('server', { echo: true });
    const { l, lu, relay, c, cu } = await connected(server);
    try {
      await server.waitFor('socketAcceptComplete', 1, WAIT);
      // Newest first, as the wire format has them: 254 000 000…254 999 999 down to 0…999 999.
      const ranges = Array.from({ length: 255 }, (_, i): [number, number] => [(254 - i) * 1_000_000, (254 - i) * 1_000_000 + 999_999]);
      const ack = ackFrame(0, 255, ranges);
      for (let k = 0; k < 50; k++) relay.injectToServer(forge(relay, 9000 + k, [ack]));
      // Each such ACK walked 255 million packet numbers before: 50 of them would take minutes.
      for (let i = 0; i < 5; i++) c.send(pattern(3000, 50 + i));
      await cu.waitUntil(() => cu.messages.length === 6, 'the echoes after the ACK flood', WAIT);
    } finally {
      await closeAll(server, l, lu, relay, c);
    }
  }, 60000);
});
