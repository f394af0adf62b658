// The lossy relay of the rudp bench (issue #20): a process between a client and its server that
// forwards UDP datagrams both ways and drops a seeded share of them in each direction. The
// same relay carries every implementation (rudp, ENet, raw dgram); at 0 % it measures its own
// cost. `node relay.js '{"to":PORT,"lossPercent":1,"seed":1}'` prints `PORT n` once bound and,
// when its stdin ends, `STATS {...}`, then exits (so it dies with the process that started it).
import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { seededRandom } from '../../lib/core/rudp/simulate';
import { UDP_BUFFER } from './common';

export interface RelaySpec {
  /** The server's port on 127.0.0.1. */
  to: number;
  /** Share of datagrams dropped in each direction, 0–100. */
  lossPercent: number;
  /** Seeds the drop decisions: every run of every implementation sees the same sequence. */
  seed: number;
}

/** Upstream sockets (one per client address) at most: the bench has one client. */
const MAX_CLIENTS = 64;

function relay(spec: RelaySpec): void {
  const drop = spec.lossPercent / 100;
  const toServer = seededRandom(spec.seed);
  const toClient = seededRandom(spec.seed ^ 0x5bd1e995);
  const counts = { up: 0, down: 0, droppedUp: 0, droppedDown: 0 };
  const opts = { type: 'udp4' as const, recvBufferSize: UDP_BUFFER, sendBufferSize: UDP_BUFFER };
  const front = dgram.createSocket(opts);
  const upstream = new Map<string, dgram.Socket>();
  /** What arrived for an upstream socket before its connect completed (a connected socket sends without a lookup). */
  const waiting = new Map<dgram.Socket, Buffer[]>();
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let up = upstream.get(key);
    if (!up) {
      if (upstream.size >= MAX_CLIENTS) return;
      const u = dgram.createSocket(opts);
      up = u;
      upstream.set(key, u);
      u.on('message', (back) => {
        counts.down++;
        if (drop > 0 && toClient() < drop) counts.droppedDown++;
        else front.send(back, from.port, from.address);
      });
      u.on('error', () => undefined); // ICMP from a server that went away: the run reports it
      const held: Buffer[] = [];
      waiting.set(u, held);
      u.connect(spec.to, '127.0.0.1', () => {
        waiting.delete(u);
        for (const m of held) u.send(m);
      });
    }
    counts.up++;
    if (drop > 0 && toServer() < drop) counts.droppedUp++;
    else {
      const held = waiting.get(up);
      if (held) held.push(msg);
      else up.send(msg);
    }
  });
  front.on('error', (err) => process.stderr.write(`relay: ${err.message}\n`));
  front.bind(0, '127.0.0.1', () => process.stdout.write(`PORT ${front.address().port}\n`));
  process.stdin.resume();
  process.stdout.on('error', () => process.exit(0)); // whoever started us is gone
  process.stdin.on('end', () => {
    process.stdout.write(`STATS ${JSON.stringify(counts)}\n`, () => process.exit(0));
  });
}

/**
 * Starts a relay (relay.js next to this file) and resolves with its port. It is not pinned
 * (taskset's mask is reset to every CPU): the peers are, each to its own CPU.
 */
export function startRelay(spec: RelaySpec): Promise<number> {
  const script = join(__dirname, 'relay.js');
  const argv = [process.execPath, script, JSON.stringify(spec)];
  const cmd = existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', '-c', `0-${cpus().length - 1}`, ...argv] : argv;
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay did not start within 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`the relay exited (${code})`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.startsWith('PORT ')) return;
      clearTimeout(timer);
      resolve(Number(line.slice(5)));
    });
  });
}

/**
 * The port a client peer talks to: the server's own, or, when `size.relayLoss` is 0 or more, a
 * relay's in front of it (seeded by `size.seed`). The relay lives as long as the client process.
 */
export function clientPort(size: Record<string, number>, serverPort: number): Promise<number> {
  if (!(size.relayLoss >= 0)) return Promise.resolve(serverPort);
  return startRelay({ to: serverPort, lossPercent: size.relayLoss, seed: size.seed ?? 1 });
}

if (require.main === module) relay(JSON.parse(process.argv[2]) as RelaySpec);
