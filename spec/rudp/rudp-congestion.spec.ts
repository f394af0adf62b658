/**
 * rudp congestion control against the simulator (issue #20; docs/rudp-wire.md, "Congestion
 * control"): behind a rate-limited bottleneck the window stays well below a clean path's, whether
 * the bottleneck's queue delays (the window stops growing) or drops (it shrinks); each loss event
 * halves the window behind a queue and costs at most a fifth on random loss (the client's log
 * says which, with the window before and after); two connections through one bottleneck share
 * it. Everything is judged by counters (bytes, the window from `stats()`, the log), never by time.
 */
import { IInstanceLog, ISocket, LogFlag, SocketOptions } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

/** The congestion window, from stats(): sendRateBytesPerSec is cwnd / max(0.05 ms, srtt). */
function cwndOf(s: ISocket): number {
  const st = s.stats();
  return ((st.sendRateBytesPerSec ?? 0) * Math.max(0.05, st.rttMs ?? 100)) / 1000;
}

const MESSAGES = 40;
const SIZE = 50_000;

/** Sends MESSAGES × SIZE bytes from a client with `clientOptions` to a listener with `serverOptions`; the largest window seen after the first ack, and the stats. */
/** A loss event as the client logged it (Connection.detectLoss): the window before and after, and how the loss was taken. */
interface LossEvent {
  before: number;
  after: number;
  kind: 'random' | 'congestion';
}

