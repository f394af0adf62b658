/**
 * The plain UDP datagram listener (CONTRACT.md §7, issue #19 part 1): `listen()` on a bound UDP
 * socket demultiplexes by peer; each peer is offered in `socketListenResult`; `accept(user)` makes
 * a per-peer socket (mode client, send/recv as a connected UDP socket); deny; `maxConnections`;
 * the idle time-out (SOCKET_LOST); the listener's shutdown leaves accepted sockets working.
 * Loopback only; every wait bounded; no timing assertions beyond "eventually".
 */
import * as dgram from 'node:dgram';
import { createUdpSocketProvider, ISocket, ShutdownReason, SocketErrorCode, SocketOptions, USocket } from '../../lib';
import { pollUntil, settle, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { thrown } from '../helpers/stream-harness';
import { closePlainSockets, plainUdp, PlainUdp } from '../helpers/udp-peers';

const WAIT = 20000;
const stateError = (code: string): string => `SocketStateError:${code}`;

const udp = guardProvider(createUdpSocketProvider());

/** A listener on 127.0.0.1, port 0, listening; resolves with it and its port. */
async function listener(user: RecordingUser, options: SocketOptions = {}): Promise<{ s: ISocket; port: number }> {
  const s = udp.createSocket(user, options);
  s.bind('127.0.0.1', 0);
  s.listen(); // before the bind completed: it listens once bound
  await user.waitFor('socketBindResult', 1, WAIT, s);
  return { s, port: user.eventsOf('socketBindResult', s)[0].args[1] as number };
}

/** An accepted per-peer socket's user that keeps a recv pending and echoes each datagram back with a prefix. */
function echoUser(label: string, prefix = 'echo:'): RecordingUser {
  return new RecordingUser(label)
    .on('socketAcceptComplete', (s) => s.recv(new Uint8Array(2048)))
    .on('socketRecvFromResult', (s, buf: Uint8Array, len: number) => {
      s.send(Buffer.concat([Buffer.from(prefix), Buffer.from(buf.subarray(0, len))]));
      s.recv(buf);
    });
}

afterEach(async () => {
  closePlainSockets();
  expect(await cleanupAndCheck()).toEqual([]);
});

describe('the UDP datagram listener', () => {
  it('offers each new peer once; accept(user) gives a connected per-peer socket that hears only its peer and sends only to it', async () => {
    const perPeer: RecordingUser[] = [];
    const lu = new RecordingUser('listener', {
      accept: () => {
        const u = echoUser(`peer${perPeer.length}`);
        perPeer.push(u);
        return u;
      },
    });
    const { s, port } = await listener(lu);
    const a = await plainUdp();
    const b = await plainUdp();
    await a.send(Buffer.from('a1'), port);
    await b.send(Buffer.from('b1'), port);
    await a.send(Buffer.from('a2'), port);
    await a.waitFor(2, WAIT);
    await b.waitFor(1, WAIT);
    expect(a.messages.map((m) => String(m.data))).toEqual(['echo:a1', 'echo:a2']);
    expect(b.messages.map((m) => String(m.data))).toEqual(['echo:b1']);
    expect(a.messages.every((m) => m.port === port)).toBe(true); // the answers come from the listener's port
    expect(lu.eventsOf('socketListenResult', s).map((e) => e.args)).toEqual([
      ['127.0.0.1', a.port],
      ['127.0.0.1', b.port],
    ]);
    const [ua, ub] = perPeer;
    const sa = ua.sockets[0];
    expect([sa.type, sa.mode, sa.remoteAddress, sa.remotePort, sa.localPort]).toEqual(['udp', 'client', '127.0.0.1', a.port, port]);
    expect(ua.eventsOf('socketRecvFromResult').map((e) => [String(e.data), e.args[2], e.args[3]])).toEqual([
      ['a1', '127.0.0.1', a.port],
      ['a2', '127.0.0.1', a.port],
    ]);
    expect(ub.eventsOf('socketRecvFromResult').map((e) => String(e.data))).toEqual(['b1']);
    expect(s.connectionCount).toBe(2);
    expect(s.stats().listener).toMatchObject({ accepted: 2, denied: 0, live: 2, deniedDatagrams: 0, refusedDatagrams: 0 });
    // The per-peer socket is a connected UDP socket: sendTo, listen, bind, connect throw as there.
    expect(thrown(() => sa.sendTo(Buffer.from('x'), undefined, '127.0.0.1', 9))).toBe(stateError(SocketErrorCode.WrongMode));
    expect(thrown(() => sa.connect('127.0.0.1:9'))).toBe(stateError(SocketErrorCode.AlreadyConnected));
    expect(thrown(() => sa.listen())).toBe(stateError(SocketErrorCode.WrongMode));
    sa.shutdown();
    perPeer[1].sockets[0].shutdown();
    s.shutdown();
    expect(await lu.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
    expect(await ua.waitForShutdown(sa, WAIT)).toBe(ShutdownReason.Normal);
  });

  it('listen(): not bound throws ERR_SOCKET_NOT_BOUND, connected ERR_SOCKET_WRONG_MODE, twice ERR_SOCKET_ALREADY_LISTENING; a listening socket refuses recv and sendTo', async () => {
    const fresh = udp.createSocket(new RecordingUser('fresh'));
    expect(thrown(() => fresh.listen())).toBe(stateError(SocketErrorCode.NotBound));
    expect(fresh.mode).toBe('none');
    const peer = await plainUdp();
    const cu = new RecordingUser('client');
    const c = udp.createSocket(cu);
    c.connect(`127.0.0.1:${peer.port}`);
    expect(thrown(() => c.listen())).toBe(stateError(SocketErrorCode.WrongMode));
    const lu = new RecordingUser('listener');
    const { s } = await listener(lu);
    expect(thrown(() => s.listen())).toBe(stateError(SocketErrorCode.AlreadyListening));
    expect(thrown(() => s.recv(new Uint8Array(10)))).toBe(stateError(SocketErrorCode.WrongMode));
    expect(thrown(() => s.sendTo(Buffer.from('x'), undefined, '127.0.0.1', peer.port))).toBe(stateError(SocketErrorCode.WrongMode));
    expect(thrown(() => s.accept(null))).toBe(stateError(SocketErrorCode.AcceptOutsideListenResult));
    for (const x of [fresh, c, s]) x.shutdown();
    await lu.waitForShutdown(s, WAIT);
  });

  it('500 peers on one port: each gets its own accepted socket, and datagrams never cross peers', async () => {
    const N = 500;
    const accepted = new Map<string, { socket: ISocket; got: string[] }>();
    class Echo extends USocket {
      private readonly buf = new Uint8Array(256);
      override socketAcceptComplete(socket: ISocket): void {
        accepted.set(`${socket.remotePort}`, { socket, got: [] });
        socket.recv(this.buf);
      }
      override socketRecvFromResult(socket: ISocket, buffer: Uint8Array, len: number, _a: string, port: number): void {
        const text = Buffer.from(buffer.subarray(0, len)).toString();
        accepted.get(`${port}`)!.got.push(text);
        socket.send(Buffer.from(`${socket.remotePort}:${text}`));
        socket.recv(buffer);
      }
      override socketShutdown(): void {}
    }
    const lu = new RecordingUser('listener', { accept: () => new Echo() });
    const { s, port } = await listener(lu, { idleTimeoutMs: 0 });
    const peers: PlainUdp[] = [];
    for (let i = 0; i < N; i++) peers.push(await plainUdp());
    for (let round = 0; round < 3; round++) {
      await Promise.all(peers.map((p, i) => p.send(Buffer.from(`p${i}-r${round}`), port)));
      await Promise.all(peers.map((p) => p.waitFor(round + 1, WAIT)));
    }
    expect(accepted.size).toBe(N);
    expect(s.connectionCount).toBe(N);
    peers.forEach((p, i) => {
      const rounds = [0, 1, 2].map((r) => `${p.port}:p${i}-r${r}`);
      expect(p.messages.map((m) => String(m.data)).sort()).toEqual(rounds);
      expect(accepted.get(`${p.port}`)!.got.sort()).toEqual([0, 1, 2].map((r) => `p${i}-r${r}`));
    });
    expect(s.stats().listener).toMatchObject({ accepted: N, live: N, denied: 0 });
    for (const { socket } of accepted.values()) socket.shutdown();
    s.shutdown();
    await pollUntil(() => s.connectionCount === 0, 'every accepted socket to end', WAIT);
  }, 120000);

  it('deny (accept(null) or no call): the peer’s datagrams are dropped and counted, and it is not offered again until the idle time-out passed', async () => {
    let verdict: 'deny' | 'silent' | 'accept' = 'deny';
    const pu = echoUser('accepted');
    const lu = new RecordingUser('listener', { accept: () => (verdict === 'deny' ? null : verdict === 'silent' ? undefined : pu) });
    const { s, port } = await listener(lu, { idleTimeoutMs: 400 });
    const a = await plainUdp();
    const b = await plainUdp();
    await a.send(Buffer.from('1'), port);
    await lu.waitFor('socketListenResult', 1, WAIT, s);
    verdict = 'silent';
    await b.send(Buffer.from('1'), port);
    await lu.waitFor('socketListenResult', 2, WAIT, s);
    await a.send(Buffer.from('2'), port);
    await b.send(Buffer.from('2'), port);
    await pollUntil(() => s.stats().listener!.deniedDatagrams === 2, 'two denied datagrams counted', WAIT);
    expect(lu.count('socketListenResult', s)).toBe(2);
    expect(s.stats().listener).toMatchObject({ denied: 2, accepted: 0 });
    expect(a.messages).toHaveLength(0);
    // After the idle time-out the peer is a new peer again.
    verdict = 'accept';
    await sleep(1000); // beyond idleTimeoutMs (settle() caps its wait)
    await a.send(Buffer.from('3'), port);
    await a.waitFor(1, WAIT);
    expect(String(a.messages[0].data)).toBe('echo:3');
    expect(lu.count('socketListenResult', s)).toBe(3);
    pu.sockets[0].shutdown();
    s.shutdown();
    await pu.waitForShutdown(pu.sockets[0], WAIT);
  });

  it('maxConnections: a peer beyond it is not offered (its datagrams counted as refused) until an accepted socket ended', async () => {
    const users: RecordingUser[] = [];
    const lu = new RecordingUser('listener', {
      accept: () => {
        const u = echoUser(`p${users.length}`);
        users.push(u);
        return u;
      },
    });
    const { s, port } = await listener(lu, { maxConnections: 2 });
    const [a, b, c] = [await plainUdp(), await plainUdp(), await plainUdp()];
    await a.send(Buffer.from('a'), port);
    await b.send(Buffer.from('b'), port);
    await a.waitFor(1, WAIT);
    await b.waitFor(1, WAIT);
    await c.send(Buffer.from('c1'), port);
    await pollUntil(() => s.stats().listener!.refusedDatagrams === 1, 'the third peer refused', WAIT);
    expect(lu.count('socketListenResult', s)).toBe(2);
    users[0].sockets[0].shutdown();
    await users[0].waitForShutdown(users[0].sockets[0], WAIT);
    await c.send(Buffer.from('c2'), port);
    await c.waitFor(1, WAIT);
    expect(String(c.messages[0].data)).toBe('echo:c2');
    for (const u of users.slice(1)) u.sockets[0].shutdown();
    s.shutdown();
    await pollUntil(() => s.connectionCount === 0, 'the accepted sockets to end', WAIT);
  });

  it('a silent peer’s socket ends SOCKET_LOST after idleTimeoutMs (inherited from the listener); one that keeps talking lives on', async () => {
    const users: RecordingUser[] = [];
    const lu = new RecordingUser('listener', {
      accept: () => {
        const u = echoUser(`p${users.length}`);
        users.push(u);
        return u;
      },
    });
    const { s, port } = await listener(lu, { idleTimeoutMs: 500 });
    const quiet = await plainUdp();
    const talker = await plainUdp();
    await quiet.send(Buffer.from('hi'), port);
    await talker.send(Buffer.from('hi'), port);
    await quiet.waitFor(1, WAIT);
    await talker.waitFor(1, WAIT);
    const [uq, ut] = users;
    const talking = setInterval(() => void talker.send(Buffer.from('still here'), port).catch(() => undefined), 100);
    try {
      expect(await uq.waitForShutdown(uq.sockets[0], WAIT)).toBe(ShutdownReason.Lost);
      expect(ut.count('socketShutdown')).toBe(0);
      expect(uq.sockets[0].stats().lastErrorCode).toBe('ERR_SOCKET_IDLE_TIMEOUT');
    } finally {
      clearInterval(talking);
    }
    ut.sockets[0].shutdown();
    s.shutdown();
    await ut.waitForShutdown(ut.sockets[0], WAIT);
  });

  it('the listener’s shutdown leaves accepted sockets working; the port stays open until the last one ends', async () => {
    const pu = echoUser('accepted');
    const lu = new RecordingUser('listener', { accept: () => pu });
    const { s, port } = await listener(lu);
    const a = await plainUdp();
    await a.send(Buffer.from('1'), port);
    await a.waitFor(1, WAIT);
    s.shutdown();
    expect(await lu.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
    await a.send(Buffer.from('2'), port);
    await a.waitFor(2, WAIT);
    expect(String(a.messages[1].data)).toBe('echo:2');
    // A new peer is no longer offered.
    const b = await plainUdp();
    await b.send(Buffer.from('x'), port);
    await settle(200);
    expect(lu.count('socketListenResult')).toBe(1);
    expect(await canBind(port)).toBe(false);
    pu.sockets[0].shutdown();
    await pu.waitForShutdown(pu.sockets[0], WAIT);
    await withTimeout(waitForFreePort(port), WAIT, 'the port to be released');
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function canBind(port: number): Promise<boolean> {
  const sock = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    sock.once('error', () => resolve(false));
    sock.bind({ port, address: '127.0.0.1', exclusive: true }, () => sock.close(() => resolve(true)));
  });
}

async function waitForFreePort(port: number): Promise<void> {
  for (;;) {
    if (await canBind(port)) return;
    await settle(50);
  }
}
