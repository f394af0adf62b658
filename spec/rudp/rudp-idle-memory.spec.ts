/**
 * Memory per idle connection (issue #20): 1,000 idle rudp connections on one port cost less
 * than 1,000 TCP connections of the framework. The server runs in its own process
 * (spec/rudp/idle-server.ts), the clients here. A connection's cost on the server is what its
 * process's JavaScript heap and Buffers grow by (after a full collection), plus the kernel
 * objects of the sockets it holds: a TCP connection holds one socket (its `TCP` sock, inode,
 * file, dentry and epoll item, sizes read from /proc/slabinfo), rudp connections share the
 * listener's UDP socket. Memory, not time: no timing assertion. RUDP_MEMORY_REPORT=1 prints
 * the figures docs/rudp.md quotes.
 */
import { readFileSync } from 'node:fs';
import { createRudpSocketProvider, createTcpSocketProvider, ISocket, ISocketProvider, USocket } from '../../lib';
import { Child } from '../reliability/helpers/child';

const N = 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Kernel bytes of one socket file descriptor of `proto` ('TCP' or 'UDP'): the sock object and
 * the inode, file, dentry and epoll item that come with its descriptor. Where /proc/slabinfo
 * cannot be read (it needs root), a floor: Linux's `struct tcp_sock` alone is over 2 KiB on 64-bit.
 */
function kernelBytesPerSocket(proto: 'TCP' | 'UDP'): number {
  let text: string;
  try {
    text = readFileSync('/proc/slabinfo', 'utf8');
  } catch {
    return 2048;
  }
  const size = (name: string): number => {
    const row = text.split('\n').find((l) => l.startsWith(`${name} `));
    return row ? Number(row.trim().split(/\s+/)[3]) : 0;
  };
  return size(proto) + size('sock_inode_cache') + size('filp') + size('dentry') + size('eventpoll_epi');
}

class Clients extends USocket {
  connected = 0;
  ended = 0;
  override socketConnectComplete(): void {
    this.connected++;
  }
  override socketShutdown(): void {
    this.ended++;
  }
}

interface Cost {
  /** JavaScript heap and Buffer memory per connection, bytes. */
  js: number;
  /** Socket descriptors per connection the server holds. */
  fds: number;
  /** js + fds × the kernel bytes of one such socket. */
  total: number;
}

async function idleCost(kind: 'rudp' | 'tcp', provider: ISocketProvider): Promise<Cost> {
  const server = new Child('../../rudp/idle-server.ts', [kind], ['--expose-gc']);
  const clients: ISocket[] = [];
  const u = new Clients();
  try {
    const { port } = await server.next('ready', 30_000);
    await sleep(200);
    server.send({ type: 'measure' });
    const before = await server.next('measure', 30_000);
    for (let i = 0; i < N; i++) {
      const c = provider.createSocket(u, { idleTimeoutMs: 300_000 });
      c.connect(`127.0.0.1:${String(port)}`);
      clients.push(c);
      for (let t = 0; i % 100 === 99 && u.connected < i + 1 && t < 3000; t++) await sleep(10);
    }
    let after = before;
    for (let t = 0; t < 300 && after.accepted !== N; t++) {
      await sleep(100);
      server.send({ type: 'measure' });
      after = await server.next('measure', 30_000);
    }
    expect(after.accepted).toBe(N);
    expect(u.connected).toBe(N);
    const js = ((after.js as number) - (before.js as number)) / N;
    const fds = ((after.fds as number) - (before.fds as number)) / N;
    const kernel = kernelBytesPerSocket(kind === 'tcp' ? 'TCP' : 'UDP');
    return { js, fds, total: js + fds * kernel };
  } finally {
    for (const c of clients) c.shutdown();
    for (let t = 0; t < 500 && u.ended < clients.length; t++) await sleep(10);
    await server.stop();
  }
}

it(`${N} idle rudp connections on one port cost the server less memory than ${N} TCP connections of the framework`, async () => {
  const rudp = await idleCost('rudp', createRudpSocketProvider());
  const tcp = await idleCost('tcp', createTcpSocketProvider());
  if (process.env.RUDP_MEMORY_REPORT) {
    const kb = (n: number): string => `${(n / 1024).toFixed(2)} KiB`;
    const line = (name: string, c: Cost): string => `${name}: js ${kb(c.js)}, ${c.fds.toFixed(2)} sockets, total ${kb(c.total)}`;
    process.stdout.write(
      `per idle connection, server side (kernel socket ${String(kernelBytesPerSocket('TCP'))} B): ${line('rudp', rudp)}; ${line('tcp', tcp)}\n`,
    );
  }
  expect(rudp.js).toBeGreaterThan(0);
  expect(rudp.fds).toBeLessThan(0.01); // no socket per rudp connection
  expect(tcp.fds).toBeGreaterThan(0.99); // one per TCP connection
  expect(rudp.total).toBeLessThan(tcp.total);
}, 240_000);
