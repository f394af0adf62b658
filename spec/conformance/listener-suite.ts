/**
 * The listener conformance suite (Twisted's listening-port mixins): a stream socket in server
 * mode — bind, listen, one socketListenResult per connection, accept / deny, the accepted
 * socket and its facts, connectionCount, listener shutdown leaving accepted connections alive,
 * IoMux.terminate, the listener's mode lock and bad bind arguments, and raw (non-framework)
 * clients connecting to it.
 *
 * Run for every stream transport that can listen: TCP, TLS, STARTTLS, local. The fixture must
 * be able to make a raw client of its transport (`rawConnect`).
 */
import { IoMux, ISocket, ShutdownReason } from '../../lib';
import { closeAllRaw, randomBytes, settle, sha256, writeBytewise } from '../helpers/net-helpers';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { Listener, StreamFixture, StreamHarness, thrown } from '../helpers/stream-harness';
import { E, echoUser, KiB, sinkUser, stateError } from './common';

/** A stream fixture that can listen and make raw clients of its transport. */
export type ListenerFixture = StreamFixture & Required<Pick<StreamFixture, 'rawConnect'>>;

export function runListenerSuite(name: string, fixture: ListenerFixture): void {
  const deniedReasons = fixture.deniedReasons ?? [ShutdownReason.ByPeer, ShutdownReason.Lost];
  const ip = (fixture.addressing ?? 'ip') === 'ip';
  const exactCounts = fixture.exactByteCounts ?? true;

  describe(`${name}: listener conformance`, () => {
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

    /** A listener whose connections all go to one manual (no auto-recv) user. */
    async function manualServer(label = 'conn'): Promise<{ srv: Listener; conn: RecordingUser }> {
      const conn = new RecordingUser(label);
      return { srv: await h.listen({ conn: () => conn }), conn };
    }

    describe('accepting', () => {
      it.each([
        ['accept(null)', null],
        ['not calling accept()', undefined],
      ] as const)('denies a connection by %s', async (_how, verdict) => {
        const srv = await h.listen({ conn: () => verdict });
        const cu = new RecordingUser('client');
        const c = h.client(srv, cu);
        const reason = await cu.waitForShutdown(c);
        expect(deniedReasons).toContain(reason);
        expect(srv.user.count('socketListenResult')).toBe(1);
        expect(srv.user.count('socketAcceptComplete')).toBe(0);
        expect(srv.socket.connectionCount).toBe(0);
      });

      it('listener shutdown stops accepting; accepted connections live on', async () => {
        const echo = echoUser();
        const srv = await h.listen({ conn: () => echo });
        const cu = sinkUser('client');
        const c = await h.connect(srv, cu);
        c.send(Buffer.from('ping'));
        await cu.waitForBytes(4, c);
        const { socket: conn } = await srv.accepted(0);
        srv.socket.shutdown();
        expect(await srv.user.waitForShutdown(srv.socket)).toBe(ShutdownReason.Normal);
        c.send(Buffer.from('pong2'));
        await cu.waitForBytes(9, c);
        expect(cu.received(c).toString()).toBe('pingpong2');
        expect(echo.count('socketShutdown', conn)).toBe(0);
        const lu = new RecordingUser('late');
        const late = h.client(srv, lu);
        expect([ShutdownReason.ConnectRejected, ShutdownReason.ConnectFailed]).toContain(await lu.waitForShutdown(late));
        expect(lu.count('socketConnectComplete')).toBe(0);
      });

      it('connectionCount counts live accepted connections', async () => {
        const echo = echoUser();
        const srv = await h.listen({ conn: () => echo });
        expect(srv.socket.connectionCount).toBe(0);
        const clients = [];
        for (let i = 0; i < 3; i++) clients.push(await h.connect(srv, new RecordingUser(`c${i}`)));
        const conns = [];
        for (let i = 0; i < 3; i++) conns.push((await srv.accepted(i)).socket);
        expect(srv.socket.connectionCount).toBe(3);
        clients[0].shutdown();
        expect(await echo.waitForShutdown(conns[0])).toBe(ShutdownReason.ByPeer);
        expect(srv.socket.connectionCount).toBe(2);
        expect(clients[1].connectionCount).toBe(0);
        expect(conns[1].connectionCount).toBe(0);
      });

      it('maxConnections 1: a second connection gets no socketListenResult and is closed; once the first ends, a new one is served', async () => {
        const echo = echoUser();
        const srv = await h.listen({ conn: () => echo, options: { ...fixture.serverOptions(), maxConnections: 1 } });
        const c1 = await h.connect(srv, new RecordingUser('c1'));
        const { socket: conn1 } = await srv.accepted(0);
        const u2 = new RecordingUser('c2');
        const c2 = h.client(srv, u2);
        expect([...deniedReasons, ShutdownReason.ByPeer, ShutdownReason.Lost, ShutdownReason.ConnectRejected]).toContain(await u2.waitForShutdown(c2));
        expect(srv.user.count('socketListenResult')).toBe(1);
        expect(srv.socket.connectionCount).toBe(1);
        c1.shutdown();
        expect(await echo.waitForShutdown(conn1)).toBe(ShutdownReason.ByPeer);
        expect(srv.socket.connectionCount).toBe(0);
        const u3 = sinkUser('c3');
        const c3 = await h.connect(srv, u3);
        c3.send(Buffer.from('again'));
        await u3.waitForBytes(5, c3);
        expect(u3.received(c3).toString()).toBe('again');
        expect(srv.user.count('socketListenResult')).toBe(2);
      });

      it('serves 200 concurrent echo connections of 8 KiB each', async () => {
        const echo = echoUser();
        const srv = await h.listen({ conn: () => echo });
        const clients = Array.from({ length: 200 }, (_, i) => {
          const u = sinkUser(`c${i}`);
          const s = h.client(srv, u);
          const d = randomBytes(8 * KiB);
          s.send(d);
          return { u, s, d };
        });
        await Promise.all(clients.map(({ u, s }) => u.waitForBytes(8 * KiB, s, 40000)));
        const bad = clients.filter(({ u, s, d }) => sha256(u.received(s)) !== sha256(d)).map(({ u }) => u.label);
        expect(bad).toEqual([]);
        expect(echo.count('socketAcceptComplete')).toBe(200);
      }, 90000);
    });

    describe('facts', () => {
      it('reports addresses, ports and byte counts of the listener, a client and the accepted connection', async () => {
        const echo = echoUser();
        const srv = await h.listen({ conn: () => echo });
        const fresh = h.socket(new RecordingUser('fresh'));
        expect(fresh.mode).toBe('none');
        expect(fresh.type).toBe(h.provider.type);
        expect(fresh.getLocalAddress()).toBeNull();
        expect(fresh.bytesSent).toBe(0);
        expect(fresh.bytesReceived).toBe(0);
        expect(fresh.connectionCount).toBe(0);
        const cu = sinkUser('client');
        const c = await h.connect(srv, cu);
        const data = randomBytes(10000);
        c.send(data);
        await cu.waitForBytes(data.length, c);
        const { socket: conn } = await srv.accepted(0);
        expect(conn.mode).toBe('client');
        expect(conn.type).toBe(h.provider.type);
        expect(srv.socket.getLocalAddress()).toEqual({ address: srv.bindAddr, port: srv.port });
        if (ip) {
          expect(srv.port).toBeGreaterThan(0);
          expect(srv.socket.localPort).toBe(srv.port);
          expect(c.remoteAddress).toBe(srv.bindAddr);
          expect(c.remotePort).toBe(srv.port);
          expect(c.localPort).toBeGreaterThan(0);
          expect(c.getLocalAddress()).toEqual({ address: c.localAddress, port: c.localPort });
          expect(conn.localPort).toBe(srv.port);
          expect(conn.remoteAddress).toBe(c.localAddress);
          expect(conn.remotePort).toBe(c.localPort);
          expect(srv.user.eventsOf('socketListenResult')[0].args).toEqual([c.localAddress, c.localPort]);
        } else {
          expect(srv.port).toBe(0);
          expect(srv.user.eventsOf('socketListenResult')[0].args[1]).toBe(0);
        }
        const counts = [c.bytesSent, c.bytesReceived, conn.bytesReceived, conn.bytesSent];
        if (exactCounts) expect(counts).toEqual([10000, 10000, 10000, 10000]);
        else for (const n of counts) expect(n).toBeGreaterThanOrEqual(10000);
      });

      it('IoMux.terminate shuts down every socket made on it, NORMAL once each', async () => {
        const mux = new IoMux();
        const echo = echoUser();
        const srv = await h.listen({ conn: () => echo, options: { ...fixture.serverOptions(), iomux: mux } });
        const muxClients: Array<[RecordingUser, ISocket]> = [];
        for (let i = 0; i < 3; i++) {
          const u = sinkUser(`mux-c${i}`);
          muxClients.push([u, await h.connect(srv, u, { ...fixture.clientOptions(), iomux: mux })]);
        }
        const outsider = sinkUser('outsider');
        const o = await h.connect(srv, outsider);
        const conns: ISocket[] = [];
        for (let i = 0; i < 4; i++) conns.push((await srv.accepted(i)).socket);
        o.send(Buffer.from('hi'));
        await outsider.waitForBytes(2, o);
        const iu = new RecordingUser('mux-idle');
        const idle = h.socket(iu, { ...fixture.clientOptions(), iomux: mux });
        const bu = new RecordingUser('mux-bound');
        const bound = h.socket(bu, { ...fixture.serverOptions(), iomux: mux });
        bound.bind(...fixture.bindArgs());
        await bu.waitFor('socketBindResult', 1, 10000, bound);

        const all: Array<[RecordingUser, ISocket]> = [
          [srv.user, srv.socket],
          ...muxClients,
          ...conns.map((s): [RecordingUser, ISocket] => [echo, s]),
          [iu, idle],
          [bu, bound],
        ];
        const eventsBefore = all.reduce((n, [u]) => n + u.events.length, 0);
        mux.terminate();
        expect(all.reduce((n, [u]) => n + u.events.length, 0)).toBe(eventsBefore); // not synchronous
        const reasons = [];
        for (const [u, s] of all) reasons.push(await u.waitForShutdown(s));
        expect(reasons).toEqual(all.map(() => ShutdownReason.Normal));
        expect([ShutdownReason.ByPeer, ShutdownReason.Lost]).toContain(await outsider.waitForShutdown(o));
        await settle(50);
        for (const [u, s] of all) expect(u.count('socketShutdown', s)).toBe(1);
        expect(thrown(() => h.socket(new RecordingUser('too-late'), { ...fixture.clientOptions(), iomux: mux }))).toBe(stateError(E.IoMuxTerminated));
      });
    });

    describe('mode lock and state errors', () => {
      it('a second bind throws ERR_SOCKET_ALREADY_BOUND', () => {
        const b = h.socket(new RecordingUser('bound'), fixture.serverOptions());
        b.bind(...fixture.bindArgs());
        expect(thrown(() => b.bind(...fixture.bindArgs()))).toBe(stateError(E.AlreadyBound));
      });

      it('listen before bind throws ERR_SOCKET_NOT_BOUND, a second listen ERR_SOCKET_ALREADY_LISTENING', async () => {
        const s = h.socket(new RecordingUser('fresh'), fixture.serverOptions());
        expect(thrown(() => s.listen())).toBe(stateError(E.NotBound));
        const srv = await h.listen({ conn: () => echoUser() });
        expect(thrown(() => srv.socket.listen())).toBe(stateError(E.AlreadyListening));
      });

      it('accept outside socketListenResult throws; a second accept inside it throws ERR_SOCKET_ALREADY_ACCEPTED', async () => {
        const lu = new RecordingUser('listener');
        const results: string[] = [];
        let offeredOn: ISocket | null = null;
        const accepted = echoUser();
        lu.on('socketListenResult', (s) => {
          offeredOn = s;
          s.accept(accepted);
          results.push(thrown(() => s.accept(echoUser('second'))));
        });
        const srv = await h.listen({ user: lu });
        expect(thrown(() => srv.socket.accept(echoUser('outside')))).toBe(stateError(E.AcceptOutsideListenResult));
        expect(thrown(() => srv.socket.accept(null))).toBe(stateError(E.AcceptOutsideListenResult));
        await h.connect(srv, new RecordingUser('client'));
        await accepted.waitFor('socketAcceptComplete');
        expect(results).toEqual([stateError(E.AlreadyAccepted)]);
        expect(offeredOn).not.toBeNull();
        expect(thrown(() => (offeredOn as unknown as ISocket).accept(echoUser('late')))).toBe(stateError(E.AcceptOutsideListenResult));
        const fresh = h.socket(new RecordingUser('fresh'));
        expect(thrown(() => fresh.accept(null))).toMatch(/^SocketStateError:/);
      });

      it('send/recv on a bound or listening stream socket throw ERR_SOCKET_WRONG_MODE', async () => {
        const b = h.socket(new RecordingUser('bound'), fixture.serverOptions());
        b.bind(...fixture.bindArgs());
        expect(thrown(() => b.send(new Uint8Array(4)))).toBe(stateError(E.WrongMode));
        expect(thrown(() => b.recv(new Uint8Array(4)))).toBe(stateError(E.WrongMode));
        const srv = await h.listen({ conn: () => echoUser() });
        expect(thrown(() => srv.socket.send(new Uint8Array(4)))).toBe(stateError(E.WrongMode));
        expect(thrown(() => srv.socket.recv(new Uint8Array(4)))).toBe(stateError(E.WrongMode));
      });

      it('bind: port -1, 65536, 1.5 → RangeError; port "80" → TypeError', () => {
        const addr = fixture.bindArgs()[0];
        const bad = (port: unknown): string => thrown(() => h.socket(new RecordingUser('bad-bind'), fixture.serverOptions()).bind(addr, port as number));
        expect(bad(-1)).toBe('RangeError');
        expect(bad(65536)).toBe('RangeError');
        expect(bad(1.5)).toBe('RangeError');
        expect(bad('80')).toBe('TypeError');
      });
    });

    describe('raw clients', () => {
      it('fills an exact recv from a raw peer writing one byte at a time', async () => {
        const { srv, conn: cuser } = await manualServer();
        const raw = await h.rawConnect(srv.address);
        const { socket: conn } = await srv.accepted(0);
        const buf = new Uint8Array(64);
        conn.recv(buf, 64, false);
        const data = randomBytes(64);
        await writeBytewise(raw, data);
        await cuser.waitFor('socketRecvResult', 1, 10000, conn);
        expect(cuser.count('socketRecvResult', conn)).toBe(1);
        expect(Buffer.from(buf)).toEqual(data);
      });

      it('a raw peer ends its stream: partial recvs get every byte, then cancel, then BY_PEER', async () => {
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const raw = await h.rawConnect(srv.address);
        const { socket: conn } = await srv.accepted(0);
        const data = randomBytes(300 * KiB);
        raw.write(data.subarray(0, 10));
        await sink.waitForBytes(10, conn);
        raw.end(data.subarray(10));
        expect(await sink.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        expect(sha256(sink.received(conn))).toBe(sha256(data));
        expect(sink.names(conn).slice(-2)).toEqual(['socketRecvCanceled', 'socketShutdown']);
      });
    });
  });
}