function lossLog(): IInstanceLog & { losses: LossEvent[] } {
  const losses: LossEvent[] = [];
  return {
    losses,
    isEnabled: (flag) => flag === LogFlag.Rudp,
    log: (_flag, message) => {
      const m = /loss: window (\d+) -> (\d+) bytes \((random|congestion)/.exec(message);
      if (m) losses.push({ before: Number(m[1]), after: Number(m[2]), kind: m[3] as LossEvent['kind'] });
    },
  };
}

async function bulk(
  clientOptions: SocketOptions,
  serverOptions: SocketOptions = {},
): Promise<{ peakCwnd: number; lost: number; sendRate: number; losses: LossEvent[] }> {
  const server = messageUser('server');
  const { l, lu, port } = await rudpListener(() => server, serverOptions);
  const cu = new RecordingUser('client');
  const log = lossLog();
  const c = rudp.createSocket(cu, { ...clientOptions, log });
  c.connect(`127.0.0.1:${port}`);
  await cu.waitFor('socketConnectComplete', 1, WAIT, c);
  let peak = 0;
  cu.on('socketSendResult', () => void (peak = Math.max(peak, cwndOf(c))));
  for (let i = 0; i < MESSAGES; i++) c.send(pattern(SIZE, i));
  await cu.waitFor('socketSendResult', MESSAGES, WAIT, c);
  await server.waitUntil(() => server.messages.length === MESSAGES, 'every message', WAIT);
  server.messages.forEach((m, i) => expect(m.equals(pattern(SIZE, i))).toBe(true));
  const lost = c.stats().packetsLost ?? 0;
  const sendRate = c.stats().sendRateBytesPerSec ?? Infinity;
  c.shutdown();
  expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe('SOCKET_SHUTDOWN_BY_PEER');
  l.shutdown();
  await lu.waitForShutdown(l, WAIT);
  return { peakCwnd: peak, lost, sendRate, losses: log.losses };
}

describe('rudp congestion control', () => {
  it('backs off behind a bottleneck: a 2 MB/s link whose 32 KiB queue delays (the window stops growing) or whose 2 KiB queue drops (the window shrinks) keeps the window well below the clean path’s and the allowed rate near the link’s', async () => {
    const clean = await bulk({});
    const deep = await bulk({ simulate: { rateLimitBytesPerSec: 2_000_000, rateLimitQueueBytes: 32 * 1024 } });
    const shallow = await bulk({ simulate: { rateLimitBytesPerSec: 2_000_000, rateLimitQueueBytes: 2 * 1024 } });
    expect(shallow.lost).toBeGreaterThan(0); // the full queue dropped datagrams: drop-tail
    expect(deep.peakCwnd).toBeLessThan(clean.peakCwnd / 2);
    expect(shallow.peakCwnd).toBeLessThan(clean.peakCwnd / 2);
    expect(deep.sendRate).toBeLessThan(4 * 2_000_000);
    expect(shallow.sendRate).toBeLessThan(4 * 2_000_000);
  }, 60000);

  it('answers each loss event: halves the window behind a queue; on random loss (5 %, nothing queues) takes at most a fifth; never grows it', async () => {
    const lossy = await bulk({ simulate: { lossPercent: 5, seed: 7 } });
    // Jitter looks like a queue that comes and goes (the RTT well above its smallest): losses there are taken for congestion.
    const queued = await bulk({ simulate: { lossPercent: 2, seed: 3, jitterMs: 10 } });
    expect(lossy.lost).toBeGreaterThan(0);
    const events = [...lossy.losses, ...queued.losses];
    expect(lossy.losses.some((e) => e.kind === 'random')).toBe(true);
    expect(queued.losses.some((e) => e.kind === 'congestion')).toBe(true);
    const floor = 2 * 1200; // two packets of the default mtu
    for (const e of events) {
      expect(e.after).toBeLessThanOrEqual(e.before);
      // The log rounds both windows to bytes.
      if (e.kind === 'congestion') expect(Math.abs(e.after - Math.max(floor, e.before / 2))).toBeLessThanOrEqual(1);
      else expect(e.after).toBeGreaterThanOrEqual(Math.min(e.before, Math.max(floor, Math.floor(0.8 * e.before))));
    }
  }, 60000);

  it('two connections through one bottleneck (the listener’s simulate) share it: each gets at least 25 % of the bytes', async () => {
    const perConn = 60;
    const users: (RecordingUser & { messages: Buffer[] })[] = [];
    const { l, lu, port } = await rudpListener(
      () => {
        const u = messageUser(`server${users.length}`);
        users.push(u);
        return u;
      },
      { simulate: { rateLimitBytesPerSec: 3_000_000, rateLimitQueueBytes: 64 * 1024 } },
    );
    const clients = [0, 1].map((i) => {
      const u = new RecordingUser(`client${i}`);
      const c = rudp.createSocket(u);
      c.connect(`127.0.0.1:${port}`);
      return { u, c };
    });
    for (const { u, c } of clients) await u.waitFor('socketConnectComplete', 1, WAIT, c);
    await lu.waitUntil(() => users.length === 2 && users.every((u) => u.sockets.length === 1), 'both accepted', WAIT);
    for (let i = 0; i < perConn; i++) for (const { c } of clients) c.send(pattern(SIZE, i));
    const bytes = (u: { messages: Buffer[] }): number => u.messages.reduce((n, m) => n + m.byteLength, 0);
    // While both still have a backlog: half of everything arrived.
    const half = (perConn * SIZE * 2) / 2;
    await lu.waitUntil(() => bytes(users[0]) + bytes(users[1]) >= half, 'half of the bytes', WAIT);
    const shares = users.map(bytes);
    const total = shares[0] + shares[1];
    expect(shares.every((n) => n < perConn * SIZE)).toBe(true); // neither had finished
    for (const n of shares) expect(n).toBeGreaterThanOrEqual(0.25 * total);
    for (const { u, c } of clients) await u.waitFor('socketSendResult', perConn, WAIT, c);
    // The bottleneck was the limit: each one's allowed rate came down to the order of its share.
    for (const { c } of clients) expect(c.stats().sendRateBytesPerSec).toBeLessThan(4 * 3_000_000);
    for (const u of users) u.messages.forEach((m, i) => expect(m.equals(pattern(SIZE, i))).toBe(true));
    for (const { c } of clients) c.shutdown();
    for (const u of users) await u.waitForShutdown(u.sockets[0], WAIT);
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  }, 60000);
});
