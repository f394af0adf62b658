/**
 * The client side of the soak (run in its own process by spec/reliability/soak.spec.ts): opens
 * `count` plain Node TCP connections to 127.0.0.1:`port` at once, sends `size` bytes on each in
 * 64 KiB writes (honouring 'drain') and reads the echo back, SHA-256 of both sides compared.
 * A seeded tenth of the connections reset themselves (resetAndDestroy) after a seeded number of
 * echoed bytes. Each connection's data starts with its index, so the server can tell them apart.
 *
 * Arguments: port count size resetPercent seed. Prints one `result` JSON line, then exits.
 */
import { createHash } from 'node:crypto';
import * as net from 'node:net';
import { emit } from './child';
import { Prng } from './prng';

const [port, count, size, resetPercent, seed] = process.argv.slice(2).map(Number);
const CHUNK = 64 * 1024;
const DEADLINE_MS = 100_000;

/** Which connections reset, and after how many echoed bytes: seeded. */
export function resetPlan(n: number, bytes: number, percent: number, planSeed: number): Map<number, number> {
  const prng = new Prng(planSeed);
  const plan = new Map<number, number>();
  const want = Math.round((n * percent) / 100);
  while (plan.size < want) {
    const i = prng.below(n);
    if (!plan.has(i)) plan.set(i, 1 + prng.below(bytes - 1));
  }
  return plan;
}

interface Outcome {
  index: number;
  reset: boolean;
  intact: boolean;
  sent: number;
  echoed: number;
  error?: string;
}

function runOne(index: number, base: Buffer, resetAt: number | undefined): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: '127.0.0.1' });
    const sentHash = createHash('sha256');
    const echoHash = createHash('sha256');
    let sent = 0;
    let echoed = 0;
    let done = false;
    const finish = (o: Omit<Outcome, 'index' | 'sent' | 'echoed'>): void => {
      if (done) return;
      done = true;
      resolve({ index, sent, echoed, ...o });
    };
    const header = Buffer.alloc(4);
    header.writeUInt32BE(index);
    const rotate = (index * 4099) % base.length;
    const chunkAt = (off: number): Buffer => {
      const n = Math.min(CHUNK, size - off);
      const start = (rotate + off) % base.length;
      const piece =
        start + n <= base.length ? base.subarray(start, start + n) : Buffer.concat([base.subarray(start), base.subarray(0, n - (base.length - start))]);
      if (off > 0) return piece;
      const first = Buffer.from(piece);
      header.copy(first, 0);
      return first;
    };
    const pump = (): void => {
      while (sent < size && !sock.destroyed) {
        const chunk = chunkAt(sent);
        sentHash.update(chunk);
        sent += chunk.length;
        if (!sock.write(chunk)) {
          sock.once('drain', pump);
          return;
        }
      }
    };
    sock.on('connect', pump);
    sock.on('data', (d: Buffer) => {
      echoHash.update(d);
      echoed += d.length;
      if (resetAt !== undefined && echoed >= resetAt) {
        sock.resetAndDestroy();
        finish({ reset: true, intact: false });
        return;
      }
      if (echoed === size) {
        const intact = sentHash.digest('hex') === echoHash.digest('hex');
        sock.end();
        finish({ reset: false, intact });
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ reset: false, intact: false, error: e.code ?? e.message }));
    sock.on('close', () => finish({ reset: false, intact: false, error: `closed after ${echoed} echoed bytes` }));
  });
}

async function main(): Promise<void> {
  const base = new Prng(seed).bytes(size);
  const plan = resetPlan(count, size, resetPercent, seed ^ 0x50a4);
  const started = Date.now();
  const outcomes = await Promise.race([
    Promise.all(Array.from({ length: count }, (_, i) => runOne(i, base, plan.get(i)))),
    new Promise<null>((resolve) => setTimeout(() => resolve(null), DEADLINE_MS).unref()),
  ]);
  if (!outcomes) {
    emit({ type: 'result', error: `not done within ${DEADLINE_MS} ms` });
    process.exit(1);
  }
  const resets = outcomes.filter((o) => o.reset).map((o) => o.index);
  const broken = outcomes.filter((o) => !o.reset && !o.intact);
  emit({
    type: 'result',
    ms: Date.now() - started,
    resets,
    intact: outcomes.filter((o) => o.intact).length,
    broken: broken.slice(0, 20),
    brokenCount: broken.length,
    bytesSent: outcomes.reduce((n, o) => n + o.sent, 0),
    bytesEchoed: outcomes.reduce((n, o) => n + o.echoed, 0),
  });
}

if (require.main === module) void main();
