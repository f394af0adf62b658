/**
 * Rules about what a throwing call leaves behind and what a shutdown() cancels, checked on
 * TCP sockets with exact interleavings (no timing).
 */
import * as net from 'node:net';
// The module object itself (a default import of a CommonJS module), from which the library's
// transport reads `connect` at call time; `net` above is a read-only copy of its bindings.
import netModule from 'node:net';
import { createTcpSocketProvider, IoMux, ISocket, ShutdownReason, SocketErrorCode, USocket } from '../lib';
import { closeAllRaw, pollUntil, rawConnect, settle, withTimeout } from './helpers/net-helpers';
import { cleanupAndCheck, RecordingUser } from './helpers/recording-user';
import { tcpFixture } from './helpers/tcp-fixture';
import { StreamHarness, thrown } from './helpers/stream-harness';

describe('a call that throws changes nothing', () => {
  let h: StreamHarness;
  beforeEach(() => (h = new StreamHarness(tcpFixture)));
  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await h.cleanup();
    expect(violations).toEqual([]);
  });

  it('bind() with a bad port leaves the socket mode-less, and a good bind() then works', async () => {
    const u = new RecordingUser('listener');
    const s = h.socket(u);
    expect(thrown(() => s.bind(null, 70000))).toBe('RangeError');
    expect(thrown(() => s.bind('127.0.0.1', '80' as unknown as number))).toBe('TypeError');
    expect(thrown(() => s.bind('127.0.0.1', 0, 'yes' as unknown as boolean))).toBe('TypeError');
    expect(s.mode).toBe('none');
    s.bind('127.0.0.1', 0);
    expect(s.mode).toBe('server');
    await u.waitFor('socketBindResult', 1, 10000, s);
  });

  it('connect() with a non-string address leaves the socket mode-less', async () => {
    const srv = await h.listen({ conn: () => new RecordingUser('conn', { autoRecv: 1024 }) });
    const u = new RecordingUser('client');
    const s = h.socket(u);
    expect(thrown(() => s.connect(42 as unknown as string))).toBe('TypeError');
    expect(s.mode).toBe('none');
    s.connect(srv.address);
    await u.waitFor('socketConnectComplete', 1, 10000, s);
  });

  it('createSocket with a bad option throws and leaves no socket on the IoMux', async () => {
    const iomux = new IoMux();
    const provider = createTcpSocketProvider();
    const good = new RecordingUser('good');
    const s = provider.createSocket(good, { iomux });
    expect(thrown(() => provider.createSocket(new RecordingUser('bad'), { iomux, readAheadBytes: 0 }))).toBe('RangeError');
    expect(thrown(() => provider.createSocket(new RecordingUser('bad'), { iomux, backlog: -1 }))).toBe('RangeError');
    expect(thrown(() => provider.createSocket(new RecordingUser('bad'), { iomux, connectTimeoutMs: 1.5 }))).toBe('RangeError');
    expect(() => iomux.terminate()).not.toThrow();
    expect(await good.waitForShutdown(s)).toBe(ShutdownReason.Normal);
    expect(thrown(() => provider.createSocket(new RecordingUser('late'), { iomux }))).toBe(`SocketStateError:${SocketErrorCode.IoMuxTerminated}`);
  });
});

