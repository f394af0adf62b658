/**
 * rudp under the simulator: a fast-check model (random loss ≤ 20 %, duplication, reordering,
 * jitter, random message sizes): every message exactly once, intact, in order; both ends finish
 * with the right reasons. And congestion control backs off under loss.
 */
import fc from 'fast-check';
import { ShutdownReason } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';
import { simulateSettings } from './tags';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

describe('rudp under loss', () => {
  it('fast-check model: every reliable message exactly once, intact, in order; shutdown then BY_PEER', async () => {
    await fc.assert(
      fc.asyncProperty(
        simulateSettings,
        fc.array(fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 40_000 })), { minLength: 1, maxLength: 12 }),
        async (simulate, sizes) => {
          const server = messageUser('server');
          const { l, lu, port } = await rudpListener(() => server, { simulate: { ...simulate, seed: simulate.seed + 1 } });
          const cu = new RecordingUser('client');
          const c = rudp.createSocket(cu, { simulate });
          c.connect(`127.0.0.1:${port}`);
          const sent = sizes.map((n, i) => pattern(n, i));
          for (const m of sent) c.send(m); // held until the handshake is done
          await cu.waitFor('socketSendResult', sent.length, WAIT, c);
          c.shutdown();
          const s = server.sockets[0];
          await server.waitUntil(() => server.messages.length >= sent.length, 'all messages', WAIT);
          expect(server.messages.length).toBe(sent.length);
          server.messages.forEach((m, i) => expect(m.equals(sent[i])).toBe(true));
          expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
          // The close packet may be lost: then the peer ends LOST after its idle time-out (documented).
          s.shutdown();
          l.shutdown();
          await lu.waitForShutdown(l, WAIT);
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000); // 8 runs at up to 20 % loss: 1–9 s alone, several times that on a loaded machine

  it('congestion control: the send rate backs off under 10 % loss', async () => {
    const server = messageUser('server');
    const { l, port } = await rudpListener(() => server);
    const cu = new RecordingUser('client');
    const c = rudp.createSocket(cu, { simulate: { lossPercent: 10, seed: 42 } });
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    let peak = 0;
    let low = Infinity;
    cu.on('socketSendResult', () => {
      const r = c.stats().sendRateBytesPerSec ?? 0;
      peak = Math.max(peak, r);
      if (peak > 0) low = Math.min(low, r);
    });
    for (let i = 0; i < 40; i++) c.send(pattern(50_000, i));
    await cu.waitFor('socketSendResult', 40, WAIT, c);
    const st = c.stats();
    expect(st.packetsLost).toBeGreaterThan(0);
    expect(st.retransmits).toBeGreaterThan(0);
    expect(low).toBeLessThan(peak); // cwnd was cut after losses
    await server.waitUntil(() => server.messages.length === 40, 'all messages', WAIT);
    c.shutdown();
    l.shutdown();
    await server.waitForShutdown(server.sockets[0], WAIT);
  });
});
