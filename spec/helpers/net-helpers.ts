/**
 * Small helpers for network tests: bounded waits, hashes, random data, raw `net` peers
 * on 127.0.0.1 (port 0) with cleanup, and unique temp paths.
 */
import { createHash, randomBytes as cryptoRandomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';

/** Rejects with "timed out after … waiting for `what`" unless `promise` settles within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The one fixed wait: lets a short while pass so a test can assert that something did
 * NOT happen. Never use it to wait for an outcome. Capped at 300 ms.
 */
export function settle(ms = 200): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, 300)));
}

/** Lets pending I/O callbacks and ticks run once (not a sleep). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Hex SHA-256 of the concatenation of `parts`. */
export function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** `n` random bytes. */
export function randomBytes(n: number): Buffer {
  return cryptoRandomBytes(n);
}

let tempCounter = 0;
/** A unique path under os.tmpdir() that does not exist yet (nothing is created). */
export function tempPath(prefix = 'sp'): string {
  tempCounter++;
  const rnd = cryptoRandomBytes(4).toString('hex');
  return path.join(os.tmpdir(), `${prefix}-${process.pid}-${tempCounter}-${rnd}.sock`);
}

/** Whether the machine has an IPv6 loopback (::1). */
export function hasIpv6Loopback(): boolean {
  return Object.values(os.networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === '::1'));
}

// ---------------------------------------------------------------------------------------
// Collecting what a raw stream receives
// ---------------------------------------------------------------------------------------

/** Collects everything a raw stream receives and lets a test wait for it, bounded. */
export class StreamCollector {
  private readonly chunks: Buffer[] = [];
  private length = 0;
  ended = false;
  closed = false;
  error: Error | null = null;
  private readonly waits = new Set<() => void>();

  constructor(readonly stream: Duplex) {
    stream.on('data', (d: Buffer) => {
      this.chunks.push(Buffer.from(d));
      this.length += d.length;
      this.poke();
    });
    stream.on('end', () => {
      this.ended = true;
      this.poke();
    });
    stream.on('close', () => {
      this.closed = true;
      this.poke();
    });
    stream.on('error', (e: Error) => {
      this.error = e;
      this.poke();
    });
  }

  get size(): number {
    return this.length;
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  private poke(): void {
    for (const w of [...this.waits]) w();
  }

  /** Resolves once `check()` holds (re-checked on every stream event). */
  until(check: () => boolean, what: string, ms = 10000): Promise<void> {
    if (check()) return Promise.resolve();
    let w: () => void = () => undefined;
    const p = new Promise<void>((resolve) => {
      w = () => {
        if (check()) {
          this.waits.delete(w);
          resolve();
        }
      };
      this.waits.add(w);
    });
    return withTimeout(p, ms, `${what} (raw peer has ${this.length} bytes, ended=${this.ended}, closed=${this.closed})`).finally(() => this.waits.delete(w));
  }

  waitForBytes(n: number, ms = 10000): Promise<void> {
    return this.until(() => this.length >= n, `${n} bytes on the raw peer`, ms);
  }

  waitForEnd(ms = 10000): Promise<void> {
    return this.until(() => this.ended || this.closed, 'the raw peer to see end of stream', ms);
  }

  waitForClose(ms = 10000): Promise<void> {
    return this.until(() => this.closed, 'the raw peer to close', ms);
  }
}

// ---------------------------------------------------------------------------------------
// Raw net peers with cleanup
// ---------------------------------------------------------------------------------------

const rawServers = new Set<net.Server>();
const rawSockets = new Set<net.Socket>();

function track(sock: net.Socket): net.Socket {
  rawSockets.add(sock);
  sock.on('error', () => undefined); // errors are asserted through StreamCollector
  sock.on('close', () => rawSockets.delete(sock));
  return sock;
}

export interface RawServer {
  server: net.Server;
  host: string;
  port: number;
  /** Accepted connections, in order. */
  connections: net.Socket[];
  /** The n-th accepted connection (0-based), waiting for it (bounded). */
  connection(n?: number, ms?: number): Promise<net.Socket>;
  close(): Promise<void>;
}

/** A raw net server on `host`:0; `onConnection` runs for each accepted socket. */
export async function rawServer(
  onConnection: (sock: net.Socket) => void = () => undefined,
  host = '127.0.0.1',
  options: net.ServerOpts = {},
): Promise<RawServer> {
  const connections: net.Socket[] = [];
  const waits = new Set<() => void>();
  const server = net.createServer(options, (sock) => {
    track(sock);
    connections.push(sock);
    onConnection(sock);
    for (const w of [...waits]) w();
  });
  rawServers.add(server);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    }),
    10000,
    'a raw server to listen',
  );
  const port = (server.address() as net.AddressInfo).port;
  return {
    server,
    host,
    port,
    connections,
    connection(n = 0, ms = 10000) {
      if (connections[n]) return Promise.resolve(connections[n]);
      let w: () => void = () => undefined;
      const p = new Promise<net.Socket>((resolve) => {
        w = () => {
          if (connections[n]) resolve(connections[n]);
        };
        waits.add(w);
      });
      return withTimeout(p, ms, `raw connection #${n}`).finally(() => waits.delete(w));
    },
    close() {
      return closeRawServer(server, connections);
    },
  };
}

