/**
 * The connected-stream conformance suite (Twisted's connection mixins): every rule of
 * CONTRACT.md §3 about one connected stream end — send and recv, exact and partial recvs, the
 * bounded read-ahead, recvCancel, the peer closing (BY_PEER and its ordering), shutdown()
 * flushing, callbacks never synchronous, setUser, the mode lock of a connected end, IoMux.
 *
 * It needs only two connected ends (a `ConnectedStreamFixture`), so it runs over TCP, TLS,
 * STARTTLS, local sockets and the socket pair alike. Every callback is checked against the
 * always-rules by RecordingUser; the afterEach shuts everything down and asserts no rule broke.
 */
import { IoMux, ISocket, ShutdownReason } from '../../lib';
import { closeAllRaw, pollUntil, randomBytes, settle, sha256 } from '../helpers/net-helpers';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { thrown } from '../helpers/stream-harness';
import { E, echoUser, KiB, MiB, sinkUser, stateError } from './common';
import { ConnectedStreamFixture } from './connected-fixtures';

export type { ConnectedStreamFixture } from './connected-fixtures';

export function runConnectedStreamSuite(name: string, fx: ConnectedStreamFixture): void {
  describe(`${name}: connected stream conformance`, () => {
    afterEach(async () => {
      const violations = await cleanupAndCheck();
      await fx.cleanup();
      await closeAllRaw();
      expect(violations).toEqual([]);
    });

    /** One connection whose accepted end has a manual (no auto-recv) user. */
    async function manual(clientUser = new RecordingUser('client')): Promise<{ c: ISocket; conn: ISocket; cu: RecordingUser; cuser: RecordingUser }> {
      const cuser = new RecordingUser('conn');
      const { client: c, server: conn } = await fx.connect(clientUser, cuser);
      return { c, conn, cu: clientUser, cuser };
    }

    describe('data', () => {
      it('echoes data both ways', async () => {
        const cu = sinkUser('client');
        const { client: c } = await fx.connect(cu, echoUser());
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
        const greeter = new RecordingUser('greeter').on('socketAcceptComplete', (s) => s.send(greeting));
        const cu = new RecordingUser('client');
        const { client: c } = await fx.connect(cu, greeter);
        const buf = new Uint8Array(greeting.length);
        c.recv(buf, greeting.length, false);
        await cu.waitFor('socketRecvResult', 1, 10000, c);
        expect(cu.eventsOf('socketRecvResult')[0].args[1]).toBe(greeting.length);
        expect(sha256(cu.received(c))).toBe(sha256(greeting));
      });

      it('fills an exact recv from 1-byte sends, touching nothing beyond len', async () => {
        const { c, conn, cu, cuser } = await manual();
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
        const { c, conn, cuser } = await manual();
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
        const { c, conn, cuser } = await manual();
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
        const { c, conn, cu, cuser } = await manual();
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
        const { c, conn, cuser } = await manual();
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
        const cu = new RecordingUser('client');
        const { client: c, server: conn } = await fx.connect(cu, sink);
        const msgs = Array.from({ length: 200 }, (_, i) => {
          const m = randomBytes(100);
          m.writeUInt16BE(i, 0);
          return m;
        });
        for (const m of msgs) c.send(m);
        await cu.waitFor('socketSendResult', 200, 10000, c);
        await sink.waitForBytes(200 * 100, conn);
        expect(sha256(sink.received(conn))).toBe(sha256(...msgs));
        expect(cu.count('socketSendResult', c)).toBe(200);
      });

      it('lets the caller reuse the buffer as soon as send() returns, on a connected end', async () => {
        const sink = sinkUser();
        const cu = new RecordingUser('client');
        const { client: c, server: conn } = await fx.connect(cu, sink);
        const a = randomBytes(MiB);
        const aCopy = Buffer.from(a);
        c.send(a);
        a.fill(1);
        const small = Buffer.from('hello');
        c.send(small);
        small.write('XXXXX');
        await sink.waitForBytes(aCopy.length + 5, conn);
        expect(sha256(sink.received(conn))).toBe(sha256(aCopy, Buffer.from('hello')));
      });

      it('backpressure: holds a fast sender back while the reader does not recv (16 MiB)', async () => {
        const reader = new RecordingUser('reader');
        const writer = new RecordingUser('writer');
        const { client: c, server: conn } = await fx.connect(writer, reader);
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
    });

    describe('recv rules', () => {
      it('a second pending recv throws ERR_SOCKET_RECV_PENDING; recvCancel returns the same buffer', async () => {
        const { c, conn, cuser } = await manual();
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
        const { c, conn, cuser } = await manual();
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
        const { conn, cuser } = await manual();
        expect(thrown(() => conn.recvCancel())).toBe('none');
        await settle(100);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete']);
      });
    });

    describe('bad arguments', () => {
      it('send/recv: bad len → RangeError, non-buffer → TypeError; the connection still works', async () => {
        const cu = new RecordingUser('client');
        const { client: c } = await fx.connect(cu, echoUser());
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
    });

    describe('closing', () => {
      it('shutdown() sends all 4 MiB queued before it, then reports NORMAL; the peer gets BY_PEER', async () => {
        const sink = sinkUser();
        const cu = new RecordingUser('client');
        const { client: c, server: conn } = await fx.connect(cu, sink);
        const data = randomBytes(4 * MiB);
        for (let off = 0; off < data.length; off += 64 * KiB) c.send(data.subarray(off, off + 64 * KiB));
        c.shutdown();
        expect(await cu.waitForShutdown(c, 20000)).toBe(ShutdownReason.Normal);
        expect(await sink.waitForShutdown(conn, 20000)).toBe(ShutdownReason.ByPeer);
        expect(sink.receivedLength(conn)).toBe(data.length);
        expect(sha256(sink.received(conn))).toBe(sha256(data));
        expect(sink.names(conn).slice(-2)).toEqual(['socketRecvCanceled', 'socketShutdown']);
      }, 60000);

      it('an exact recv completes short at end of stream, then BY_PEER', async () => {
        const buf = new Uint8Array(100);
        const cuser = new RecordingUser('conn').on('socketAcceptComplete', (s) => s.recv(buf, 100, false));
        const cu = new RecordingUser('client');
        const { client: c, server: conn } = await fx.connect(cu, cuser);
        const ten = randomBytes(10);
        c.send(ten);
        c.shutdown();
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
        const { client: c, server: conn } = await fx.connect(new RecordingUser('client'), cuser);
        c.shutdown();
        expect(await cuser.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete', 'socketRecvCanceled', 'socketShutdown']);
        expect(cuser.eventsOf('socketRecvCanceled', conn)[0].args[0]).toBe(buf);
      });

      it('BY_PEER waits while received bytes wait for a recv', async () => {
        const { c, conn, cu, cuser } = await manual();
        const data = randomBytes(1000);
        c.send(data);
        c.shutdown();
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        await settle(250);
        expect(cuser.count('socketShutdown', conn)).toBe(0);
        const buf = new Uint8Array(1000);
        conn.recv(buf, 1000, false);
        expect(await cuser.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete', 'socketRecvResult', 'socketShutdown']);
        expect(Buffer.from(buf)).toEqual(data);
      });

      it('with bytes waiting and the peer gone, shutdown() reports NORMAL', async () => {
        const { c, conn, cu, cuser } = await manual();
        c.send(randomBytes(1000));
        c.shutdown();
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        await settle(150);
        conn.shutdown();
        expect(await cuser.waitForShutdown(conn)).toBe(ShutdownReason.Normal);
        expect(cuser.names(conn)).toEqual(['socketAcceptComplete', 'socketShutdown']);
      });

      it('after shutdown(), send/recv/recvCancel/shutdown are ignored', async () => {
        const sink = sinkUser();
        const cu = new RecordingUser('client');
        const { client: c, server: conn } = await fx.connect(cu, sink);
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
        expect(await sink.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
        await settle(100);
        expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketShutdown']);
        expect(sink.receivedLength(conn)).toBe(0);
      });

      it('shutdown() with a recv pending on the closing end: that recv is cancelled first, then NORMAL exactly once', async () => {
        const cu = new RecordingUser('client');
        const { client: c, server: conn } = await fx.connect(cu, sinkUser());
        const buf = new Uint8Array(10);
        c.recv(buf, 10, false);
        c.shutdown();
        expect(cu.count('socketRecvCanceled', c)).toBe(0); // not synchronous
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketRecvCanceled', 'socketShutdown']);
        expect(cu.eventsOf('socketRecvCanceled', c)[0].args[0]).toBe(buf);
        expect(conn.mode).toBe('client');
      });
    });

    describe('callbacks', () => {
      it('never calls back synchronously on a connected end (send, recv, recvCancel, shutdown)', async () => {
        const cu = new RecordingUser('client');
        const { client: c } = await fx.connect(cu, echoUser());
        const n0 = cu.events.length;
        c.send(Buffer.from('abc'));
        expect(cu.events).toHaveLength(n0);
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
      });

      it('setUser switches callbacks at once', async () => {
        const A = new RecordingUser('A');
        const B = new RecordingUser('B');
        const { client: c } = await fx.connect(A, echoUser());
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

      it('setUser inside a callback redirects the callbacks already due', async () => {
        const B = new RecordingUser('B');
        const A = new RecordingUser('A');
        const { client: c } = await fx.connect(A, sinkUser());
        A.on('socketSendResult', (s) => s.setUser(B));
        for (let i = 0; i < 3; i++) c.send(randomBytes(100));
        await B.waitFor('socketSendResult', 2, 10000, c);
        expect(A.names(c)).toEqual(['socketConnectComplete', 'socketSendResult']);
        expect(B.names(c)).toEqual(['socketSendResult', 'socketSendResult']);
      });
    });

    describe('facts and mode lock of a connected end', () => {
      it('both ends: type, mode client, no connections, byte counts, and addresses that match each other', async () => {
        const cu = sinkUser('client');
        const echo = echoUser();
        const { client: c, server: conn } = await fx.connect(cu, echo);
        const data = randomBytes(10000);
        c.send(data);
        await cu.waitForBytes(data.length, c);
        await cu.waitFor('socketSendResult', 1, 10000, c);
        // bytesSent counts what was handed to the OS: wait for every echoed chunk's send result.
        await echo.waitUntil(() => echo.count('socketSendResult', conn) === echo.count('socketRecvResult', conn), 'the echo’s send results');
        for (const s of [c, conn]) {
          expect(s.type).toBe(fx.type);
          expect(s.mode).toBe('client');
          expect(s.connectionCount).toBe(0);
        }
        const counts = [c.bytesSent, c.bytesReceived, conn.bytesReceived, conn.bytesSent];
        if (fx.exactByteCounts) expect(counts).toEqual([10000, 10000, 10000, 10000]);
        else for (const n of counts) expect(n).toBeGreaterThanOrEqual(10000);
        if (fx.addressing === 'ip') {
          for (const [s, other] of [
            [c, conn],
            [conn, c],
          ] as const) {
            expect(s.localPort).toBeGreaterThan(0);
            expect(s.getLocalAddress()).toEqual({ address: s.localAddress, port: s.localPort });
            expect([s.remoteAddress, s.remotePort]).toEqual([other.localAddress, other.localPort]);
          }
        } else if (fx.addressing === 'path') {
          // A local socket: the path is the address, ports are 0.
          expect(c.getLocalAddress()?.port ?? 0).toBe(0);
          expect(conn.getLocalAddress()?.port ?? 0).toBe(0);
        } else {
          // No addresses at all (socket pair).
          for (const s of [c, conn]) {
            expect(s.getLocalAddress()).toEqual({ address: '', port: 0 });
            expect(s.remoteAddress).toBe('');
          }
        }
      });

      it('a connected end refuses connect/bind/listen (mode lock), also after shutdown()', async () => {
        const cu = new RecordingUser('client');
        const { client: c, server: conn } = await fx.connect(cu, echoUser());
        const lock = (s: ISocket): string[] => [thrown(() => s.connect('127.0.0.1:1')), thrown(() => s.bind(null, 0)), thrown(() => s.listen())];
        const expected = [stateError(E.AlreadyConnected), stateError(E.WrongMode), stateError(E.WrongMode)];
        expect(lock(c)).toEqual(expected);
        expect(lock(conn)).toEqual(expected);
        c.shutdown();
        expect(lock(c)).toEqual(expected);
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        expect(lock(c)).toEqual(expected);
        expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketShutdown']);
      });

      it('IoMux.terminate shuts down both ends made on it, NORMAL once each, not synchronously', async () => {
        const mux = new IoMux();
        const cu = sinkUser('mux-client');
        const su = sinkUser('mux-conn');
        const { client: c, server: conn } = await fx.connect(cu, su, { iomux: mux });
        c.send(Buffer.from('hi'));
        await su.waitForBytes(2, conn);
        const before = cu.events.length + su.events.length;
        mux.terminate();
        expect(cu.events.length + su.events.length).toBe(before);
        expect(await cu.waitForShutdown(c)).toBe(ShutdownReason.Normal);
        expect(await su.waitForShutdown(conn)).toBe(ShutdownReason.Normal);
        // A second socketShutdown would be a violation of the recording users (checked in afterEach).
        expect([cu.count('socketShutdown', c), su.count('socketShutdown', conn)]).toEqual([1, 1]);
        expect(cu.names(c).slice(-2)).toEqual(['socketRecvCanceled', 'socketShutdown']);
        expect(su.names(conn).slice(-2)).toEqual(['socketRecvCanceled', 'socketShutdown']);
      });
    });
  });
}
