/**
 * TCP: the stream conformance suite, plus what only TCP has: address parsing, connect
 * errors, name resolution, resets, interop with plain `net`, IPv6, TCP options.
 */
import net from 'node:net';
import {
  createLocalSocketProvider,
  createTcpSocketProvider,
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocket,
  ISocketProvider,
  QosTrafficType,
  ShutdownReason,
  SocketErrorCode,
  USocket,
} from '../../lib';
import { runStreamConformance } from '../conformance/stream-suite';
import { tcpFixture } from '../helpers/tcp-fixture';
import { MALFORMED_CONNECT_ADDRESSES } from '../helpers/address-cases';
import {
  closeAllRaw,
  closedPort,
  hasIpv6Loopback,
  randomBytes,
  rawConnect,
  rawEchoServer,
  rawServer,
  settle,
  sha256,
  StreamCollector,
  withTimeout,
} from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { StreamHarness, thrown } from '../helpers/stream-harness';

const KiB = 1024;
const MiB = 1024 * 1024;

runStreamConformance('tcp', tcpFixture);

describe('tcp specifics', () => {
  let h: StreamHarness;
  let provider: ISocketProvider;

  beforeEach(() => {
    h = new StreamHarness(tcpFixture);
    provider = h.provider;
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await h.cleanup();
    await closeAllRaw();
    expect(violations).toEqual([]);
  });

  const echoUser = (label = 'echo'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB, echo: true });
  const sinkUser = (label = 'sink'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB });

  describe('addresses', () => {
    it.each(MALFORMED_CONNECT_ADDRESSES)('connect(%j) with ipv6=%s → SOCKET_ADDRESS_INVALID', async (address, ipv6) => {
      const u = new RecordingUser('client');
      const s = provider.createSocket(u, { ipv6 });
      s.connect(address);
      expect(await u.waitForShutdown(s)).toBe(ShutdownReason.AddressInvalid);
      expect(u.names(s)).toEqual(['socketShutdown']);
    });

    it('a refused connect is SOCKET_CONNECT_REJECTED', async () => {
      const port = await closedPort();
      const u = new RecordingUser('client');
      const s = h.client(`127.0.0.1:${port}`, u);
      expect(await u.waitForShutdown(s)).toBe(ShutdownReason.ConnectRejected);
      expect(u.count('socketConnectComplete')).toBe(0);
    });

    it('a name that does not resolve is SOCKET_CONNECT_FAILED', async () => {
      const u = new RecordingUser('client');
      const s = h.client('no-such-host.invalid:80', u);
      expect(await u.waitForShutdown(s, 25000)).toBe(ShutdownReason.ConnectFailed);
      expect(u.count('socketConnectComplete')).toBe(0);
    }, 30000);

    it('connects by host name (localhost:PORT) on an IPv4 socket', async () => {
      const srv = await h.listen({ conn: () => echoUser() });
      const cu = sinkUser('client');
      const c = await h.connect(`localhost:${srv.port}`, cu);
      expect(c.remoteAddress).toBe('127.0.0.1');
      expect(c.remotePort).toBe(srv.port);
      const data = randomBytes(1000);
      c.send(data);
      await cu.waitForBytes(data.length, c);
      expect(sha256(cu.received(c))).toBe(sha256(data));
    });

    it('bind(null, 0) binds all interfaces (0.0.0.0) on a port the OS chose', async () => {
      const lu = new RecordingUser('listener', { accept: () => echoUser() });
      const l = provider.createSocket(lu, {});
      l.bind(null, 0);
      await lu.waitFor('socketBindResult', 1, 10000, l);
      const [addr, port] = lu.eventsOf('socketBindResult')[0].args as [string, number];
      expect(addr).toBe('0.0.0.0');
      expect(port).toBeGreaterThan(0);
      expect(l.getLocalAddress()).toEqual({ address: '0.0.0.0', port });
      l.listen();
      const cu = sinkUser('client');
      const c = await h.connect(`127.0.0.1:${port}`, cu);
      c.send(Buffer.from('via 0.0.0.0'));
      await cu.waitForBytes(11, c);
      expect(cu.received(c).toString()).toBe('via 0.0.0.0');
    });

    it('bind to a port in use is SOCKET_ADDR_IN_USE; to a foreign address SOCKET_BIND_FAILED', async () => {
      const taken = await rawServer(() => undefined);
      const u1 = new RecordingUser('in-use');
      const s1 = provider.createSocket(u1, {});
      s1.bind('127.0.0.1', taken.port);
      expect(await u1.waitForShutdown(s1)).toBe(ShutdownReason.AddrInUse);
      const u2 = new RecordingUser('foreign');
      const s2 = provider.createSocket(u2, {});
      s2.bind('203.0.113.1', 0);
      expect(await u2.waitForShutdown(s2)).toBe(ShutdownReason.BindFailed);
      expect(u2.count('socketBindResult')).toBe(0);
    });
  });

  describe('resets and interop', () => {
    it('a peer reset is SOCKET_LOST (client side; the pending recv is cancelled first)', async () => {
      const srv = await rawServer(() => undefined);
      const cu = sinkUser('client');
      const c = await h.connect(`127.0.0.1:${srv.port}`, cu);
      const peer = await srv.connection(0);
      peer.resetAndDestroy();
      expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Lost);
      expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketRecvCanceled', 'socketShutdown']);
    });

    it('a local address read while connected is still there after a reset', async () => {
      // Read on first use (docs/decisions.md): what was read stays, though Node's handle is gone.
      const srv = await rawServer(() => undefined);
      const cu = sinkUser('client');
      const c = await h.connect(`127.0.0.1:${srv.port}`, cu);
      const peer = await srv.connection(0);
      const local = c.getLocalAddress();
      expect(local?.port).toBe(peer.remotePort);
      peer.resetAndDestroy();
      expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Lost);
      expect(c.getLocalAddress()).toEqual(local);
      expect([c.localAddress, c.localPort, c.remoteAddress, c.remotePort]).toEqual(['127.0.0.1', local!.port, '127.0.0.1', srv.port]);
    });

    it('a peer reset is SOCKET_LOST (accepted side)', async () => {
      const conn = sinkUser('conn');
      const srv = await h.listen({ conn: () => conn });
      const raw = await rawConnect(srv.port);
      const { socket: s } = await srv.accepted(0);
      raw.write(Buffer.from('some bytes'));
      await conn.waitForBytes(10, s);
      raw.resetAndDestroy();
      expect(await conn.waitForShutdown(s)).toBe(ShutdownReason.Lost);
      expect(conn.received(s).toString()).toBe('some bytes');
    });

    it('framework client ↔ plain net echo server', async () => {
      const srv = await rawEchoServer();
      const cu = sinkUser('client');
      const c = await h.connect(`127.0.0.1:${srv.port}`, cu);
      const data = randomBytes(MiB);
      for (let off = 0; off < data.length; off += 100 * KiB) c.send(data.subarray(off, off + 100 * KiB));
      await cu.waitForBytes(data.length, c, 20000);
      expect(sha256(cu.received(c))).toBe(sha256(data));
      c.shutdown();
      expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
    });

    it('plain net client ↔ framework echo server', async () => {
      const echo = echoUser();
      const srv = await h.listen({ conn: () => echo });
      const raw = await rawConnect(srv.port);
      const peer = new StreamCollector(raw);
      const data = randomBytes(MiB);
      raw.write(data);
      await peer.waitForBytes(data.length, 20000);
      expect(sha256(peer.data())).toBe(sha256(data));
      raw.end();
      const { socket: conn } = await srv.accepted(0);
      expect(await echo.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
      await peer.waitForEnd();
      expect(peer.size).toBe(data.length);
    });
  });

  describe('IPv6', () => {
    const it6 = hasIpv6Loopback() ? it : it.skip; // skipped only when the machine has no ::1

    it6('listens on ::1 and connects to [::1]:port', async () => {
      const lu = new RecordingUser('listener6', { accept: () => echoUser('echo6') });
      const l = provider.createSocket(lu, { ipv6: true });
      l.bind('::1', 0);
      await lu.waitFor('socketBindResult', 1, 10000, l);
      const [addr, port] = lu.eventsOf('socketBindResult')[0].args as [string, number];
      expect(addr).toBe('::1');
      l.listen();
      const cu = sinkUser('client6');
      const c = await h.connect(`[::1]:${port}`, cu, { ipv6: true });
      expect(c.remoteAddress).toBe('::1');
      expect(c.remotePort).toBe(port);
      const data = randomBytes(100 * KiB);
      c.send(data);
      await cu.waitForBytes(data.length, c);
      expect(sha256(cu.received(c))).toBe(sha256(data));
      expect(lu.eventsOf('socketListenResult')[0].args).toEqual(['::1', c.localPort]);
    });

    it6('bind(null, 0) with ipv6 binds ::', async () => {
      const u = new RecordingUser('any6');
      const s = provider.createSocket(u, { ipv6: true });
      s.bind(null, 0);
      await u.waitFor('socketBindResult', 1, 10000, s);
      const [addr, port] = u.eventsOf('socketBindResult')[0].args as [string, number];
      expect(addr).toBe('::');
      expect(port).toBeGreaterThan(0);
    });
  });

  describe('options', () => {
    it('accepts connectTimeoutMs: 0, noDelay and keepAlive', async () => {
      const srv = await h.listen({ conn: () => echoUser() });
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu, { connectTimeoutMs: 0, noDelay: false, keepAlive: 1000 });
      c.send(Buffer.from('opts'));
      await cu.waitForBytes(4, c);
      expect(cu.received(c).toString()).toBe('opts');
    });

    it('noDelay (default on) and keepAlive reach Node: net.connect and net.createServer are given them', async () => {
      // The options travel with net.connect / net.createServer, not as setNoDelay() calls; Node sets
      // them on each handle, and an accepted socket gets its server's (Node's side of this is
      // checked in spec/core/node-internals.spec.ts).
      const connects = jest.spyOn(net, 'connect');
      const servers = jest.spyOn(net, 'createServer');
      try {
        const defaults = await h.listen({ conn: () => echoUser() });
        await h.connect(defaults, new RecordingUser('c1'));
        await defaults.accepted(0);
        const tuned = await h.listen({ conn: () => echoUser(), options: { noDelay: false, keepAlive: 1000 } });
        await h.connect(tuned, new RecordingUser('c2'), { noDelay: false, keepAlive: 1000 });
        await tuned.accepted(0);
        const tcpOptions = (o: unknown): unknown => {
          const { noDelay, keepAlive, keepAliveInitialDelay } = o as net.TcpSocketConnectOpts;
          return { noDelay, keepAlive, keepAliveInitialDelay };
        };
        expect(connects.mock.calls.map(([o]: unknown[]) => [(o as net.TcpNetConnectOpts).port, tcpOptions(o)])).toEqual([
          [defaults.port, { noDelay: true, keepAlive: false, keepAliveInitialDelay: 0 }],
          [tuned.port, { noDelay: false, keepAlive: true, keepAliveInitialDelay: 1000 }],
        ]);
        expect(servers.mock.calls.map(([o]: unknown[]) => tcpOptions(o))).toEqual([
          { noDelay: true, keepAlive: false, keepAliveInitialDelay: 0 },
          { noDelay: false, keepAlive: true, keepAliveInitialDelay: 1000 },
        ]);
      } finally {
        connects.mockRestore();
        servers.mockRestore();
      }
    });

    it('maxConnections 2: the third connection gets no socketListenResult and is closed', async () => {
      const echo = echoUser();
      const srv = await h.listen({ conn: () => echo, options: { maxConnections: 2 } });
      const c1 = await h.connect(srv, new RecordingUser('c1'));
      const { socket: conn1 } = await srv.accepted(0);
      await h.connect(srv, new RecordingUser('c2'));
      await srv.accepted(1);
      const u3 = new RecordingUser('c3');
      const c3 = h.client(srv, u3);
      expect([ShutdownReason.ByPeer, ShutdownReason.Lost, ShutdownReason.ConnectRejected]).toContain(await u3.waitForShutdown(c3));
      await settle(100);
      expect(srv.user.count('socketListenResult')).toBe(2);
      expect(srv.socket.connectionCount).toBe(2);
      c1.shutdown();
      expect(await echo.waitForShutdown(conn1)).toBe(ShutdownReason.ByPeer);
      const u4 = sinkUser('c4');
      const c4 = await h.connect(srv, u4);
      await srv.accepted(2);
      c4.send(Buffer.from('room again'));
      await u4.waitForBytes(10, c4);
      expect(srv.socket.connectionCount).toBe(2);
    });

    it('setQoS does not throw and makes no callback', async () => {
      const srv = await h.listen({ conn: () => echoUser() });
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu);
      const fu = new RecordingUser('fresh');
      const f = h.socket(fu);
      const results = [QosTrafficType.Voice, QosTrafficType.AudioVideo, QosTrafficType.BestEffort].flatMap((q) => [
        thrown(() => c.setQoS(q)),
        thrown(() => f.setQoS(q)),
      ]);
      expect(results.every((r) => r === 'none')).toBe(true);
      await settle(100);
      expect(cu.names(c)).toEqual(['socketConnectComplete']);
      expect(fu.events).toHaveLength(0);
      c.send(Buffer.from('qos'));
      await cu.waitForBytes(3, c);
    });
  });

  describe('providers and users', () => {
    const others: Array<[string, () => ISocketProvider]> = [
      ['tls', () => createTlsSocketProvider()],
      ['udp', () => createUdpSocketProvider()],
      ['local', () => createLocalSocketProvider()],
    ];

    it.each(others)('the %s provider works or throws ERR_PROVIDER_NOT_IMPLEMENTED', async (type, make) => {
      const NOT_IMPLEMENTED = `SocketStateError:${SocketErrorCode.NotImplemented}`;
      let p: ISocketProvider | undefined;
      const t = thrown(() => {
        p = make();
      });
      if (!p) {
        expect(t).toBe(NOT_IMPLEMENTED);
        return;
      }
      expect(p.type).toBe(type);
      const gp = guardProvider(p);
      const u = new RecordingUser(type);
      let s: ISocket | undefined;
      const t2 = thrown(() => {
        s = gp.createSocket(u);
      });
      if (!s) {
        expect(t2).toBe(NOT_IMPLEMENTED);
        return;
      }
      expect(s.type).toBe(type);
      s.shutdown();
      expect(await u.waitForShutdown(s)).toBe(ShutdownReason.Normal);
    });

    it('createSocket with a user lacking socketShutdown throws TypeError', () => {
      expect(thrown(() => provider.createSocket({} as unknown as USocket))).toBe('TypeError');
      expect(thrown(() => provider.createSocket({ socketShutdown: 'no' } as unknown as USocket))).toBe('TypeError');
      expect(thrown(() => provider.createSocket(null as unknown as USocket))).toBe('TypeError');
    });

    it('a plain object with the USocket methods works as a user', async () => {
      const srv = await h.listen({ conn: () => echoUser() });
      const calls: string[] = [];
      let connected: () => void = () => undefined;
      let ended: () => void = () => undefined;
      let sent: () => void = () => undefined;
      const connectedP = new Promise<void>((r) => (connected = r));
      const sentP = new Promise<void>((r) => (sent = r));
      const endedP = new Promise<void>((r) => (ended = r));
      const noop = (): void => undefined;
      const plain = {
        socketConnectComplete: () => {
          calls.push('connect');
          connected();
        },
        socketBindResult: noop,
        socketListenResult: noop,
        socketAcceptComplete: noop,
        socketShutdown: (_s: ISocket, reason: ShutdownReason) => {
          calls.push(`shutdown:${reason}`);
          ended();
        },
        socketSendResult: () => {
          calls.push('send');
          sent();
        },
        socketRecvResult: noop,
        socketRecvFromResult: noop,
        socketRecvCanceled: noop,
        socketUpgradeToTlsComplete: noop,
        socketAcceptSelectedAlpnProtocol: () => true,
      };
      const s = createTcpSocketProvider().createSocket(plain as unknown as USocket);
      s.connect(srv.address);
      s.send(Buffer.from('plain'));
      await withTimeout(connectedP, 10000, 'the plain user to get socketConnectComplete');
      await withTimeout(sentP, 10000, 'the plain user to get socketSendResult');
      s.shutdown();
      await withTimeout(endedP, 10000, 'the plain user to get socketShutdown');
      expect(calls).toEqual(['connect', 'send', `shutdown:${ShutdownReason.Normal}`]);
    });

    // Rule 6 (a throwing user callback surfaces and harms no other socket) would be an
    // uncaught error inside jest: spec/throwing-callback.spec.ts checks it in a child process.
  });
});
