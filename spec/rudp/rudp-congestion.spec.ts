/**
 * rudp congestion control against the simulator (issue #20): the congestion window is smaller
 * under random loss and behind a rate-limited bottleneck than on a clean path, and two
 * connections through one bottleneck share it. Everything is judged by counters (bytes, the
 * window from `stats()`), never by time.
 */
import { ISocket, SocketOptions } from '../../lib';
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
async function bulk(clientOptions: SocketOptions, serverOptions: SocketOptions = {}): Promise<{ peakCwnd: number; lost: number }> {
  const server = messageUser('server');
  const { l, lu, port } = await rudpListener(() => server, serverOptions);
  const cu = new RecordingUser('client');
  const c = rudp.createSocket(cu, clientOptions);
  c.connect(`127.0.0.1:${port}`);
  await cu.waitFor('socketConnectComplete', 1, WAIT, c);
  let peak = 0;
  cu.on('socketSendResult', () => void (peak = Math.max(peak, cwndOf(c))));
  for (let i = 0; i < MESSAGES; i++) c.send(pattern(SIZE, i));
  await cu.waitFor('socketSendResult', MESSAGES, WAIT, c);
  await server.waitUntil(() => server.messages.length === MESSAGES, 'every message', WAIT);
  server.messages.forEach((m, i) => expect(m.equals(pattern(SIZE, i))).toBe(true));
  const lost = c.stats().packetsLost ?? 0;
  c.shutdown();
  expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe('SOCKET_SHUTDOWN_BY_PEER');
  l.shutdown();
  await lu.waitForShutdown(l, WAIT);
  return { peakCwnd: peak, lost };
}

describe('rudp congestion control', () => {
  it('backs off: the window under 5 % loss, and behind a 2 MB/s bottleneck with a 32 KiB queue, stays well below the clean path’s', async () => {
    const clean = await bulk({});
    const lossy = await bulk({ simulate: { lossPercent: 5, seed: 7 } });
    const narrow = await bulk({ simulate: { rateLimitBytesPerSec: 2_000_000, rateLimitQueueBytes: 32 * 1024 } });
    expect(lossy.lost).toBeGreaterThan(0);
    expect(narrow.lost).toBeGreaterThan(0); // the full queue dropped datagrams: drop-tail
    expect(lossy.peakCwnd).toBeLessThan(clean.peakCwnd / 2);
    expect(narrow.peakCwnd).toBeLessThan(clean.peakCwnd / 2);
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
    // The bottleneck was the limit: its full queue dropped datagrams of both.
    for (const { c } of clients) expect(c.stats().packetsLost).toBeGreaterThan(0);
    for (const u of users) u.messages.forEach((m, i) => expect(m.equals(pattern(SIZE, i))).toBe(true));
    for (const { c } of clients) c.shutdown();
    for (const u of users) await u.waitForShutdown(u.sockets[0], WAIT);
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  }, 60000);
});
