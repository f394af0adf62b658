/**
 * rudp connection migration (issue #20; RFC 9000 §8.2, §9): a client that moves to a new local
 * port mid-transfer keeps its connection once the new path answered the server's challenge, and
 * every message still arrives; a replayed or forged packet from another source does not move
 * the connection, and that source gets at most 3× the bytes it sent.
 */
import { ISocket } from '../../lib';
import { kRebind } from '../../lib/core/rudp/migration';
import { HEADER, PacketType, readHeader } from '../../lib/core/rudp/wire';
import { cleanupAndCheck, unwrap } from '../helpers/recording-user';
import { memoryLog, messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';
import { startRelay, stranger } from './relay';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

/** Moves a connected rudp client to a new local port, on `localAddress` if given (the internal test hook). */
function rebind(c: ISocket, localAddress?: string): Promise<void> {
  return new Promise((resolve) => (unwrap(c) as unknown as Record<symbol, (done: () => void, localAddress?: string) => void>)[kRebind](resolve, localAddress));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('rudp migration', () => {
  it('the client rebinds to a new local port mid-transfer: every message arrives both ways, and the server socket follows the new port', async () => {
    const server = messageUser('server', { echo: true });
    const { l, lu, port } = await rudpListener(() => server);
    const cu = messageUser('client');
    const c = rudp.createSocket(cu);
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    const oldPort = c.localPort;
    const sent = Array.from({ length: 120 }, (_, i) => pattern(20_000 + i, i));
    for (const m of sent) c.send(m);
    await server.waitUntil(() => server.messages.length >= 10, 'the transfer under way', WAIT);
    await rebind(c);
    const atRebind = server.messages.length;
    expect(atRebind).toBeLessThan(sent.length); // mid-transfer
    expect(c.localPort).not.toBe(oldPort);
    await cu.waitUntil(() => cu.messages.length === sent.length, 'every echo', WAIT);
    expect(server.messages.length).toBe(sent.length);
    server.messages.forEach((m, i) => expect(m.equals(sent[i])).toBe(true));
    cu.messages.forEach((m, i) => expect(m.equals(sent[i])).toBe(true));
    const s = server.sockets[0];
    expect(s.remotePort).toBe(c.localPort);
    expect(l.stats().listener).toMatchObject({ accepted: 1, live: 1 });
    // The connection lives on after the move: a second rebind, then a clean close.
    await rebind(c);
    c.send(pattern(5000, 999));
    await cu.waitUntil(() => cu.messages.length === sent.length + 1, 'the echo after a second move', WAIT);
    expect(s.remotePort).toBe(c.localPort);
    c.shutdown();
    expect(await server.waitForShutdown(s, WAIT)).toBe('SOCKET_SHUTDOWN_BY_PEER');
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });

  it('a move to another address starts congestion control and the RTT estimate again (RFC 9000 §9.4); a move to another port on the same address keeps them', async () => {
    const log = memoryLog();
    const server = messageUser('server', { echo: true });
    const { l, lu, port } = await rudpListener(() => server, { log });
    const cu = messageUser('client');
    const c = rudp.createSocket(cu);
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    const round = async (n: number): Promise<void> => {
      const before = cu.messages.length;
      for (let i = 0; i < n; i++) c.send(pattern(3000, i));
      await cu.waitUntil(() => cu.messages.length === before + n, 'the echoes', WAIT);
    };
    await round(20);
    const s = server.sockets[0];
    await rebind(c); // a new port, the same address
    await round(20);
    expect(s.remotePort).toBe(c.localPort);
    expect(log.lines.filter((m) => m.includes('the peer moved to'))).toEqual([
      expect.stringContaining(`127.0.0.1:${c.localPort} (the same address: congestion control and RTT kept)`),
    ]);
    await rebind(c, '127.0.0.2'); // another address of the loopback
    await round(20);
    expect(s.remoteAddress).toBe('127.0.0.2');
    expect(s.remotePort).toBe(c.localPort);
    const moves = log.lines.filter((m) => m.includes('the peer moved to'));
    expect(moves).toHaveLength(2);
    expect(moves[1]).toContain(`127.0.0.2:${c.localPort} (a new address: congestion control and RTT start again)`);
    expect(s.stats().rttMs).not.toBeNull(); // measured again on the new path
    c.shutdown();
    expect(await server.waitForShutdown(s, WAIT)).toBe('SOCKET_SHUTDOWN_BY_PEER');
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });

  it('a replayed or forged packet from another source does not move the connection; that source gets at most 3× what it sent', async () => {
    const server = messageUser('server', { echo: true });
    const { l, lu, port } = await rudpListener(() => server);
    const relay = await startRelay(port);
    const spoof = await stranger();
    try {
      const cu = messageUser('client');
      const c = rudp.createSocket(cu);
      c.connect(`127.0.0.1:${relay.port}`);
      await cu.waitFor('socketConnectComplete', 1, WAIT, c);
      for (let i = 0; i < 20; i++) c.send(pattern(2000, i));
      await cu.waitUntil(() => cu.messages.length === 20, 'the first echoes', WAIT);
      const s = server.sockets[0];
      expect(s.remotePort).toBe(relay.serverSidePort);
      const data = relay.toServer.filter((m) => readHeader(m)?.type === PacketType.Data);
      expect(data.length).toBeGreaterThan(5);
      // Replays of old packets (as from a spoofed source that cannot answer)…
      for (const m of data) spoof.send(m, port);
      // …and forged ones: a real packet with a packet number above any seen, which opens a
      // challenge to the stranger; it never answers.
      for (let k = 0; k < 20; k++) {
        const forged = Buffer.from(data[data.length - 1]);
        forged.writeUInt32BE(0x7fff0000 + k, HEADER);
        spoof.send(forged, port);
      }
      await sleep(100);
      for (let i = 20; i < 40; i++) c.send(pattern(2000, i));
      await cu.waitUntil(() => cu.messages.length === 40, 'the echoes after the replays', WAIT);
      cu.messages.forEach((m, i) => expect(m.equals(pattern(2000, i))).toBe(true));
      expect(s.remotePort).toBe(relay.serverSidePort);
      expect(spoof.received()).toBeGreaterThan(0); // it was challenged…
      expect(spoof.received()).toBeLessThanOrEqual(3 * spoof.sent()); // …within the amplification limit
      expect(spoof.packets.map((m) => readHeader(m)?.type)).toEqual(spoof.packets.map(() => PacketType.PathChallenge)); // no data of the connection
      c.shutdown();
      expect(await server.waitForShutdown(s, WAIT)).toBe('SOCKET_SHUTDOWN_BY_PEER');
    } finally {
      await spoof.close();
      await relay.close();
    }
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });
});