describe('shutdown() cancels a completion already queued', () => {
  const realConnect = netModule.connect;
  afterEach(async () => {
    netModule.connect = realConnect;
    expect(await cleanupAndCheck()).toEqual([]);
  });

  it('no socketConnectComplete after shutdown(), even when the connect was posted before it', async () => {
    const server = net.createServer((c) => c.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const provider = createTcpSocketProvider();
    let client: ISocket | undefined;
    // A completion with nothing queued before it is delivered at once from Node's 'connect'
    // (direct delivery); with a callback of another socket queued first it is posted. So:
    // first in line, a listener that makes another socket post its end; then the socket's own
    // listener posts socketConnectComplete; then ours calls shutdown() before the delivery.
    const spareUser = new RecordingUser('spare');
    const spare = provider.createSocket(spareUser);
    netModule.connect = ((...args: Parameters<typeof net.connect>) => {
      const sock = realConnect(...args);
      sock.prependListener('connect', () => spare.shutdown());
      process.nextTick(() => sock.once('connect', () => client!.shutdown()));
      return sock;
    }) as typeof net.connect;
    try {
      const u = new RecordingUser('client');
      client = provider.createSocket(u);
      client.connect(`127.0.0.1:${port}`);
      expect(await u.waitForShutdown(client)).toBe(ShutdownReason.Normal);
      expect(u.names(client)).toEqual(['socketShutdown']);
      expect(await spareUser.waitForShutdown(spare)).toBe(ShutdownReason.Normal);
    } finally {
      server.close();
    }
  });

  it("a completion delivered at once from Node's connect event still comes before what shutdown() then reports", async () => {
    const server = net.createServer((c) => c.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    let client: ISocket | undefined;
    netModule.connect = ((...args: Parameters<typeof net.connect>) => {
      const sock = realConnect(...args);
      process.nextTick(() => sock.once('connect', () => client!.shutdown()));
      return sock;
    }) as typeof net.connect;
    try {
      const u = new RecordingUser('client');
      client = createTcpSocketProvider().createSocket(u);
      client.connect(`127.0.0.1:${port}`);
      expect(await u.waitForShutdown(client)).toBe(ShutdownReason.Normal);
      expect(u.names(client)).toEqual(['socketConnectComplete', 'socketShutdown']);
    } finally {
      server.close();
    }
  });
});

describe('the end of a connection, exactly', () => {
  let h: StreamHarness;
  beforeEach(() => (h = new StreamHarness(tcpFixture)));
  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await h.cleanup();
    await closeAllRaw();
    expect(violations).toEqual([]);
  });

  /** A user that asks for the next bytes from every socketRecvResult, as apps do. */
  class Looping extends RecordingUser {
    readonly seen: string[] = [];
    readonly ended = deferred<void>();
    private readonly buf = new Uint8Array(100);
    override socketAcceptComplete(s: ISocket): void {
      super.socketAcceptComplete(s);
      s.recv(this.buf);
    }
    override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
      super.socketRecvResult(s, b, n);
      this.seen.push(`result:${Buffer.from(b.subarray(0, n)).toString()}`);
      s.recv(this.buf);
    }
    override socketRecvCanceled(s: ISocket, b: Uint8Array): void {
      super.socketRecvCanceled(s, b);
      this.seen.push('canceled');
    }
    override socketShutdown(s: ISocket, reason: ShutdownReason): void {
      super.socketShutdown(s, reason);
      this.seen.push(`shutdown:${reason}`);
      this.ended.resolve();
    }
  }

  it('a recv made from the last socketRecvResult is cancelled before BY_PEER, never lost', async () => {
    const looping = new Looping('looping');
    const srv = await h.listen({ conn: () => looping });
    const raw = await rawConnect(srv.port);
    raw.end('hello');
    await withTimeout(looping.ended.promise, 10000, 'the accepted socket to end');
    expect(looping.seen).toEqual(['result:hello', 'canceled', `shutdown:${ShutdownReason.ByPeer}`]);
  });

  it('a send that fails after the peer closed cleanly still delivers what arrived, then BY_PEER', async () => {
    const u = new RecordingUser('conn');
    const srv = await h.listen({ conn: () => u });
    const raw = await rawConnect(srv.port);
    const { socket: conn } = await srv.accepted(0);
    // The peer sends, closes its side and goes away completely: our sends then hit a reset.
    await new Promise<void>((resolve) => raw.end('hello', resolve));
    raw.destroy();
    await pollUntil(() => conn.bytesReceived === 5, 'the 5 bytes to arrive');
    for (let i = 0; i < 20; i++) conn.send(Buffer.alloc(64 * 1024, 1));
    await settle(200); // let the reset arrive while nothing reads
    const b = new Uint8Array(5);
    conn.recv(b);
    expect(await u.waitForShutdown(conn)).toBe(ShutdownReason.ByPeer);
    expect(Buffer.from(b).toString()).toBe('hello');
    expect(u.names(conn).filter((n) => n !== 'socketSendResult')).toEqual(['socketAcceptComplete', 'socketRecvResult', 'socketShutdown']);
  });
});

describe('a listener that was shut down accepts nothing', () => {
  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await closeAllRaw();
    expect(violations).toEqual([]);
  });

  async function offerOne(inListenResult: (listener: ISocket) => void, iomux?: IoMux): Promise<net.Socket> {
    const provider = createTcpSocketProvider();
    const bound = deferred<number>();
    const offered = deferred<void>();
    const listener = provider.createSocket(
      {
        socketBindResult: (_s: ISocket, _a: string, port: number) => bound.resolve(port),
        socketListenResult: (s: ISocket) => {
          try {
            inListenResult(s);
          } finally {
            offered.resolve();
          }
        },
        socketShutdown: () => undefined,
      } as unknown as USocket,
      { iomux },
    );
    listener.bind('127.0.0.1', 0);
    listener.listen();
    const raw = await rawConnect(await withTimeout(bound.promise, 10000, 'bind'));
    await withTimeout(offered.promise, 10000, 'socketListenResult');
    return raw;
  }

  // The raw peer is half-open capable: the server's close shows as its end of stream.
  const closedByServer = (raw: net.Socket): Promise<void> =>
    withTimeout(
      new Promise<void>((resolve) => (raw.readableEnded ? resolve() : raw.once('end', () => resolve()))),
      10000,
      'the server to close the connection',
    );

  it('accept() after shutdown() in the same socketListenResult denies the connection', async () => {
    const u = new RecordingUser('would-be');
    let count = -1;
    const raw = await offerOne((l) => {
      l.shutdown();
      l.accept(u);
      count = l.connectionCount;
    });
    raw.resume();
    await closedByServer(raw);
    expect(count).toBe(0);
    expect(u.events).toHaveLength(0);
  });

  it('accept() that throws (terminated IoMux) leaves no connection behind', async () => {
    const iomux = new IoMux();
    let threw = '';
    const raw = await offerOne((l) => {
      iomux.terminate();
      threw = thrown(() => l.accept(new RecordingUser('never')));
    }, iomux);
    raw.resume();
    await closedByServer(raw);
    expect(threw).toBe('none'); // the listener was shut down by terminate(): a deny, not an error
  });

  it('listen() after a bind() that failed at once is ignored; the reason comes by callback', async () => {
    const u = new RecordingUser('listener');
    const s = createTcpSocketProvider().createSocket(u);
    s.bind('bad host!!', 0);
    expect(thrown(() => s.listen())).toBe('none');
    expect(await u.waitForShutdown(s)).toBe(ShutdownReason.AddressInvalid);
  });
});

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
