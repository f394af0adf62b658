/**
 * rudp flow control over time (issue #20): a receiver that stops reading while the sender keeps
 * four 64 KiB messages outstanding for 30 s. The receiver never holds more than its window, the
 * sender's queue stays at what the app handed it, and the process's memory is flat from the
 * moment the window filled to the end; then the receiver reads and every message arrives.
 */
import { ISocket } from '../../lib';
import { MESSAGE_COST } from '../../lib/core/rudp/send-lanes';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../../lib/core/rudp/options';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { memory } from './forge';
import { pattern, rudp, rudpListener, WAIT } from './helpers';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

const RUN_MS = Number(process.env.RUDP_FLOW_MS ?? 30_000);
const SIZE = 64 * 1024;
const OUTSTANDING = 4;
/** The receiver's window: what it grants beyond what the app read (docs/rudp.md, "Bounds"). */
const WINDOW = 2 * (DEFAULT_MAX_MESSAGE_SIZE + MESSAGE_COST);

it(
  `a receiver that stops reading for ${RUN_MS / 1000} s: both sides bounded, memory flat, then everything arrives`,
  async () => {
    const server = new RecordingUser('server'); // reads nothing until the end
    const { l, lu, port } = await rudpListener(() => server);
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu);
    let sent = 0;
    const sendNext = (s: ISocket): void => void s.send(pattern(SIZE, sent++));
    cu.on('socketConnectComplete', (s) => {
      for (let i = 0; i < OUTSTANDING; i++) sendNext(s);
    });
    cu.on('socketSendResult', (s) => sendNext(s)); // keeps trying: a new message for every one acknowledged
    c.connect(`127.0.0.1:${port}`);
    await server.waitFor('socketAcceptComplete', 1, WAIT);
    const s = server.sockets[0];
    // The window fills: the sender stops getting results.
    const fits = Math.floor(WINDOW / (SIZE + MESSAGE_COST));
    await server.waitUntil(() => (s.stats().readAheadBytes ?? 0) >= fits * SIZE, 'the window full', WAIT);
    await sleep(500);
    const start = memory();
    const sentAtStart = sent;
    const packetsAtStart = c.stats().packetsSent ?? 0;
    const samples: { readAhead: number; queued: number; unacked: number }[] = [];
    const deadline = performance.now() + RUN_MS;
    while (performance.now() < deadline) {
      await sleep(1000);
      const cs = c.stats();
      samples.push({ readAhead: s.stats().readAheadBytes ?? 0, queued: cs.queuedSendBytes ?? 0, unacked: cs.unackedBytes ?? 0 });
    }
    const growth = memory() - start;
    for (const x of samples) {
      expect(x.readAhead).toBeLessThanOrEqual(WINDOW);
      expect(x.queued).toBeLessThanOrEqual(OUTSTANDING * SIZE);
      expect(x.unacked).toBeLessThanOrEqual(WINDOW);
    }
    expect(sent).toBe(sentAtStart); // no message was taken meanwhile…
    expect(c.stats().packetsSent).toBeGreaterThan(packetsAtStart); // …while the connection stayed alive (keep-alives)
    expect(growth).toBeLessThan(2 * 1024 * 1024);
    expect(s.stats().packetsReceived).toBeGreaterThan(0);
    // The receiver reads again: every message arrives, intact and in order.
    const total = sent;
    const got: Buffer[] = [];
    const buf = new Uint8Array(SIZE);
    server.on('socketRecvFromResult', (sock: ISocket, b: Uint8Array, n: number) => {
      got.push(Buffer.from(b.subarray(0, n)));
      if (got.length < total) sock.recv(buf);
    });
    cu.on('socketSendResult', () => undefined);
    s.recv(buf);
    await server.waitUntil(() => got.length >= total, 'every message after the pause', WAIT);
    got.slice(0, total).forEach((m, i) => expect(m.equals(pattern(SIZE, i))).toBe(true));
    c.shutdown();
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  },
  RUN_MS + 60_000,
);
