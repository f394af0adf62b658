/**
 * rudp, first version (issue #20): handshake, accept/deny, reliable ordered messages with
 * fragmentation, shutdown (delivery then BY_PEER), idle time-out, and the contract's rules.
 */
import * as dgram from 'dgram';
import { ShutdownReason, SocketErrorCode } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { messageUser, pattern, rudp, rudpListener, thrown, WAIT } from './helpers';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

describe('rudp', () => {
  it('echo of messages 0 B … 512 KiB: intact, in order, one per recv; shutdown delivers them and the peer sees BY_PEER', async () => {
    const server = messageUser('server', { echo: true });
    const { l, lu, port } = await rudpListener(() => server);
    const cu = messageUser('client');
    const c = rudp.createSocket(cu);
    expect(c.type).toBe('rudp');
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    expect(lu.eventsOf('socketListenResult', l).map((e) => e.args[0])).toEqual(['127.0.0.1']);
    const sizes = [0, 1, 1000, 1100, 5000, 65536, 200_000, 512 * 1024];
    const sent = sizes.map((n, i) => pattern(n, i));
    for (const m of sent) c.send(m);
    await cu.waitUntil(() => cu.messages.length === sent.length, 'all echoes', WAIT);
    expect(cu.messages.map((m) => m.byteLength)).toEqual(sizes);
    cu.messages.forEach((m, i) => expect(m.equals(sent[i])).toBe(true));
    await cu.waitFor('socketSendResult', sizes.length, WAIT, c);
    const st = c.stats();
    expect(st.rttMs).not.toBeNull();
    expect(st.packetsSent).toBeGreaterThan(0);
    expect(st.lanes).toEqual([{ queuedMessages: 0, queuedBytes: 0 }]);
    // shutdown after queued messages: they arrive, then BY_PEER
    for (let i = 0; i < 20; i++) c.send(pattern(3000, 100 + i));
    c.shutdown();
    const s = server.sockets[0];
    expect(await server.waitForShutdown(s, WAIT)).toBe(ShutdownReason.ByPeer);
    expect(server.messages.length).toBe(sizes.length + 20);
    expect(server.messages[sizes.length + 19].equals(pattern(3000, 119))).toBe(true);
    expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
    l.shutdown();
    expect(await lu.waitForShutdown(l, WAIT)).toBe(ShutdownReason.Normal);
  });

  it('a message longer than the recv: the recv completes with what fits, the rest comes with the next recv', async () => {
    const server = new RecordingUser('server');
    const { l, port } = await rudpListener(() => server);
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu);
    c.connect(`127.0.0.1:${port}`);
    await server.waitFor('socketAcceptComplete', 1, WAIT);
    const s = server.sockets[0];
    c.send(pattern(10, 1));
    c.send(pattern(3, 2));
    const got: number[] = [];
    const buf = new Uint8Array(4);
    server.on('socketRecvFromResult', (_s, _b, n: number) => {
      got.push(n);
      if (got.length < 4) s.recv(buf);
    });
    s.recv(buf);
    await server.waitUntil(() => got.length === 4, 'four recvs');
    expect(got).toEqual([4, 4, 2, 3]);
    c.shutdown();
    s.shutdown();
    l.shutdown();
  });

  it('accept(null) and no accept() deny: the client ends SOCKET_CONNECT_REJECTED', async () => {
    let n = 0;
    const { l } = await rudpListener(() => (n++ === 0 ? null : undefined));
    const port = l.localPort as number;
    for (let i = 0; i < 2; i++) {
      const cu = new RecordingUser(`client${i}`);
      const c = rudp.createSocket(cu);
      c.connect(`127.0.0.1:${port}`);
      expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.ConnectRejected);
      expect(cu.count('socketConnectComplete')).toBe(0);
    }
    expect(l.stats().listener).toMatchObject({ accepted: 0, denied: 2 });
    l.shutdown();
  });

  it('nobody on the port: SOCKET_CONNECT_REJECTED (ICMP); a port that never answers: SOCKET_CONNECT_FAILED after connectTimeoutMs', async () => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const silentPort = silent.address().port;
    const closed = dgram.createSocket('udp4');
    await new Promise<void>((r) => closed.bind(0, '127.0.0.1', r));
    const closedPort = closed.address().port;
    await new Promise<void>((r) => closed.close(() => r()));
    const u1 = new RecordingUser('refused');
    const c1 = rudp.createSocket(u1);
    c1.connect(`127.0.0.1:${closedPort}`);
    expect(await u1.waitForShutdown(c1, WAIT)).toBe(ShutdownReason.ConnectRejected);
    const u2 = new RecordingUser('silent');
    const c2 = rudp.createSocket(u2, { connectTimeoutMs: 400 });
    c2.connect(`127.0.0.1:${silentPort}`);
    expect(await u2.waitForShutdown(c2, WAIT)).toBe(ShutdownReason.ConnectFailed);
    silent.close();
  });

  it('idle time-out: a silent peer ends SOCKET_LOST after idleTimeoutMs', async () => {
    const server = new RecordingUser('server');
    const { l, port } = await rudpListener(() => server, { idleTimeoutMs: 300, keepAliveMs: 0 });
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu, { idleTimeoutMs: 0, keepAliveMs: 0 });
    c.connect(`127.0.0.1:${port}`);
    await server.waitFor('socketAcceptComplete', 1, WAIT);
    expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.Lost);
    c.shutdown();
    l.shutdown();
  });

  it('the mode lock: a client cannot bind/listen, a listener cannot send/recv/connect, send before connect throws', async () => {
    const fresh = rudp.createSocket(new RecordingUser('fresh'));
    expect(thrown(() => fresh.send(Buffer.from('x')))).toBe(SocketErrorCode.NotConnected);
    expect(thrown(() => fresh.listen())).toBe(SocketErrorCode.NotBound);
    const { l, port } = await rudpListener(() => undefined);
    expect(thrown(() => l.send(Buffer.from('x')))).toBe(SocketErrorCode.WrongMode);
    expect(thrown(() => l.recv(new Uint8Array(4)))).toBe(SocketErrorCode.WrongMode);
    expect(thrown(() => l.connect('127.0.0.1:1'))).toBe(SocketErrorCode.WrongMode);
    expect(thrown(() => l.listen())).toBe(SocketErrorCode.AlreadyListening);
    expect(thrown(() => l.accept(null))).toBe(SocketErrorCode.AcceptOutsideListenResult);
    const c = rudp.createSocket(new RecordingUser('client'), { connectTimeoutMs: 200 });
    c.connect(`127.0.0.1:${port}`);
    expect(thrown(() => c.bind('127.0.0.1', 0))).toBe(SocketErrorCode.WrongMode);
    expect(thrown(() => c.listen())).toBe(SocketErrorCode.WrongMode);
    expect(thrown(() => c.connect('127.0.0.1:1'))).toBe(SocketErrorCode.AlreadyConnected);
    for (const s of [fresh, c, l]) s.shutdown();
  });
});
