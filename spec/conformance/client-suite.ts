/**
 * The client conformance suite (Twisted's connector / client mixins): a stream socket in
 * client mode — connect results, sends made before the connection is up (queued, in order,
 * also against a send made from socketConnectComplete), failed and refused connects, callbacks
 * never synchronous before the connection, setUser during the connect, the mode lock between
 * connect and bind, a socket on which nothing was called, and raw (non-framework) servers.
 *
 * Run for every stream transport that can connect: TCP, TLS, STARTTLS, local. The fixture must
 * be able to make a raw server of its transport (`rawServer`).
 */
import { ShutdownReason } from '../../lib';
import { closeAllRaw, randomBytes, sha256, StreamCollector, writeBytewise } from '../helpers/net-helpers';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { StreamFixture, StreamHarness, thrown } from '../helpers/stream-harness';
import { E, echoUser, KiB, MiB, sinkUser, stateError } from './common';

/** A stream fixture that can connect, listen, and make raw servers of its transport. */
export type ClientFixture = StreamFixture & Required<Pick<StreamFixture, 'rawServer'>>;

export function runClientSuite(name: string, fixture: ClientFixture): void {
  describe(`${name}: client conformance`, () => {
    let h: StreamHarness;

    beforeEach(() => {
      h = new StreamHarness(fixture);
    });

    afterEach(async () => {
      const violations = await cleanupAndCheck();
      await h.cleanup();
      await closeAllRaw();
      expect(violations).toEqual([]);
    });

    describe('connecting', () => {
      it('queues sends made before the connection is up and sends them in order', async () => {
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const cu = new RecordingUser('client');
        const c = h.client(srv, cu);
        const parts = [randomBytes(10), randomBytes(5000), randomBytes(70 * KiB)];
        for (const p of parts) c.send(p);
        expect(cu.events).toHaveLength(0);
        await cu.waitFor('socketSendResult', 3, 10000, c);
        expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketSendResult', 'socketSendResult', 'socketSendResult']);
        const { socket: conn } = await srv.accepted(0);
        const total = parts.reduce((n, p) => n + p.length, 0);
        await sink.waitForBytes(total, conn);
        expect(sha256(sink.received(conn))).toBe(sha256(...parts));
      });

      it('a send made in socketConnectComplete goes after those queued before the connection was up', async () => {
        // The completion may run straight from Node's connect event: the queued sends must be
        // handed to Node before it, or what it sends would overtake them.
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const cu = new RecordingUser('client');
        const tail = randomBytes(3000);
        cu.on('socketConnectComplete', (s) => s.send(tail));
        const c = h.client(srv, cu);
        const parts = [randomBytes(10), randomBytes(70 * KiB)];
        for (const p of parts) c.send(p);
        await cu.waitFor('socketSendResult', 3, 10000, c);
        const { socket: conn } = await srv.accepted(0);
        await sink.waitForBytes(10 + 70 * KiB + tail.length, conn);
        expect(sha256(sink.received(conn))).toBe(sha256(...parts, tail));
      });

      it('lets the caller reuse the buffer as soon as send() returns, also before the connection is up', async () => {
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const cu = new RecordingUser('client');
        const c = h.client(srv, cu);
        const a = randomBytes(64 * KiB);
        const aCopy = Buffer.from(a);
        c.send(a); // queued before the connection is up
        a.fill(0);
        await cu.waitFor('socketConnectComplete', 1, 10000, c);
        const b = randomBytes(MiB);
        const bCopy = Buffer.from(b);
        c.send(b);
        b.fill(1);
        const small = Buffer.from('hello');
        c.send(small);
        small.write('XXXXX');
        const { socket: conn } = await srv.accepted(0);
        await sink.waitForBytes(aCopy.length + bCopy.length + 5, conn);
        expect(sha256(sink.received(conn))).toBe(sha256(aCopy, bCopy, Buffer.from('hello')));
      });

      it('a connect nobody answers (the listener is gone) ends with CONNECT_REJECTED or CONNECT_FAILED; sends made meanwhile get no result', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        srv.socket.shutdown();
        expect(await srv.user.waitForShutdown(srv.socket)).toBe(ShutdownReason.Normal);
        const cu = new RecordingUser('client');
        const c = h.client(srv, cu);
        c.send(Buffer.from('never sent'));
        expect([ShutdownReason.ConnectRejected, ShutdownReason.ConnectFailed]).toContain(await cu.waitForShutdown(c));
        expect(cu.names(c)).toEqual(['socketShutdown']);
        expect(c.bytesSent).toBe(0);
      });

      it('an empty address is SOCKET_ADDRESS_INVALID, reported by callback, never thrown', async () => {
        const bu = new RecordingUser('bad-address');
        const b = h.socket(bu);
        expect(thrown(() => b.connect(''))).toBe('none');
        expect(b.mode).toBe('client');
        expect(await bu.waitForShutdown(b)).toBe(ShutdownReason.AddressInvalid);
        expect(bu.names(b)).toEqual(['socketShutdown']);
      });

      it('shutdown() on a socket that did nothing reports NORMAL', async () => {
        const u = new RecordingUser('idle');
        const s = h.socket(u);
        s.shutdown();
        expect(u.events).toHaveLength(0);
        expect(await u.waitForShutdown(s)).toBe(ShutdownReason.Normal);
        expect(u.names(s)).toEqual(['socketShutdown']);
      });

      it('shutdown() while connecting: NORMAL, and no socketConnectComplete follows', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const cu = new RecordingUser('client');
        const c = h.client(srv, cu);
        c.shutdown();
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        expect(cu.names(c)).toEqual(['socketShutdown']);
      });
    });

    describe('callbacks', () => {
      it('never calls back synchronously: connect, sends before the connection, a bad address', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const cu = new RecordingUser('client');
        const c = h.client(srv, cu);
        c.send(Buffer.from('abc'));
        expect(cu.events).toHaveLength(0);
        await cu.waitFor('socketSendResult', 1, 10000, c);
        const n = cu.events.length;
        const buf = new Uint8Array(100);
        c.recv(buf, 100, false);
        c.recvCancel();
        c.send(Buffer.from('x'));
        expect(cu.events).toHaveLength(n);
        await cu.waitFor('socketRecvCanceled', 1, 10000, c);
        c.shutdown();
        expect(cu.count('socketShutdown')).toBe(0);
        await cu.waitForShutdown(c);
        const bu = new RecordingUser('bad-address');
        const b = h.socket(bu);
        b.connect('');
        expect(bu.events).toHaveLength(0);
        await bu.waitForShutdown(b);
      });

      it('setUser inside socketConnectComplete redirects the callbacks already due', async () => {
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const B = new RecordingUser('B');
        const A = new RecordingUser('A').on('socketConnectComplete', (s) => s.setUser(B));
        const c = h.client(srv, A);
        for (let i = 0; i < 3; i++) c.send(randomBytes(100));
        await B.waitFor('socketSendResult', 3, 10000, c);
        expect(A.names(c)).toEqual(['socketConnectComplete']);
        expect(B.names(c)).toEqual(['socketSendResult', 'socketSendResult', 'socketSendResult']);
      });
    });

    describe('mode lock and state errors', () => {
      it('connect after bind and bind/listen after connect throw ERR_SOCKET_WRONG_MODE', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const s1 = h.socket(new RecordingUser('bound'), fixture.serverOptions());
        s1.bind(...fixture.bindArgs());
        expect(s1.mode).toBe('server');
        expect(thrown(() => s1.connect(srv.address))).toBe(stateError(E.WrongMode));
        const s2 = h.client(srv, new RecordingUser('client'));
        expect(s2.mode).toBe('client');
        expect(thrown(() => s2.bind(...fixture.bindArgs()))).toBe(stateError(E.WrongMode));
        expect(thrown(() => s2.listen())).toBe(stateError(E.WrongMode));
        expect(s1.mode).toBe('server');
        expect(s2.mode).toBe('client');
      });

      it('a second connect throws ERR_SOCKET_ALREADY_CONNECTED', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const c = h.client(srv, new RecordingUser('client'));
        expect(thrown(() => c.connect(srv.address))).toBe(stateError(E.AlreadyConnected));
      });

      it('send/recv on a never-connected socket throw ERR_SOCKET_NOT_CONNECTED', () => {
        const s = h.socket(new RecordingUser('fresh'));
        expect(thrown(() => s.send(new Uint8Array(4)))).toBe(stateError(E.NotConnected));
        expect(thrown(() => s.recv(new Uint8Array(4)))).toBe(stateError(E.NotConnected));
        expect(s.mode).toBe('none');
      });

      it('the mode lock still throws after shutdown()', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const bu = new RecordingUser('bound');
        const b = h.socket(bu, fixture.serverOptions());
        b.bind(...fixture.bindArgs());
        b.shutdown();
        expect(thrown(() => b.connect(srv.address))).toBe(stateError(E.WrongMode));
        expect(thrown(() => b.bind(...fixture.bindArgs()))).toBe(stateError(E.AlreadyBound));
        const cu = new RecordingUser('client');
        const c = h.client(srv, cu);
        c.shutdown();
        expect(thrown(() => c.bind(...fixture.bindArgs()))).toBe(stateError(E.WrongMode));
        expect(thrown(() => c.listen())).toBe(stateError(E.WrongMode));
        expect(thrown(() => c.connect(srv.address))).toBe(stateError(E.AlreadyConnected));
        srv.socket.shutdown();
        expect(thrown(() => srv.socket.connect(srv.address))).toBe(stateError(E.WrongMode));
        const fu = new RecordingUser('fresh');
        const f = h.socket(fu);
        f.shutdown();
        expect(thrown(() => f.connect(srv.address))).toBe(stateError(E.ShutDown));
        expect(thrown(() => f.bind(...fixture.bindArgs()))).toBe(stateError(E.ShutDown));
        for (const [u, s] of [
          [bu, b],
          [cu, c],
          [srv.user, srv.socket],
          [fu, f],
        ] as const) {
          expect(await u.waitForShutdown(s)).toBe(ShutdownReason.Normal);
        }
        expect(cu.count('socketConnectComplete')).toBe(0);
      });
    });

    describe('raw servers', () => {
      it('reads a raw server’s large and 1-byte writes with exact recvs, then BY_PEER', async () => {
        const rs = await h.rawServer();
        const cu = new RecordingUser('client');
        const c = await h.connect(rs.address, cu);
        const peer = await rs.connection(0);
        const big = randomBytes(3 * MiB);
        const tiny = randomBytes(50);
        const sizes = [MiB, MiB, MiB, 50];
        let k = 0;
        cu.on('socketRecvResult', (s) => {
          if (++k < sizes.length) s.recv(new Uint8Array(sizes[k]), sizes[k], false);
        });
        c.recv(new Uint8Array(sizes[0]), sizes[0], false);
        peer.write(big);
        await writeBytewise(peer, tiny);
        peer.end();
        expect(await cu.waitForShutdown(c, 20000)).toBe(ShutdownReason.ByPeer);
        expect(cu.eventsOf('socketRecvResult', c).map((e) => e.args[1])).toEqual(sizes);
        expect(sha256(cu.received(c))).toBe(sha256(big, tiny));
        expect(cu.names(c).slice(-2)).toEqual(['socketRecvResult', 'socketShutdown']);
      });

      it('a raw server receives every byte sent before shutdown()', async () => {
        const rs = await h.rawServer();
        const cu = new RecordingUser('client');
        const c = await h.connect(rs.address, cu);
        const peer = new StreamCollector(await rs.connection(0));
        const data = randomBytes(2 * MiB + 3);
        c.send(data.subarray(0, MiB));
        c.send(data.subarray(MiB));
        c.shutdown();
        await peer.waitForEnd(20000);
        expect(sha256(peer.data())).toBe(sha256(data));
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
      });
    });
  });
}
