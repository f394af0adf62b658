/**
 * rudp's lifecycle edges (issue #20; docs/rudp.md, "Behaviour"): a shutdown whose messages the
 * peer never acknowledges ends after `shutdownTimeoutMs`; `stats()` has no RTT before the first
 * sample; `maxConnections` holds a third peer back; a listener's shutdown stops offers and
 * leaves its accepted connections working; the mode-lock throws not covered by rudp.spec.ts.
 */
import * as dgram from 'node:dgram';
import { ISocket, ShutdownReason, SocketErrorCode } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { memoryLog, messageUser, pattern, rudp, rudpListener, thrown, WAIT } from './helpers';
import { startRelay } from './relay';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

/** Whether a UDP socket can be bound to 127.0.0.1:`port` now (tried, then closed). */
function bindable(port: number): Promise<boolean> {
  const probe = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    probe.once('error', () => {
      probe.close();
      resolve(false);
    });
    probe.bind(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('rudp lifecycle', () => {
  it('a shutdown whose messages are never acknowledged ends after shutdownTimeoutMs (SOCKET_SHUTDOWN_NORMAL, logged); the silent side ends SOCKET_LOST', async () => {
    const server = messageUser('server');
    const { l, lu, port } = await rudpListener(() => server, { idleTimeoutMs: 1000 });
    const relay = await startRelay(port);
    const log = memoryLog();
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu, { shutdownTimeoutMs: 300, log });
    c.connect(`127.0.0.1:${relay.port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    relay.blocked = true; // the path goes dead: nothing is acknowledged from now on
    c.send(pattern(20_000, 1));
    c.shutdown();
    expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
    expect(log.lines.some((m) => m.includes('shutdownTimeoutMs passed with messages unacknowledged'))).toBe(true);
    expect(cu.count('socketSendResult')).toBe(0); // never acknowledged, so never reported sent
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.Lost);
    expect(server.messages).toHaveLength(0);
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
    await relay.close();
  });

  it('stats(): rttMs and rttVarMs are null before the first RTT sample and measured after an exchange', async () => {
    const server = messageUser('server', { echo: true });
    const { l, lu, port } = await rudpListener(() => server);
    const cu = messageUser('client');
    const c = rudp.createSocket(cu);
    const before = c.stats();
    expect(before.rttMs).toBeNull();
    expect(before.rttVarMs).toBeNull();
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    for (let i = 0; i < 5; i++) c.send(pattern(100, i));
    await cu.waitUntil(() => cu.messages.length === 5, 'the echoes', WAIT);
    const after = c.stats();
    expect(after.rttMs).toBeGreaterThan(0);
    expect(after.rttVarMs).toBeGreaterThanOrEqual(0);
    expect(after.packetsSent).toBeGreaterThan(0);
    expect(after.packetsReceived).toBeGreaterThan(0);
    c.shutdown();
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });

  it('maxConnections: with two connected, a third peer is not offered (its connect fails for want of an answer) and is counted as refused; once one ended, a new peer is offered', async () => {
    const users: RecordingUser[] = [];
    const { l, lu, port } = await rudpListener(
      () => {
        const u = messageUser(`server${users.length}`);
        users.push(u);
        return u;
      },
      { maxConnections: 2 },
    );
    const clients: { u: RecordingUser; c: ISocket }[] = [];
    for (let i = 0; i < 2; i++) {
      const u = new RecordingUser(`client${i}`);
      const c = rudp.createSocket(u);
      c.connect(`127.0.0.1:${port}`);
      await u.waitFor('socketConnectComplete', 1, WAIT, c);
      clients.push({ u, c });
    }
    const tu = new RecordingUser('third');
    const third = rudp.createSocket(tu, { connectTimeoutMs: 500 });
    third.connect(`127.0.0.1:${port}`);
    expect(await tu.waitForShutdown(third, WAIT)).toBe(ShutdownReason.ConnectFailed);
    expect(lu.count('socketListenResult')).toBe(2);
    expect(l.stats().listener).toMatchObject({ accepted: 2 });
    expect(l.stats().listener?.refused).toBeGreaterThan(0);
    // One ends: a new peer is offered again.
    clients[0].c.shutdown();
    expect(await users[0].waitForShutdown(users[0].sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
    const fu = new RecordingUser('fourth');
    const fourth = rudp.createSocket(fu);
    fourth.connect(`127.0.0.1:${port}`);
    await fu.waitFor('socketConnectComplete', 1, WAIT, fourth);
    expect(lu.count('socketListenResult')).toBe(3);
    for (const c of [clients[1].c, fourth]) c.shutdown();
    for (const u of users) await u.waitForShutdown(u.sockets[0], WAIT);
    l.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });

  it('a listener’s shutdown stops offers and leaves its accepted connections working; the port closes when the last one ends', async () => {
    const server = messageUser('server', { echo: true });
    let offered = 0;
    const { l, lu, port } = await rudpListener(() => (offered++ === 0 ? server : undefined));
    const cu = messageUser('client');
    const c = rudp.createSocket(cu);
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    l.shutdown();
    expect(await lu.waitForShutdown(l, WAIT)).toBe(ShutdownReason.Normal);
    for (let i = 0; i < 10; i++) c.send(pattern(5000, i));
    await cu.waitUntil(() => cu.messages.length === 10, 'the echoes after the listener ended', WAIT);
    cu.messages.forEach((m, i) => expect(m.equals(pattern(5000, i))).toBe(true));
    const late = new RecordingUser('late');
    const lc = rudp.createSocket(late, { connectTimeoutMs: 500 });
    lc.connect(`127.0.0.1:${port}`);
    expect(await late.waitForShutdown(lc, WAIT)).toBe(ShutdownReason.ConnectFailed);
    expect(offered).toBe(1);
    c.shutdown();
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
    // The last connection ended: the port is closed, so it can be bound again.
    let free = false;
    for (let tries = 0; tries < 50 && !free; tries++) free = await bindable(port); // each try is a bind's round trip, not a sleep
    expect(free).toBe(true);
  });

  it('the mode lock, continued: recv while one is pending, recv before connect, accept twice, bind twice and upgradeToTls throw at once', async () => {
    const fresh = rudp.createSocket(new RecordingUser('fresh'));
    expect(thrown(() => fresh.recv(new Uint8Array(4)))).toBe(SocketErrorCode.NotConnected);
    const acceptTwice: (string | undefined)[] = [];
    const server = messageUser('server');
    const lu = new RecordingUser('listener', { accept: () => undefined });
    lu.on('socketListenResult', (s: ISocket) => {
      s.accept(server);
      acceptTwice.push(thrown(() => s.accept(new RecordingUser('again'))));
    });
    const l = rudp.createSocket(lu);
    l.bind('127.0.0.1', 0);
    expect(thrown(() => l.bind('127.0.0.1', 0))).toBe(SocketErrorCode.AlreadyBound);
    l.listen();
    await lu.waitFor('socketBindResult', 1, WAIT, l);
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu);
    c.connect(`127.0.0.1:${l.localPort}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    expect(acceptTwice).toEqual([SocketErrorCode.AlreadyAccepted]);
    c.recv(new Uint8Array(16));
    expect(thrown(() => c.recv(new Uint8Array(16)))).toBe(SocketErrorCode.RecvPending);
    expect(thrown(() => rudp.upgradeToTls(c, new RecordingUser('tls')))).toBe(SocketErrorCode.NotSupported);
    c.shutdown();
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
    l.shutdown();
    fresh.shutdown();
    await lu.waitForShutdown(l, WAIT);
  });
});
