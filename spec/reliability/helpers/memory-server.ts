/**
 * The server side of the memory test (run in its own process, with --expose-gc, by
 * spec/reliability/memory.spec.ts): a framework TCP listener whose accepted connections never
 * call recv, so all they hold is their read-ahead. It prints `ready` (port and RSS after a
 * garbage collection), then answers each `stats` line on stdin with what it holds: RSS after a
 * collection, and the bytes each connection has taken from the network.
 *
 * Argument: readAheadBytes (0: the default).
 */
import * as readline from 'node:readline';
import { createTcpSocketProvider, ISocket, ShutdownReason, USocket } from '../../../lib';
import { emit } from './child';

const readAhead = Number(process.argv[2]);
const options = readAhead > 0 ? { readAheadBytes: readAhead } : {};
const accepted: ISocket[] = [];
const ends: string[] = [];

const idle = {
  socketShutdown: (_s: ISocket, reason: ShutdownReason) => ends.push(reason),
} as unknown as USocket;

function collect(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
}

function stats(type: string): void {
  collect();
  const m = process.memoryUsage();
  emit({
    type,
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    accepted: accepted.length,
    ends,
    received: accepted.map((s) => s.bytesReceived),
  });
}

const listener = createTcpSocketProvider().createSocket(
  {
    socketBindResult: (_s: ISocket, _a: string, port: number) => {
      collect();
      const m = process.memoryUsage();
      emit({ type: 'ready', port, rss: m.rss, arrayBuffers: m.arrayBuffers });
    },
    socketListenResult: (s: ISocket) => s.accept(idle),
    socketAcceptComplete: (s: ISocket) => accepted.push(s),
    socketShutdown: () => undefined,
  } as unknown as USocket,
  { ...options, backlog: 1024 },
);
// The accepted sockets report socketAcceptComplete to the user given to accept(): route it here.
(idle as unknown as { socketAcceptComplete: (s: ISocket) => void }).socketAcceptComplete = (s) => accepted.push(s);
listener.bind('127.0.0.1', 0);
listener.listen();

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line) as { type: string };
  if (cmd.type === 'stats') stats('stats');
});
process.stdin.on('end', () => process.exit(0));
