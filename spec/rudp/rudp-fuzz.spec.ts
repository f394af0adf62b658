/**
 * rudp against hostile datagrams (issue #20): random bytes, mutated, replayed and truncated
 * real packets, forged packets with well-formed frames, and real packets re-addressed to
 * another connection's ID — from strangers and from a connected peer's own address. Nothing
 * throws out of the library, no unrelated connection is harmed, a stranger never gets more
 * than 3× the bytes it sent, and the heap stays bounded.
 */
import fc from 'fast-check';
import { ISocket } from '../../lib';
import { PacketType, readHeader } from '../../lib/core/rudp/wire';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { fuzzRuns, runFuzz } from '../reliability/helpers/fuzz-runner';
import { ackFrame, catchUncaught, creditFrame, forgePacket, fragmentFrame, memory, pingFrame } from './forge';
import { messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';
import { Relay, startRelay, Stranger, stranger } from './relay';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const FILE = 'spec/rudp/rudp-fuzz.spec.ts';

const uncaught = catchUncaught();
afterEach(async () => {
  expect(uncaught).toEqual([]);
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

// ---- packets ------------------------------------------------------------------------------

/** What a scenario knows of the real traffic: recorded packets and the connection IDs. */
interface Known {
  packets: Buffer[];
  /** The server-side connection IDs (the destination of client packets): [A, B]. */
  cids: number[];
}

const u32 = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 0xffffffff }));

/** A frame with a well-formed layout and hostile values. */
const frameArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({
      n: fc.integer({ min: 0, max: 255 }),
      ranges: fc.array(fc.tuple(u32, fc.integer({ min: 0, max: 3_000_000 })), { maxLength: 12 }),
      delay: fc.nat(65535),
    })
    .map(({ n, ranges, delay }) =>
      ackFrame(
        delay,
        n,
        ranges.map(([lo, span]) => [lo, Math.min(0xffffffff, lo + span)]),
      ),
    ),
  fc
    .record({ msgId: u32, offset: u32, total: fc.oneof(u32, fc.integer({ min: 0, max: 600_000 })), len: fc.integer({ min: 0, max: 1100 }) })
    .map(({ msgId, offset, total, len }) => fragmentFrame(msgId, offset, total, len)),
  fc.constant(pingFrame()),
  fc.tuple(u32, u32).map(([hi, lo]) => creditFrame(hi, lo)),
  fc.uint8Array({ minLength: 1, maxLength: 20 }).map((a) => Buffer.from(a)),
);

type PacketMaker = (k: Known) => Buffer;

/** Hostile packets; `closes`: forged ones may be Close packets (which end the connection they name). */
const packetArb = (closes: boolean): fc.Arbitrary<PacketMaker> =>
  fc.oneof(
    // random bytes
    fc.uint8Array({ maxLength: 1300 }).map((a) => () => Buffer.from(a)),
    // a real packet replayed, mutated and/or truncated
    fc
      .record({
        pick: fc.nat(),
        edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        cut: fc.option(fc.nat(), { nil: undefined }),
      })
      .map(({ pick, edits, cut }) => (k: Known) => {
        if (k.packets.length === 0) return Buffer.alloc(0);
        const b = Buffer.from(k.packets[pick % k.packets.length]);
        for (const [at, v] of edits) b[at % b.length] = v;
        return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
      }),
    // a real packet with another connection's ID
    fc.record({ pick: fc.nat(), to: fc.nat() }).map(({ pick, to }) => (k: Known) => {
      if (k.packets.length === 0) return Buffer.alloc(0);
      const b = Buffer.from(k.packets[pick % k.packets.length]);
      b.writeUInt32BE(k.cids[to % k.cids.length] >>> 0, 2);
      return b;
    }),
    // a forged packet of any type for a real connection: well-formed frames, hostile values
    fc
      .record({
        type: fc.oneof(
          { weight: 6, arbitrary: fc.constant(PacketType.Data) },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: 10 }).filter((t) => closes || t !== PacketType.Close) },
        ),
        to: fc.nat(),
        pn: u32,
        frames: fc.array(frameArb, { maxLength: 6 }),
      })
      .map(
        ({ type, to, pn, frames }) =>
          (k: Known) =>
            forgePacket(type as PacketType, k.cids[to % k.cids.length], 0x1234, pn, frames).subarray(0, 1400),
      ),
  );

const scenarioArb = (closes: boolean): fc.Arbitrary<[number, PacketMaker][]> =>
  fc.array(fc.tuple(fc.nat(), packetArb(closes)), { minLength: 1, maxLength: 16 });

// ---- the stage ----------------------------------------------------------------------------

interface Stage {
  l: ISocket;
  lu: RecordingUser;
  port: number;
  peers: RecordingUser & { messages: Buffer[] };
  relays: Relay[];
  clients: { u: RecordingUser & { messages: Buffer[] }; c: ISocket }[];
  known: Known;
}

