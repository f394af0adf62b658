/**
 * The stream-socket conformance suite: every rule of CONTRACT.md §3 for stream sockets,
 * transport-neutral. Run it per transport with `runStreamConformance(name, fixture)`.
 * Every test's callbacks are checked against the always-rules by RecordingUser, and the
 * afterEach shuts everything down and asserts no rule was broken.
 */
import { IoMux, ISocket, ShutdownReason, SocketErrorCode } from '../../lib';
import { closeAllRaw, pollUntil, randomBytes, settle, sha256, StreamCollector, writeBytewise } from '../helpers/net-helpers';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { Listener, StreamFixture, StreamHarness, thrown } from '../helpers/stream-harness';

export type { StreamFixture } from '../helpers/stream-harness';

const KiB = 1024;
const MiB = 1024 * 1024;
const E = SocketErrorCode;
const stateError = (code: string): string => `SocketStateError:${code}`;

/** Echo users: a partial recv always pending, every chunk sent back. */
const echoUser = (label = 'echo'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB, echo: true });
/** Sink users: a partial recv always pending, collecting. */
const sinkUser = (label = 'sink'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB });

export function runStreamConformance(name: string, fixture: StreamFixture): void {
  const itRawClient = fixture.rawConnect ? it : it.skip; // needs fixture.rawConnect
  const itRawServer = fixture.rawServer ? it : it.skip; // needs fixture.rawServer
  const deniedReasons = fixture.deniedReasons ?? [ShutdownReason.ByPeer, ShutdownReason.Lost];
  const ip = (fixture.addressing ?? 'ip') === 'ip';
  const exactCounts = fixture.exactByteCounts ?? true;

  describe(`${name}: stream conformance`, () => {
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

    describe('data', () => {
      it('echoes data both ways', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const cu = sinkUser('client');
        const c = await h.connect(srv, cu);
        const payload = randomBytes(300 * KiB + 7);
        c.send(payload.subarray(0, 1));
        c.send(payload.subarray(1, 1001));
        c.send(payload.subarray(1001));
        await cu.waitForBytes(payload.length, c);
        await cu.waitFor('socketSendResult', 3, 10000, c);
        expect(cu.receivedLength(c)).toBe(payload.length);
        expect(sha256(cu.received(c))).toBe(sha256(payload));
      });

      it('delivers what the accepting side sends first', async () => {
        const greeting = randomBytes(5000);
        const srv = await h.listen({
          conn: () => new RecordingUser('greeter').on('socketAcceptComplete', (s) => s.send(greeting)),
        });
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const buf = new Uint8Array(greeting.length);
        c.recv(buf, greeting.length, false);
        await cu.waitFor('socketRecvResult', 1, 10000, c);
        expect(cu.eventsOf('socketRecvResult')[0].args[1]).toBe(greeting.length);
        expect(sha256(cu.received(c))).toBe(sha256(greeting));
      });

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
        cu.on('socketConnectComplete', (s: ISocket) => s.send(tail));
        const c = h.client(srv, cu);
        const parts = [randomBytes(10), randomBytes(70 * KiB)];
        for (const p of parts) c.send(p);
        await cu.waitFor('socketSendResult', 3, 10000, c);
        const { socket: conn } = await srv.accepted(0);
        await sink.waitForBytes(10 + 70 * KiB + tail.length, conn);
        expect(sha256(sink.received(conn))).toBe(sha256(...parts, tail));
      });

      it('fills an exact recv from 1-byte sends, touching nothing beyond len', async () => {
        const { srv, conn: cuser } = await manualServer();
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const { socket: conn } = await srv.accepted(0);
        const buf = Buffer.alloc(200, 0xee);
        conn.recv(buf, 100, false);
        const data = randomBytes(100);
        let sent = 1;
        cu.on('socketSendResult', (s) => {
          if (sent < data.length) s.send(data.subarray(sent, ++sent));
        });
        c.send(data.subarray(0, 1));
        await cuser.waitFor('socketRecvResult', 1, 10000, conn);
        await cu.waitFor('socketSendResult', 100, 10000, c);
        const results = cuser.eventsOf('socketRecvResult', conn);
        expect(results).toHaveLength(1);
        expect(results[0].args[1]).toBe(100);
        expect(sha256(results[0].data as Buffer)).toBe(sha256(data));
        expect(buf.subarray(100).every((b) => b === 0xee)).toBe(true);
      });

      it('fills exact recvs of odd sizes from large sends', async () => {
        const { srv, conn: cuser } = await manualServer();
        const c = await h.connect(srv, new RecordingUser('client'));
        const { socket: conn } = await srv.accepted(0);
        const data = randomBytes(2 * MiB);
        c.send(data.subarray(0, MiB));
        for (let i = 0; i < 4; i++) c.send(data.subarray(MiB + i * 256 * KiB, MiB + (i + 1) * 256 * KiB));
        const sizes = [1, 1000, 65537, 300000];
        sizes.push(data.length - sizes.reduce((a, b) => a + b, 0));
        let k = 0;
        cuser.on('socketRecvResult', (s) => {
          if (++k < sizes.length) s.recv(new Uint8Array(sizes[k]), sizes[k], false);
        });
        conn.recv(new Uint8Array(sizes[0]), sizes[0], false);
        await cuser.waitFor('socketRecvResult', sizes.length, 20000, conn);
        expect(cuser.eventsOf('socketRecvResult', conn).map((e) => e.args[1])).toEqual(sizes);
        expect(sha256(cuser.received(conn))).toBe(sha256(data));
      });

      it('completes a partial recv as soon as some bytes are there', async () => {
        const { srv, conn: cuser } = await manualServer();
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const { socket: conn } = await srv.accepted(0);
        const ten = randomBytes(10);
        cuser.on('socketRecvResult', (s, buf: Uint8Array) => {
          if (cuser.receivedLength(s) < 10) s.recv(buf, 1000, true);
        });
        conn.recv(new Uint8Array(1000), 1000, true);
        c.send(ten);
        await cuser.waitForBytes(10, conn);
        for (const e of cuser.eventsOf('socketRecvResult', conn)) expect(e.args[1]).toBeLessThanOrEqual(10);
        expect(sha256(cuser.received(conn))).toBe(sha256(ten));
      });

      it('completes partial recvs from 1-byte sends', async () => {
        const { srv, conn: cuser } = await manualServer();
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const { socket: conn } = await srv.accepted(0);
        const data = randomBytes(50);
        cuser.on('socketRecvResult', (s, buf: Uint8Array) => {
          if (cuser.receivedLength(s) < data.length) s.recv(buf, 64, true);
        });
        conn.recv(new Uint8Array(64), 64, true);
        let sent = 1;
        cu.on('socketSendResult', (s) => {
          if (sent < data.length) s.send(data.subarray(sent, ++sent));
        });
        c.send(data.subarray(0, 1));
        await cuser.waitForBytes(data.length, conn);
        expect(sha256(cuser.received(conn))).toBe(sha256(data));
      });

      it('recv(buffer) without len asks for buffer.byteLength', async () => {
        const { srv, conn: cuser } = await manualServer();
        const c = await h.connect(srv, new RecordingUser('client'));
        const { socket: conn } = await srv.accepted(0);
        const data = randomBytes(16);
        conn.recv(new Uint8Array(16));
        c.send(data.subarray(0, 8));
        c.send(data.subarray(8));
        await cuser.waitFor('socketRecvResult', 1, 10000, conn);
        expect(cuser.eventsOf('socketRecvResult', conn)[0].args[1]).toBe(16);
        expect(sha256(cuser.received(conn))).toBe(sha256(data));
      });

      it('sends 200 messages: 200 send results, bytes in order', async () => {
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const msgs = Array.from({ length: 200 }, (_, i) => {
          const m = randomBytes(100);
          m.writeUInt16BE(i, 0);
          return m;
        });
        for (const m of msgs) c.send(m);
        await cu.waitFor('socketSendResult', 200, 10000, c);
        const { socket: conn } = await srv.accepted(0);
        await sink.waitForBytes(200 * 100, conn);
        expect(sha256(sink.received(conn))).toBe(sha256(...msgs));
        expect(cu.count('socketSendResult', c)).toBe(200);
      });

      it('lets the caller reuse the buffer as soon as send() returns', async () => {
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

      it('backpressure: holds a fast sender back while the reader does not recv (16 MiB)', async () => {
        const reader = new RecordingUser('reader');
        const srv = await h.listen({ conn: () => reader });
        const writer = new RecordingUser('writer');
        const c = await h.connect(srv, writer);
        const { socket: conn } = await srv.accepted(0);
        const CH = 64 * KiB;
        const N = 256;
        const data = randomBytes(N * CH);
        let next = 0;
        const sendNext = (s: ISocket): void => {
          if (next < N) s.send(data.subarray(next * CH, ++next * CH));
        };
        writer.on('socketSendResult', sendNext);
        sendNext(c);
        await writer.waitFor('socketSendResult', 4, 10000, c);
        await settle(250);
        const heldAt = writer.count('socketSendResult', c);
        expect(heldAt).toBeLessThan(N);
        expect(reader.count('socketRecvResult', conn)).toBe(0);
        expect(conn.bytesReceived).toBeLessThanOrEqual(2 * MiB); // bounded read-ahead (contract: ~64 KiB–1 MiB)
        reader.on('socketRecvResult', (s, buf: Uint8Array) => {
          if (reader.receivedLength(s) < data.length) s.recv(buf, CH, true);
        });
        conn.recv(new Uint8Array(CH), CH, true);
        await reader.waitForBytes(data.length, conn, 40000);
        await writer.waitFor('socketSendResult', N, 20000, c);
        expect(sha256(reader.received(conn))).toBe(sha256(data));
      }, 90000);

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

    describe('recv rules', () => {
      it('a second pending recv throws ERR_SOCKET_RECV_PENDING; recvCancel returns the same buffer', async () => {
        const { srv, conn: cuser } = await manualServer();
        const c = await h.connect(srv, new RecordingUser('client'));
        const { socket: conn } = await srv.accepted(0);
        const b1 = new Uint8Array(10);
        conn.recv(b1, 10, false);
        expect(thrown(() => conn.recv(new Uint8Array(10), 10, false))).toBe(stateError(E.RecvPending));
        expect(thrown(() => conn.recv(new Uint8Array(10), 5, true))).toBe(stateError(E.RecvPending));
        conn.recvCancel();
        expect(cuser.count('socketRecvCanceled', conn)).toBe(0); // not synchronous
        await cuser.waitFor('socketRecvCanceled', 1, 10000, conn);
        expect(cuser.eventsOf('socketRecvCanceled', conn)[0].args[0]).toBe(b1);
        // Bytes sent after the cancel go to the next recv.
        const data = randomBytes(5);
        const b3 = new Uint8Array(5);
        conn.recv(b3, 5, false);
        c.send(data);
        await cuser.waitFor('socketRecvResult', 1, 10000, conn);
        expect(cuser.eventsOf('socketRecvResult', conn)[0].args[0]).toBe(b3);
        expect(Buffer.from(b3)).toEqual(data);
      });

      it('recvCancel of a partly filled exact recv loses no byte: the next recv gets them', async () => {
        const { srv, conn: cuser } = await manualServer();
        const c = await h.connect(srv, new RecordingUser('client'));
        const { socket: conn } = await srv.accepted(0);
        const first = randomBytes(5);
        conn.recv(new Uint8Array(10), 10, false);
        c.send(first);
        await pollUntil(() => conn.bytesReceived >= 5, 'the first 5 bytes to arrive');
        conn.recvCancel();
        await cuser.waitFor('socketRecvCanceled', 1, 10000, conn);
        const rest = randomBytes(3);
        c.send(rest);
        const b = new Uint8Array(8);
        conn.recv(b, 8, false);
        await cuser.waitFor('socketRecvResult', 1, 10000, conn);
        expect(Buffer.from(b)).toEqual(Buffer.concat([first, rest]));
      });

      it('recvCancel with no recv pending does nothing', async () => {
        const { srv, conn: cuser } = await manualServer();
        await h.connect(srv, new RecordingUser('client'));
        const { socket: conn } = await srv.accepted(0);
        expect(thrown(() => conn.recvCancel())).toBe('none');
        await settle(100);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete']);
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

      it('a second connect throws ERR_SOCKET_ALREADY_CONNECTED, a second bind ERR_SOCKET_ALREADY_BOUND', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const c = h.client(srv, new RecordingUser('client'));
        expect(thrown(() => c.connect(srv.address))).toBe(stateError(E.AlreadyConnected));
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
        expect(thrown(() => (offeredOn as unknown as ISocket).accept(echoUser('late')))).toBe(
          stateError(E.AcceptOutsideListenResult),
        );
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

    describe('bad arguments', () => {
      it('send/recv: bad len → RangeError, non-buffer → TypeError; the connection still works', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const b = new Uint8Array(10);
        const anyArg = (x: unknown): Uint8Array => x as Uint8Array;
        expect(thrown(() => c.send(b, 0))).toBe('RangeError');
        expect(thrown(() => c.send(b, 11))).toBe('RangeError');
        expect(thrown(() => c.send(b, 1.5))).toBe('RangeError');
        expect(thrown(() => c.send(b, -1))).toBe('RangeError');
        expect(thrown(() => c.send(new Uint8Array(0)))).toBe('RangeError');
        expect(thrown(() => c.send(anyArg('abc')))).toBe('TypeError');
        expect(thrown(() => c.send(anyArg(new ArrayBuffer(4))))).toBe('TypeError');
        expect(thrown(() => c.send(anyArg(null)))).toBe('TypeError');
        expect(thrown(() => c.recv(b, 0))).toBe('RangeError');
        expect(thrown(() => c.recv(b, 11))).toBe('RangeError');
        expect(thrown(() => c.recv(b, 2.5, true))).toBe('RangeError');
        expect(thrown(() => c.recv(new Uint8Array(0)))).toBe('RangeError');
        expect(thrown(() => c.recv(anyArg('abc')))).toBe('TypeError');
        expect(thrown(() => c.recv(anyArg([1, 2, 3])))).toBe('TypeError');
        const data = randomBytes(10);
        c.send(data);
        c.recv(b, 10, false);
        await cu.waitFor('socketRecvResult', 1, 10000, c);
        expect(Buffer.from(b)).toEqual(data);
        await cu.waitFor('socketSendResult', 1, 10000, c);
        await settle(50);
        expect(cu.count('socketSendResult', c)).toBe(1);
      });

      it('bind: port -1, 65536, 1.5 → RangeError; port "80" → TypeError', () => {
        const addr = fixture.bindArgs()[0];
        const bad = (port: unknown): string =>
          thrown(() => h.socket(new RecordingUser('bad-bind'), fixture.serverOptions()).bind(addr, port as number));
        expect(bad(-1)).toBe('RangeError');
        expect(bad(65536)).toBe('RangeError');
        expect(bad(1.5)).toBe('RangeError');
        expect(bad('80')).toBe('TypeError');
      });
    });

    describe('server mode', () => {
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
    });

    describe('closing', () => {
      it('shutdown() sends all 4 MiB queued before it, then reports NORMAL; the peer gets BY_PEER', async () => {
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const data = randomBytes(4 * MiB);
        for (let off = 0; off < data.length; off += 64 * KiB) c.send(data.subarray(off, off + 64 * KiB));
        c.shutdown();
        const { socket: conn } = await srv.accepted(0);
        expect(await cu.waitForShutdown(c, 20000)).toBe(ShutdownReason.Normal);
        expect(await sink.waitForShutdown(conn, 20000)).toBe(ShutdownReason.ByPeer);
        expect(sink.receivedLength(conn)).toBe(data.length);
        expect(sha256(sink.received(conn))).toBe(sha256(data));
        expect(sink.names(conn).slice(-2)).toEqual(['socketRecvCanceled', 'socketShutdown']);
      }, 60000);

      it('an exact recv completes short at end of stream, then BY_PEER', async () => {
        const buf = new Uint8Array(100);
        const cuser = new RecordingUser('conn').on('socketAcceptComplete', (s) => s.recv(buf, 100, false));
        const srv = await h.listen({ conn: () => cuser });
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const ten = randomBytes(10);
        c.send(ten);
        c.shutdown();
        const { socket: conn } = await srv.accepted(0);
        expect(await cuser.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete', 'socketRecvResult', 'socketShutdown']);
        const r = cuser.eventsOf('socketRecvResult', conn)[0];
        expect(r.args[1]).toBe(10);
        expect(r.data).toEqual(ten);
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
      });

      it('the peer closes while a recv is pending and nothing is left: cancelled, then BY_PEER', async () => {
        const buf = new Uint8Array(100);
        const cuser = new RecordingUser('conn').on('socketAcceptComplete', (s) => s.recv(buf, 100, false));
        const srv = await h.listen({ conn: () => cuser });
        const c = await h.connect(srv, new RecordingUser('client'));
        const { socket: conn } = await srv.accepted(0);
        c.shutdown();
        expect(await cuser.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete', 'socketRecvCanceled', 'socketShutdown']);
        expect(cuser.eventsOf('socketRecvCanceled', conn)[0].args[0]).toBe(buf);
      });

      it('BY_PEER waits while received bytes wait for a recv', async () => {
        const { srv, conn: cuser } = await manualServer();
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        const data = randomBytes(1000);
        c.send(data);
        c.shutdown();
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        const { socket: conn } = await srv.accepted(0);
        await settle(250);
        expect(cuser.count('socketShutdown', conn)).toBe(0);
        const buf = new Uint8Array(1000);
        conn.recv(buf, 1000, false);
        expect(await cuser.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete', 'socketRecvResult', 'socketShutdown']);
        expect(Buffer.from(buf)).toEqual(data);
      });

      it('with bytes waiting and the peer gone, shutdown() reports NORMAL', async () => {
        const { srv, conn: cuser } = await manualServer();
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        c.send(randomBytes(1000));
        c.shutdown();
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        const { socket: conn } = await srv.accepted(0);
        await settle(150);
        conn.shutdown();
        expect(await cuser.waitForShutdown(conn)).toBe(ShutdownReason.Normal);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete', 'socketShutdown']);
      });

      it('shutdown() on a socket that did nothing reports NORMAL', async () => {
        const u = new RecordingUser('idle');
        const s = h.socket(u);
        s.shutdown();
        expect(u.events).toHaveLength(0);
        expect(await u.waitForShutdown(s)).toBe(ShutdownReason.Normal);
        expect(u.names(s)).toEqual(['socketShutdown']);
      });

      it('after shutdown(), send/recv/recvCancel/shutdown are ignored', async () => {
        const sink = sinkUser();
        const srv = await h.listen({ conn: () => sink });
        const cu = new RecordingUser('client');
        const c = await h.connect(srv, cu);
        c.shutdown();
        const late = (): string[] => [
          thrown(() => c.send(Buffer.from('late'))),
          thrown(() => c.recv(new Uint8Array(4))),
          thrown(() => c.recvCancel()),
          thrown(() => c.shutdown()),
        ];
        expect(late()).toEqual(['none', 'none', 'none', 'none']);
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        expect(late()).toEqual(['none', 'none', 'none', 'none']);
        const { socket: conn } = await srv.accepted(0);
        expect(await sink.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        await settle(100);
        expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketShutdown']);
        expect(sink.receivedLength(conn)).toBe(0);
      });
    });

    describe('callbacks', () => {
      it('never calls back synchronously', async () => {
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

      it('setUser switches callbacks at once', async () => {
        const srv = await h.listen({ conn: () => echoUser() });
        const A = new RecordingUser('A');
        const B = new RecordingUser('B');
        const c = await h.connect(srv, A);
        const buf = new Uint8Array(5);
        c.send(Buffer.from('hello'));
        c.recv(buf, 5, false);
        const before = A.events.length;
        c.setUser(B);
        await B.waitFor('socketRecvResult', 1, 10000, c);
        await B.waitFor('socketSendResult', 1, 10000, c);
        expect(B.eventsOf('socketRecvResult')[0].data?.toString()).toBe('hello');
        c.shutdown();
        expect(await B.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        expect(A.events).toHaveLength(before);
      });

      it('setUser inside a callback redirects callbacks already due', async () => {
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

    describe('facts', () => {
      it('reports addresses, ports and byte counts', async () => {
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
        expect(thrown(() => h.socket(new RecordingUser('too-late'), { ...fixture.clientOptions(), iomux: mux }))).toBe(
          stateError(E.IoMuxTerminated),
        );
      });
    });

    describe('raw peers', () => {
      itRawClient('fills an exact recv from a raw peer writing one byte at a time', async () => {
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

      itRawClient('a raw peer ends its stream: partial recvs get every byte, then cancel, then BY_PEER', async () => {
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

      itRawServer('reads a raw server’s large and 1-byte writes with exact recvs, then BY_PEER', async () => {
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

      itRawServer('a raw server receives every byte sent before shutdown()', async () => {
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