async function closeRawServer(server: net.Server, connections: net.Socket[]): Promise<void> {
  for (const c of connections) c.destroy();
  if (!rawServers.has(server)) return;
  rawServers.delete(server);
  if (!server.listening) return;
  await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 10000, 'a raw server to close');
}

/** A raw echo server: writes back everything it reads; ends when the peer ends. */
export function rawEchoServer(host = '127.0.0.1'): Promise<RawServer> {
  return rawServer((sock) => sock.pipe(sock), host);
}

/** A raw sink: reads and collects everything (see `collectors`). */
export async function rawSinkServer(host = '127.0.0.1'): Promise<RawServer & { collectors: StreamCollector[] }> {
  const collectors: StreamCollector[] = [];
  const srv = await rawServer((sock) => collectors.push(new StreamCollector(sock)), host, { allowHalfOpen: true });
  return Object.assign(srv, { collectors });
}

/** A raw source: writes `data` to each connection (in `chunk`-sized writes), then ends it. */
export function rawSourceServer(data: Uint8Array, chunk = data.byteLength, host = '127.0.0.1'): Promise<RawServer> {
  return rawServer((sock) => {
    for (let off = 0; off < data.byteLength; off += chunk) {
      sock.write(Buffer.from(data.subarray(off, Math.min(off + chunk, data.byteLength))));
    }
    sock.end();
  }, host);
}

/** A raw client connected to host:port (resolves once connected). */
export async function rawConnect(port: number, host = '127.0.0.1'): Promise<net.Socket> {
  const sock = track(net.connect({ port, host, allowHalfOpen: true }));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', reject);
    }),
    10000,
    `a raw connect to ${host}:${port}`,
  );
  return sock;
}

/** Writes `data` one byte per write, letting I/O run between the writes. */
export async function writeBytewise(stream: Duplex, data: Uint8Array): Promise<void> {
  for (let i = 0; i < data.byteLength; i++) {
    await withTimeout(
      new Promise<void>((resolve, reject) => stream.write(Buffer.from([data[i]]), (err) => (err ? reject(err) : resolve()))),
      10000,
      `raw write of byte ${i}`,
    );
    await nextTurn();
  }
}

/** A port that nobody listens on: a raw server's port, taken and closed again. */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const srv = await rawServer(() => undefined, host);
  const port = srv.port;
  await srv.close();
  return port;
}

/** Destroys every raw socket and closes every raw server made by these helpers. */
export async function closeAllRaw(): Promise<void> {
  for (const s of [...rawSockets]) s.destroy();
  rawSockets.clear();
  for (const server of [...rawServers]) await closeRawServer(server, []);
}

/**
 * For facts no callback announces (bytes arriving into a read-ahead): checks `check` every
 * 5 ms until it holds, bounded by `timeoutMs`.
 */
export async function pollUntil(check: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