/** A listener with two echoing connections A and B, each through a recording relay. */
async function stage(): Promise<Stage> {
  const peers = messageUser('peers', { echo: true });
  const { l, lu, port } = await rudpListener(() => peers);
  const relays = [await startRelay(port), await startRelay(port)];
  const clients: Stage['clients'] = [];
  for (const [i, r] of relays.entries()) {
    // One after the other: peers.sockets[i] is client i's connection.
    const u = messageUser(`client${i}`);
    const c = rudp.createSocket(u);
    c.connect(`127.0.0.1:${r.port}`);
    await peers.waitFor('socketAcceptComplete', i + 1, WAIT);
    clients.push({ u, c });
  }
  for (const { u, c } of clients) await u.waitFor('socketConnectComplete', 1, WAIT, c);
  for (const [i, { u, c }] of clients.entries()) {
    for (let m = 0; m < 5; m++) c.send(pattern(1500 * m, i * 100 + m));
    await u.waitUntil(() => u.messages.length === 5, 'the first echoes', WAIT);
  }
  const cids = relays.map((r) => readHeader(r.toServer.find((p) => readHeader(p)?.type === PacketType.Data)!)!.dcid);
  const packets = relays.flatMap((r) => [...r.toServer, ...r.toClient]);
  return { l, lu, port, peers, relays, clients, known: { packets, cids } };
}

/** Each connection still echoes `n` new messages intact, in order. */
async function stillTalks(s: Stage, which: number[], n: number): Promise<void> {
  for (const i of which) {
    const { u, c } = s.clients[i];
    const before = u.messages.length;
    for (let m = 0; m < n; m++) c.send(pattern(700 + m * 997, 7000 + m));
    await u.waitUntil(() => u.messages.length === before + n, `client${i}: ${n} echoes after the fuzz`, WAIT);
    u.messages.slice(before).forEach((msg, m) => expect(msg.equals(pattern(700 + m * 997, 7000 + m))).toBe(true));
  }
}

async function teardown(s: Stage, strangers: Stranger[]): Promise<void> {
  for (const { c } of s.clients) c.shutdown();
  await s.peers.waitUntil(() => s.peers.count('socketShutdown') === 2, 'both peers ended', WAIT);
  await Promise.all([...strangers.map((x) => x.close()), ...s.relays.map((r) => r.close())]);
  s.l.shutdown();
  await s.lu.waitForShutdown(s.l, WAIT);
}

describe('rudp fuzz', () => {
  it('from strangers: nothing throws, both connections live on unharmed, each stranger gets at most 3× what it sent, the heap stays bounded', async () => {
    const s = await stage();
    const strangers = await Promise.all(Array.from({ length: 8 }, () => stranger()));
    try {
      const before = memory();
      const RUNS = 150;
      let runs = 0;
      await runFuzz(
        FILE,
        scenarioArb(true),
        async (scenario) => {
          runs++;
          for (const [from, make] of scenario) strangers[from % strangers.length].send(make(s.known), s.port);
          await sleep(2);
          expect(uncaught).toEqual([]);
          expect(s.peers.eventsOf('socketShutdown')).toEqual([]);
        },
        RUNS,
      );
      expect(runs).toBe(fuzzRuns(RUNS));
      await stillTalks(s, [0, 1], 10);
      const growth = memory() - before;
      if (process.env.RUDP_REPORT) console.log('strangers', growth);
      expect(growth).toBeLessThan(8 * 1024 * 1024);
      for (const x of strangers) expect(x.received()).toBeLessThanOrEqual(3 * x.sent());
      expect(s.peers.sockets.map((p) => p.remotePort)).toEqual(s.relays.map((r) => r.serverSidePort));
      expect(s.l.connectionCount).toBe(2);
    } finally {
      await teardown(s, strangers);
    }
  }, 120000);

  it("from a connected peer's address (its own ID and the other's): nothing throws, the other connection is unharmed, the heap stays bounded", async () => {
    const s = await stage();
    try {
      const before = memory();
      let peak = 0;
      const RUNS = 150;
      await runFuzz(
        FILE,
        scenarioArb(false), // a forged Close would end A at once; mutated real packets still may
        async (scenario) => {
          for (const [, make] of scenario) s.relays[0].injectToServer(make(s.known));
          await sleep(2);
          expect(uncaught).toEqual([]);
          // Connection A may be broken by what is sent in its name; B never.
          expect(s.peers.eventsOf('socketShutdown').map((e) => e.socket.remotePort)).not.toContain(s.relays[1].serverSidePort);
          const m = process.memoryUsage();
          peak = Math.max(peak, m.heapUsed + m.arrayBuffers);
        },
        RUNS,
      );
      await stillTalks(s, [1], 10);
      expect(s.peers.sockets[1].remotePort).toBe(s.relays[1].serverSidePort);
      const growth = memory() - before;
      if (process.env.RUDP_REPORT) console.log('peer', growth, peak - before);
      expect(growth).toBeLessThan(16 * 1024 * 1024);
      expect(peak - before).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await teardown(s, []);
    }
  }, 120000);
});
