/**
 * The stream rules through the async layer, per transport: nothing lost, duplicated or
 * reordered between the callback layer and the promises (exact and partial reads of every
 * size, reads aborted at random, for await), the end (BY_PEER after every byte, a short exact
 * read keeps its bytes in `partial`), writes resolving at send results and rejecting after
 * the end, one read at a time, the read-ahead bound, and cancellation that leaves no abort
 * listener behind and lets the connection close.
 */
import { ShutdownReason } from '../../lib';
import { AbortError, SocketClosedError } from '../../lib/async';
import { pollUntil, randomBytes, settle, sha256, withTimeout } from '../helpers/net-helpers';
import { abortListeners, AsyncFixture, WAIT } from './fixtures';

const KiB = 1024;
const MiB = 1024 * KiB;

export function runAsyncStreamSuite(make: () => AsyncFixture): void {
  const fx = make();
  describe(`${fx.name}: the async layer`, () => {
    afterEach(() => fx.cleanup());

    it('delivers every byte in order through exact reads, partial reads and aborted reads', async () => {
      const { client, server } = await fx.pair();
      const data = randomBytes(3 * MiB + 17);
      // The writer: writes of random sizes, each awaited (flow control).
      const writing = (async () => {
        for (let off = 0; off < data.length;) {
          const n = Math.min(data.length - off, 1 + Math.floor(Math.random() * 200 * KiB));
          await client.write(data.subarray(off, off + n));
          off += n;
        }
      })();
      // The reader: a mix of read(n), readSome() and reads aborted before or after data came.
      const got: Buffer[] = [];
      let have = 0;
      let aborted = 0;
      while (have < data.length) {
        const left = data.length - have;
        const kind = Math.random();
        if (kind < 0.2) {
          const ac = new AbortController();
          const p =
            Math.random() < 0.5
              ? server.read(Math.min(left, 1 + Math.floor(Math.random() * 100 * KiB)), { signal: ac.signal })
              : server.readSome({ signal: ac.signal });
          if (Math.random() < 0.5) await Promise.resolve();
          else await new Promise((r) => setImmediate(r));
          ac.abort();
          try {
            const chunk = await p;
            got.push(chunk!); // it completed before the abort
            have += chunk!.length;
          } catch (err) {
            expect(err).toBeInstanceOf(AbortError);
            expect((err as Error).name).toBe('AbortError');
            aborted++;
          }
          expect(abortListeners(ac.signal)).toBe(0);
        } else if (kind < 0.6) {
          const chunk = await server.read(Math.min(left, 1 + Math.floor(Math.random() * 150 * KiB)));
          got.push(chunk);
          have += chunk.length;
        } else {
          const chunk = (await server.readSome({ max: 1 + Math.floor(Math.random() * 100 * KiB) }))!;
          expect(chunk).not.toBeNull();
          got.push(chunk);
          have += chunk.length;
        }
      }
      await writing;
      expect(have).toBe(data.length);
      expect(sha256(...got)).toBe(sha256(data));
      expect(aborted).toBeGreaterThan(0);
    }, 60_000);

    it('iterates chunks with for await until the peer closes, then reports BY_PEER', async () => {
      const { client, server } = await fx.pair();
      const data = randomBytes(MiB + 3);
      void (async () => {
        await client.write(data.subarray(0, 1000));
        await client.write(data.subarray(1000));
        client.end();
      })();
      const got: Buffer[] = [];
      for await (const chunk of server) got.push(chunk);
      expect(sha256(...got)).toBe(sha256(data));
      expect(await server.closed).toBe(ShutdownReason.ByPeer);
      expect(await client.closed).toBe(ShutdownReason.Normal);
      expect(await server.readSome()).toBeNull();
    });

    it('ends an exact read cut short by the peer with its bytes in `partial`', async () => {
      const { client, server } = await fx.pair();
      await client.write('abc');
      client.end();
      const err = (await server.read(10).catch((e: unknown) => e)) as SocketClosedError;
      expect(err).toBeInstanceOf(SocketClosedError);
      expect(err.reason).toBe(ShutdownReason.ByPeer);
      expect(String(err.partial)).toBe('abc');
      expect(await server.closed).toBe(ShutdownReason.ByPeer);
    });

    it('resolves readSome with null once the connection was ended here, and rejects writes after end()', async () => {
      const { client } = await fx.pair();
      const reading = client.readSome();
      client.end();
      expect(await reading).toBeNull();
      const err = (await client.write('x').catch((e: unknown) => e)) as SocketClosedError;
      expect(err).toBeInstanceOf(SocketClosedError);
      expect(err.reason).toBe(ShutdownReason.Normal);
      expect(await client.closed).toBe(ShutdownReason.Normal);
    });

    it('allows one read at a time', async () => {
      const { client, server } = await fx.pair();
      const first = server.readSome();
      await expect(server.read(1)).rejects.toMatchObject({ code: 'ERR_SOCKET_RECV_PENDING' });
      await client.write('z');
      expect(String(await first)).toBe('z');
    });

    it('aborts a pending read, leaves no listener, and the bytes come to the next read', async () => {
      const { client, server } = await fx.pair();
      const ac = new AbortController();
      const pending = server.read(4, { signal: ac.signal });
      expect(abortListeners(ac.signal)).toBe(1);
      ac.abort(new Error('user gave up'));
      const err = (await pending.catch((e: unknown) => e)) as AbortError;
      expect(err.name).toBe('AbortError');
      expect((err.cause as Error).message).toBe('user gave up');
      expect(abortListeners(ac.signal)).toBe(0);
      await client.write('1234');
      expect(String(await server.read(4))).toBe('1234');
      // An already aborted signal rejects at once, and takes nothing.
      await expect(server.readSome({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
      await client.write('5');
      expect(String(await server.read(1))).toBe('5');
    });

    it('gives an exact read aborted half-way its bytes back, in order', async () => {
      const { client, server } = await fx.pair();
      const ac = new AbortController();
      const pending = server.read(10, { signal: ac.signal });
      await client.write('hello');
      await pollUntil(() => server.stats().bytesReceived >= 5, 'the first 5 bytes');
      ac.abort();
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      await client.write('world');
      expect(String(await server.read(10))).toBe('helloworld');
    });

    it('resolves each write at its send result, in order', async () => {
      const { client, server } = await fx.pair();
      const order: number[] = [];
      const writes = [0, 1, 2, 3, 4].map((i) => client.write(randomBytes(100 * KiB)).then(() => order.push(i)));
      const reading = server.read(500 * KiB);
      await Promise.all(writes);
      expect(order).toEqual([0, 1, 2, 3, 4]);
      expect((await reading).length).toBe(500 * KiB);
      expect(client.stats().messagesSent).toBeGreaterThanOrEqual(5);
    });

    it('rejects pending writes with the reason when the connection ends under them', async () => {
      const { client, server } = await fx.pair({ readAheadBytes: 64 * KiB });
      // Nobody reads on the server: writes pile up until the kernel buffers are full.
      const block = randomBytes(MiB);
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < 32; i++) writes.push(client.write(block).catch((e: unknown) => e));
      server.end(); // with unread bytes: the peer resets, the client's sends fail
      const outcomes = await withTimeout(Promise.all(writes), WAIT, 'every write to settle');
      const errors = outcomes.filter((o) => o instanceof SocketClosedError) as SocketClosedError[];
      expect(errors.length).toBeGreaterThan(0);
      const reason = await client.closed;
      expect([ShutdownReason.Lost, ShutdownReason.ByPeer]).toContain(reason);
      for (const e of errors) expect(e.reason).toBe(reason);
      expect(errors.some((e) => e.lastErrorCode !== null) || reason === ShutdownReason.ByPeer).toBe(true);
    });

    it('reads nothing ahead of the app beyond the socket read-ahead', async () => {
      const { client, server } = await fx.pair({ readAheadBytes: 64 * KiB });
      void client.write(randomBytes(4 * MiB)).catch(() => undefined);
      await pollUntil(() => server.stats().readAheadBytes >= 64 * KiB, 'the read-ahead to fill');
      await settle(100);
      const st = server.stats();
      expect(st.messagesReceived).toBe(0); // no recv was issued: nobody asked
      expect(st.readAheadBytes).toBeLessThanOrEqual(64 * KiB + 64 * KiB); // the bound, plus one read of the OS at most
      expect((await server.read(64 * KiB)).length).toBe(64 * KiB);
    });

    it('iterates accepted connections; close() ends the loop and accept() then gives null', async () => {
      const { listener, connect } = await fx.listener();
      const seen: string[] = [];
      const loop = (async () => {
        for await (const conn of listener) {
          seen.push(String(await conn.read(2)));
          conn.end();
          if (seen.length === 3) listener.close();
        }
      })();
      for (const word of ['c1', 'c2', 'c3']) {
        const c = await connect();
        await c.write(word);
        expect(await c.closed).toBe(ShutdownReason.ByPeer);
      }
      await withTimeout(loop, WAIT, 'the accept loop to end');
      expect(seen).toEqual(['c1', 'c2', 'c3']);
      expect(await listener.accept()).toBeNull();
      expect(await listener.closed).toBe(ShutdownReason.Normal);
      expect(listener.stats().listener!.accepted).toBe(3);
    });

    it('aborts a pending accept without losing the connection that comes next', async () => {
      const { listener, connect } = await fx.listener();
      const ac = new AbortController();
      const pending = listener.accept({ signal: ac.signal });
      ac.abort();
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      expect(abortListeners(ac.signal)).toBe(0);
      const c = await connect();
      const s = (await listener.accept())!;
      await c.write('hi');
      expect(String(await s.read(2))).toBe('hi');
      s.end();
    });

    it('closes a listener when its signal aborts', async () => {
      const ac = new AbortController();
      const { listener } = await fx.listener({ signal: ac.signal });
      ac.abort();
      expect(await listener.closed).toBe(ShutdownReason.Normal);
      expect(abortListeners(ac.signal)).toBe(0);
    });

    it('aborts a connect: AbortError, the socket shut down, no listener left', async () => {
      const { connect } = await fx.listener();
      const ac = new AbortController();
      const pending = connect({ signal: ac.signal });
      ac.abort();
      await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
      expect(abortListeners(ac.signal)).toBe(0);
    });
  });
}
