/**
 * Memory bound (issue #7, item 3): 100 connections to a framework server (its own process)
 * whose reader never calls recv, while plain Node senders write as fast as 'drain' lets them.
 * The server's RSS may grow by at most (read-ahead bound × 100 + 20 MiB) — and so may the memory
 * its Buffers hold (`arrayBuffers`), the tighter figure, as RSS also reuses memory the process
 * had already taken for loading its code —, each connection may
 * hold no more than its read-ahead bound (plus one read of slack), and the senders must be
 * held back: every one of them waits for a 'drain' that does not come.
 */
import * as net from 'node:net';
import { settle } from '../helpers/net-helpers';
import { Child } from './helpers/child';
import { report } from './helpers/report';

const CONNECTIONS = 100;
/** The documented default (docs/guide.md, `readAheadBytes`). */
const READ_AHEAD = 256 * 1024;
const MiB = 1024 * 1024;
/** One read from the network can land after the bound was reached (Node reads up to 64 KiB). */
const READ_SLACK = 64 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

interface Sender {
  sock: net.Socket;
  /** Bytes whose write completed (handed to the kernel). */
  written: number;
  drains: number;
  blocked: boolean;
}

function startSender(port: number): Promise<Sender> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const s: Sender = { sock, written: 0, drains: 0, blocked: false };
    const pump = (): void => {
      s.blocked = false;
      while (!sock.destroyed) {
        const ok = sock.write(CHUNK, (err) => {
          if (!err) s.written += CHUNK.length;
        });
        if (!ok) {
          s.blocked = true;
          return;
        }
      }
    };
    sock.on('drain', () => {
      s.drains++;
      pump();
    });
    sock.on('error', () => undefined);
    sock.once('connect', () => {
      pump();
      resolve(s);
    });
    sock.once('error', reject);
  });
}

describe('memory bound: readers that never recv', () => {
  it('hold RSS under read-ahead × 100 + 20 MiB and hold the senders back', async () => {
    const server = new Child('memory-server.ts', ['0'], ['--expose-gc']);
    const senders: Sender[] = [];
    try {
      const ready = await server.next('ready', 20_000);
      const port = ready.port as number;
      const baseline = ready.rss as number;
      const baselineBuffers = ready.arrayBuffers as number;
      for (let i = 0; i < CONNECTIONS; i++) senders.push(await startSender(port));

      // Wait (bounded) until the server takes no more bytes and every sender is blocked.
      const deadline = Date.now() + 30_000;
      let last = -1;
      let stats = await askStats(server);
      for (;;) {
        const total = (stats.received as number[]).reduce((a, b) => a + b, 0);
        if (total === last && stats.accepted === CONNECTIONS && senders.every((s) => s.blocked)) break;
        if (Date.now() > deadline)
          throw new Error(`the senders were not held back within 30 s: server took ${total} bytes, ${senders.filter((s) => s.blocked).length} senders blocked`);
        last = total;
        await settle(250);
        stats = await askStats(server);
      }

      // Held back: over a further while no sender's write drains and no byte more is taken.
      const drainsBefore = senders.map((s) => s.drains);
      const writtenBefore = senders.map((s) => s.written);
      await settle(300);
      const after = await askStats(server);
      expect(senders.map((s) => s.drains)).toEqual(drainsBefore);
      expect(senders.map((s) => s.written)).toEqual(writtenBefore);
      expect(after.received).toEqual(stats.received);
      expect(senders.every((s) => s.blocked && s.sock.writableNeedDrain)).toBe(true);

      const received = after.received as number[];
      expect(received).toHaveLength(CONNECTIONS);
      expect(Math.max(...received)).toBeLessThanOrEqual(READ_AHEAD + READ_SLACK);
      expect(Math.min(...received)).toBeGreaterThan(0);
      const growth = (after.rss as number) - baseline;
      expect(growth).toBeLessThan(READ_AHEAD * CONNECTIONS + 20 * MiB);
      const bufferGrowth = (after.arrayBuffers as number) - baselineBuffers;
      expect(bufferGrowth).toBeLessThan(READ_AHEAD * CONNECTIONS + 20 * MiB);
      expect(after.ends).toEqual([]);

      report('memory', {
        connections: CONNECTIONS,
        readAhead: READ_AHEAD,
        baselineRss: baseline,
        rss: after.rss,
        growth,
        bound: READ_AHEAD * CONNECTIONS + 20 * MiB,
        heldPerConnection: { min: Math.min(...received), max: Math.max(...received) },
        serverHeld: received.reduce((a, b) => a + b, 0),
        sendersWritten: senders.reduce((a, s) => a + s.written, 0),
        bufferGrowth,
      });
    } finally {
      for (const s of senders) s.sock.destroy();
      await server.stop();
    }
  }, 60_000);
});

async function askStats(server: Child): Promise<Record<string, unknown>> {
  server.send({ type: 'stats' });
  return server.next('stats', 10_000);
}
