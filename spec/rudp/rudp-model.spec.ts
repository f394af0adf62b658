/**
 * A fast-check model of rudp (issue #20): random `simulate` settings (loss up to 20 %,
 * duplication, reordering, jitter), random lanes, random sizes (0 B unreliable, 1 B … 512 KiB)
 * and reliability. The settings are the client's, which applies them to what it sends and what
 * it receives: each direction of the path has them once. Every reliable message arrives exactly once, intact, in order on its lane;
 * an unreliable one at most once and intact; the sender ends NORMAL and the receiver BY_PEER.
 */
import { createHash } from 'crypto';
import fc from 'fast-check';
import { ShutdownReason } from '../../lib';
import { cleanupAndCheck, RecordingUser } from '../helpers/recording-user';
import { messageUser, pattern, rudp, rudpListener, WAIT } from './helpers';
import { simulateSettings } from './tags';

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

interface Sent {
  index: number;
  lane: number;
  reliable: boolean;
  size: number;
}

/** Content unique to (size, index) for index < 256, so a message can be told from its bytes alone. */
function content(m: Sent): Buffer {
  const b = pattern(m.size, m.index + 1);
  for (let k = 0; k < Math.min(m.size, 4); k++) b[k] = (m.index >> (8 * k)) & 0xff;
  return b;
}

const digest = (b: Buffer): string => `${b.byteLength}:${createHash('sha256').update(b).digest('hex')}`;

const reliableSize = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 1500 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 40_000 }) },
  { weight: 1, arbitrary: fc.constant(512 * 1024) },
);
const unreliableSize = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 1500 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 20_000 }) },
  // A whole 512 KiB unreliable message (437 fragments) rarely survives loss, but must never arrive twice or patched.
  { weight: 1, arbitrary: fc.constant(512 * 1024) },
);
const message = fc.oneof(
  fc.record({ reliable: fc.constant(true), size: reliableSize, lane: fc.nat(2) }),
  fc.record({ reliable: fc.constant(false), size: unreliableSize, lane: fc.nat(2) }),
);

describe('rudp model', () => {
  it('random loss, duplication, reordering, jitter, lanes, sizes and reliability: reliable exactly once in order per lane, unreliable at most once, both ends end right', async () => {
    await fc.assert(
      fc.asyncProperty(
        simulateSettings,
        fc.array(fc.record({ priority: fc.integer({ min: 0, max: 2 }), weight: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 3 }),
        fc.array(message, { minLength: 1, maxLength: 10 }),
        async (simulate, lanes, drawn) => {
          const sent: Sent[] = drawn.map((m, index) => ({ index, reliable: m.reliable, size: m.size, lane: m.lane % lanes.length }));
          const byDigest = new Map(sent.map((m) => [digest(content(m)), m]));
          const server = messageUser('server');
          const { l, port } = await rudpListener(() => server);
          const cu = new RecordingUser('client');
          const c = rudp.createSocket(cu, { simulate, lanes });
          c.connect(`127.0.0.1:${port}`);
          for (const m of sent) c.send(content(m), undefined, { reliable: m.reliable, lane: m.lane }); // held until connected
          await cu.waitFor('socketSendResult', sent.length, WAIT, c);
          c.shutdown();
          expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
          expect(await server.waitForShutdown(server.sockets[0], WAIT)).toBe(ShutdownReason.ByPeer);
          const got = server.messages.filter((b) => b.byteLength > 0).map((b) => byDigest.get(digest(b)));
          expect(got.every((m) => m !== undefined)).toBe(true); // nothing corrupted or made up
          const arrived = got as Sent[];
          for (let lane = 0; lane < lanes.length; lane++) {
            const expected = sent.filter((m) => m.reliable && m.lane === lane && m.size > 0).map((m) => m.index);
            expect(arrived.filter((m) => m.reliable && m.lane === lane).map((m) => m.index)).toEqual(expected);
          }
          const unreliable = arrived.filter((m) => !m.reliable).map((m) => m.index);
          expect(new Set(unreliable).size).toBe(unreliable.length);
          const empties = sent.filter((m) => m.size === 0).length;
          expect(server.messages.length - got.length).toBeLessThanOrEqual(empties);
          l.shutdown();
        },
      ),
      { numRuns: 10, endOnFailure: true },
    );
  }, 120_000);
});
