/**
 * The server side of spec/rudp/rudp-idle-memory.spec.ts, in its own process (run with
 * --expose-gc by spec/reliability/helpers/child.ts): a framework listener (`rudp` or `tcp`,
 * the argument) that accepts every peer and leaves it idle. It prints `ready` with its port,
 * then answers each `measure` line on stdin with its memory after a full collection, its open
 * file descriptors (each TCP connection holds one; rudp connections share the listener's) and
 * how many peers it accepted.
 */
import { readdirSync } from 'node:fs';
import * as readline from 'node:readline';
import { createRudpSocketProvider, createTcpSocketProvider, ISocket, USocket } from '../../lib';
import { emit } from '../reliability/helpers/child';

const kind = process.argv[2];
const provider = kind === 'tcp' ? createTcpSocketProvider() : createRudpSocketProvider();
let accepted = 0;

class Idle extends USocket {
  override socketBindResult(_s: ISocket, _a: string, port: number): void {
    emit({ type: 'ready', port });
  }
  override socketListenResult(l: ISocket): void {
    l.accept(this);
  }
  override socketAcceptComplete(): void {
    accepted++;
  }
  override socketShutdown(): void {}
}

function measure(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  emit({ type: 'measure', js: m.heapUsed + m.arrayBuffers, rss: m.rss, fds: readdirSync('/proc/self/fd').length, accepted });
}

// Long time-outs: the connections stay up and idle while measured (keep-alives run).
const listener = provider.createSocket(new Idle(), { idleTimeoutMs: 300_000, backlog: 1024 });
listener.bind('127.0.0.1', 0);
listener.listen();

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if ((JSON.parse(line) as { type: string }).type === 'measure') measure();
});
process.stdin.on('end', () => process.exit(0));
