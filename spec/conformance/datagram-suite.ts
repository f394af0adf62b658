/**
 * The datagram conformance suite: the rules of CONTRACT.md §3 and §7/§8 for one datagram end,
 * transport-neutral — one datagram per recv (cut to len), recvCancel, a recv pending at
 * shutdown, the bounded receive queue (`datagramQueueLength`, `droppedDatagrams`), sends made
 * before the end is ready, shutdown() with sends in flight, datagrams from strangers
 * (`stats().strangerDatagrams`), and the mode lock.
 *
 * Run over connected UDP, bound UDP and both ends of a DTLS session (datagram-fixtures.ts).
 * Every callback is checked against the always-rules by RecordingUser; the afterEach shuts
 * everything down and asserts no rule broke.
 */
import { ISocket, ShutdownReason } from '../../lib';
import { pollUntil, randomBytes } from '../helpers/net-helpers';
import { CallbackName, cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { thrown } from '../helpers/stream-harness';
import { plainUdp } from '../helpers/udp-peers';
import { E, stateError } from './common';
import { DatagramEnd, DatagramFixture, LockedCall, WAIT } from './datagram-fixtures';

export type { DatagramFixture } from './datagram-fixtures';

/** [text, srcAddr, srcPort] of each datagram `u` received on `s`. */
function datagrams(u: RecordingUser, s: ISocket): Array<[string, string, number]> {
  return u.eventsOf('socketRecvFromResult', s).map((e) => [String(e.data), e.args[2] as string, e.args[3] as number]);
}

const text = (s: string): Buffer => Buffer.from(s);

export function runDatagramSuite(name: string, fx: DatagramFixture): void {
  // Where the transports truly differ, a test is defined for the fixtures it applies to only
  // (not skipped): a connected end hears its one peer, a bound end every source; only connected
  // UDP has a moment (between the bind that connect() makes and the connect) where a stranger
  // reaches the socket before it knows its peer.
  const noTest = (..._args: Parameters<typeof it>): void => undefined;
  const itConnected = fx.kind === 'connected' ? it : noTest;
  const itBound = fx.kind === 'bound' ? it : noTest;
  const itEarlyStranger = fx.openWithEarlyStranger ? it : noTest;

  describe(`${name}: datagram conformance`, () => {
    afterEach(async () => {
      const violations = await cleanupAndCheck(WAIT);
      await fx.cleanup();
      expect(violations).toEqual([]);
    });

    /** The user's callbacks on `s` after the one that made the end ready. */
    const after = (u: RecordingUser, s: ISocket): CallbackName[] => {
      const names = u.names(s);
      return names[0] === fx.readyEvent ? names.slice(1) : names;
    };

    /** Datagrams the end had received before the test had it (see DatagramEnd.receivedBefore). */
    const before = (end: DatagramEnd): number => end.receivedBefore ?? 0;

    /** Waits (bounded) until the end has taken in `n` datagrams (delivered, queued or dropped). */
    const arrived = (end: DatagramEnd, n: number): Promise<void> =>
      pollUntil(
        () => end.socket.stats().messagesReceived >= n + before(end),
        `${n} datagrams to reach the end (have ${end.socket.stats().messagesReceived})`,
        WAIT,
      );

    describe('receiving', () => {
      it('each recv takes one datagram, cut to len, with the peer’s address; queued ones wait for their recv', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        const hundred = randomBytes(100);
        await end.peer.send(text('first datagram'));
        await end.peer.send(hundred);
        await end.peer.send(text('third'));
        await arrived(end, 3);
        const b1 = Buffer.alloc(20, 0xee);
        s.recv(b1, 5);
        expect(thrown(() => s.recv(new Uint8Array(10)))).toBe(stateError(E.RecvPending));
        await u.waitFor('socketRecvFromResult', 1, WAIT, s);
        const b2 = new Uint8Array(200);
        s.recv(b2, 10, true); // recvPartial has no effect on datagrams
        await u.waitFor('socketRecvFromResult', 2, WAIT, s);
        const b3 = new Uint8Array(100);
        s.recv(b3);
        await u.waitFor('socketRecvFromResult', 3, WAIT, s);
        const got = u.eventsOf('socketRecvFromResult', s);
        expect(got.map((e) => [e.args[0], e.args[1]])).toEqual([
          [b1, 5],
          [b2, 10],
          [b3, 5],
        ]);
        expect(datagrams(u, s)).toEqual([
          ['first', end.peer.address, end.peer.port],
          [hundred.subarray(0, 10).toString(), end.peer.address, end.peer.port],
          ['third', end.peer.address, end.peer.port],
        ]);
        expect(b1.subarray(5).every((b) => b === 0xee)).toBe(true); // nothing written beyond len
        // A recv made before the datagram arrives takes the next one.
        const b4 = new Uint8Array(64);
        s.recv(b4);
        await end.peer.send(text('fourth'));
        await u.waitFor('socketRecvFromResult', 4, WAIT, s);
        expect(datagrams(u, s)[3]).toEqual(['fourth', end.peer.address, end.peer.port]);
        expect(after(u, s)).toEqual(['socketRecvFromResult', 'socketRecvFromResult', 'socketRecvFromResult', 'socketRecvFromResult']);
        expect(s.bytesReceived).toBe(14 + 100 + 5 + 6); // whole datagrams, including the cut ones
      });

      it('recv: len 0 or beyond the buffer → RangeError, a non-buffer → TypeError; nothing pending after them', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        const b = new Uint8Array(10);
        expect(thrown(() => s.recv(b, 0))).toBe('RangeError');
        expect(thrown(() => s.recv(b, 11))).toBe('RangeError');
        expect(thrown(() => s.recv(new Uint8Array(0)))).toBe('RangeError');
        expect(thrown(() => s.recv('abc' as unknown as Uint8Array))).toBe('TypeError');
        s.recv(b);
        await end.peer.send(text('still works'));
        await u.waitFor('socketRecvFromResult', 1, WAIT, s);
        expect(datagrams(u, s)[0][0]).toBe('still work'); // cut to the buffer's 10 bytes
      });

      it('recvCancel → socketRecvCanceled with the same buffer, not synchronously; the next datagram waits for the next recv', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        expect(thrown(() => s.recvCancel())).toBe('none'); // none pending: nothing happens
        const b1 = new Uint8Array(64);
        s.recv(b1);
        s.recvCancel();
        expect(u.count('socketRecvCanceled', s)).toBe(0);
        await u.waitFor('socketRecvCanceled', 1, WAIT, s);
        expect(u.eventsOf('socketRecvCanceled', s)[0].args[0]).toBe(b1);
        await end.peer.send(text('after the cancel'));
        await arrived(end, 1);
        const b2 = new Uint8Array(64);
        s.recv(b2);
        await u.waitFor('socketRecvFromResult', 1, WAIT, s);
        expect(u.eventsOf('socketRecvFromResult', s)[0].args[0]).toBe(b2);
        expect(datagrams(u, s)).toEqual([['after the cancel', end.peer.address, end.peer.port]]);
        expect(after(u, s)).toEqual(['socketRecvCanceled', 'socketRecvFromResult']);
      });

      it('queue overflow: with datagramQueueLength 4, 20 datagrams arriving while no recv is pending keep the first 4 and count 16 dropped', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u, { datagramQueueLength: 4 });
        const s = end.socket;
        for (let i = 1; i <= 20; i++) await end.peer.send(text(`datagram ${i}`));
        await pollUntil(() => s.stats().droppedDatagrams >= 16, `16 dropped datagrams (have ${s.stats().droppedDatagrams})`, WAIT);
        expect(s.stats().droppedDatagrams).toBe(16);
        expect(s.droppedDatagrams).toBe(16);
        expect(s.stats().messagesReceived).toBe(20 + before(end));
        let k = 0;
        u.on('socketRecvFromResult', (sock, buf: Uint8Array) => {
          if (++k < 4) sock.recv(buf);
        });
        s.recv(new Uint8Array(64));
        await u.waitFor('socketRecvFromResult', 4, WAIT, s);
        // The queue is empty now: the next recv waits for the next datagram, not for datagram 5.
        s.recv(new Uint8Array(64));
        await end.peer.send(text('marker'));
        await u.waitFor('socketRecvFromResult', 5, WAIT, s);
        expect(datagrams(u, s).map((d) => d[0])).toEqual(['datagram 1', 'datagram 2', 'datagram 3', 'datagram 4', 'marker']);
        expect(s.stats().droppedDatagrams).toBe(16);
      });
    });

    describe('sending', () => {
      it('sends made before the end is ready go out in order, each with its send result, after the ready callback', async () => {
        const u = new RecordingUser('end');
        const sends = [text('early 1'), randomBytes(500), text('early 3')];
        const end = await fx.openSendingEarly(u, sends);
        const s = end.socket;
        expect(u.names(s)).toEqual([...fx.earlyReadyEvents, 'socketSendResult', 'socketSendResult', 'socketSendResult']);
        await end.peer.waitReceived(3);
        expect(end.peer.received().map((d) => d.toString('hex'))).toEqual(sends.map((d) => d.toString('hex')));
        expect(s.getLocalAddress()?.port).toBeGreaterThan(0);
        // The end hears its peer on that port.
        s.recv(new Uint8Array(64));
        await end.peer.send(text('answer'));
        await u.waitFor('socketRecvFromResult', 1, WAIT, s);
        expect(datagrams(u, s)).toEqual([['answer', end.peer.address, end.peer.port]]);
      });

      it('the caller may change the data as soon as send returns', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const data = text('original');
        end.sendToPeer(data);
        data.write('XXXXXXXX');
        await u.waitFor('socketSendResult', 1, WAIT, end.socket);
        await end.peer.waitReceived(1);
        expect(end.peer.received()[0].toString()).toBe('original');
      });

      it('shutdown() with 50 sends in flight: 50 send results in order, then SOCKET_SHUTDOWN_NORMAL; the peer gets all 50', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        const sent = Array.from({ length: 50 }, (_, i) => text(`in flight ${i}`));
        for (const d of sent) end.sendToPeer(d);
        s.shutdown();
        expect(after(u, s)).toEqual([]); // not synchronous
        expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
        expect(after(u, s)).toEqual([...sent.map((): CallbackName => 'socketSendResult'), 'socketShutdown']);
        await end.peer.waitReceived(50);
        expect(end.peer.received().map(String)).toEqual(sent.map(String));
      });
    });

    describe('closing', () => {
      it('a recv pending at shutdown() is cancelled before socketShutdown(NORMAL)', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        const buf = new Uint8Array(64);
        s.recv(buf);
        s.shutdown();
        expect(u.count('socketRecvCanceled', s)).toBe(0);
        expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
        expect(after(u, s)).toEqual(['socketRecvCanceled', 'socketShutdown']);
        expect(u.eventsOf('socketRecvCanceled', s)[0].args[0]).toBe(buf);
      });

      it('after shutdown(), send/sendTo/recv/recvCancel/shutdown are ignored; nothing follows socketShutdown', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        s.shutdown();
        const late = (): string[] => [
          thrown(() => end.sendToPeer(text('late'))),
          thrown(() => s.recv(new Uint8Array(4))),
          thrown(() => s.recvCancel()),
          thrown(() => s.shutdown()),
        ];
        expect(late()).toEqual(['none', 'none', 'none', 'none']);
        expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
        expect(late()).toEqual(['none', 'none', 'none', 'none']);
        expect(after(u, s)).toEqual(['socketShutdown']);
        expect(u.count('socketSendResult', s)).toBe(0);
      });
    });

    describe('strangers', () => {
      itConnected('a datagram from another source is never delivered; the peer’s is', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        const stranger = await plainUdp();
        await stranger.send(text('from a stranger'), s.getLocalAddress()?.port as number);
        if (fx.strangerAfterReady === 'counted') {
          await pollUntil(() => s.stats().strangerDatagrams >= 1, 'the stranger’s datagram to be counted', WAIT);
        }
        s.recv(new Uint8Array(64));
        await end.peer.send(text('from the peer'));
        await u.waitFor('socketRecvFromResult', 1, WAIT, s);
        expect(datagrams(u, s)).toEqual([['from the peer', end.peer.address, end.peer.port]]);
        expect(s.stats().strangerDatagrams).toBe(fx.strangerAfterReady === 'counted' ? 1 : 0);
        expect(s.bytesReceived).toBe('from the peer'.length); // strangers are not received bytes
        expect(s.stats().messagesReceived).toBe(1 + before(end));
      });

      itEarlyStranger('a stranger’s datagram that reached the port before the end knew its peer is dropped and counted', async () => {
        const u = new RecordingUser('end');
        const stranger = await plainUdp();
        const end = await (fx.openWithEarlyStranger as NonNullable<DatagramFixture['openWithEarlyStranger']>)(u, stranger);
        const s = end.socket;
        expect(s.stats().strangerDatagrams).toBe(1);
        s.recv(new Uint8Array(64));
        await end.peer.send(text('from the peer'));
        await u.waitFor('socketRecvFromResult', 1, WAIT, s);
        expect(datagrams(u, s)).toEqual([['from the peer', end.peer.address, end.peer.port]]);
        expect(s.bytesReceived).toBe('from the peer'.length);
      });

      itBound('a bound end hears every source and reports each one', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        const other = await plainUdp();
        await other.send(text('from another'), s.getLocalAddress()?.port as number);
        await end.peer.send(text('from the peer'));
        await arrived(end, 2);
        u.on('socketRecvFromResult', (sock, buf: Uint8Array) => {
          if (u.count('socketRecvFromResult', sock) < 2) sock.recv(buf);
        });
        s.recv(new Uint8Array(64));
        await u.waitFor('socketRecvFromResult', 2, WAIT, s);
        expect(datagrams(u, s)).toEqual([
          ['from another', '127.0.0.1', other.port],
          ['from the peer', end.peer.address, end.peer.port],
        ]);
        expect(s.stats().strangerDatagrams).toBe(0);
      });
    });

    describe('mode lock', () => {
      it('the calls of the other mode throw SocketStateError synchronously, also after shutdown(), with no callback', async () => {
        const u = new RecordingUser('end');
        const end = await fx.open(u);
        const s = end.socket;
        const calls: Record<LockedCall, () => unknown> = {
          connect: () => s.connect('127.0.0.1:9'),
          bind: () => s.bind('127.0.0.1', 0),
          send: () => s.send(text('x')),
          sendTo: () => s.sendTo(text('x'), undefined, '127.0.0.1', 9),
          listen: () => s.listen(),
          accept: () => s.accept(null),
        };
        const locked = Object.keys(fx.locked) as LockedCall[];
        const attempt = (): Array<[LockedCall, string]> => locked.map((k) => [k, thrown(calls[k])]);
        const expected = locked.map((k): [LockedCall, string] => [k, fx.locked[k] as string]);
        expect(attempt()).toEqual(expected);
        const mode = s.mode;
        s.shutdown();
        expect(attempt()).toEqual(expected);
        expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
        expect(attempt()).toEqual(expected);
        expect(s.mode).toBe(mode);
        expect(after(u, s)).toEqual(['socketShutdown']);
      });
    });
  });
}
