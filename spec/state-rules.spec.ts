/**
 * Rules about what a throwing call leaves behind and what a shutdown() cancels, checked on
 * TCP sockets with exact interleavings (no timing).
 */
import * as net from 'node:net';

// The module object the library's transport reads `connect` from at call time.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const netModule: typeof net = require('node:net');
import { createTcpSocketProvider, IoMux, ISocket, ShutdownReason, SocketErrorCode } from '../lib';
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
    let client: ISocket | undefined;
    // Our 'connect' listener goes in after the socket's own: it runs right after the socket
    // posted socketConnectComplete and before the dispatcher delivers it.
    netModule.connect = ((...args: Parameters<typeof net.connect>) => {
      const sock = realConnect(...args);
      process.nextTick(() => sock.once('connect', () => client!.shutdown()));
      return sock;
    }) as typeof net.connect;
    const u = new RecordingUser('client');
    client = createTcpSocketProvider().createSocket(u);
    client.connect(`127.0.0.1:${port}`);
    expect(await u.waitForShutdown(client)).toBe(ShutdownReason.Normal);
    expect(u.names(client)).toEqual(['socketShutdown']);
    server.close();
  });
});
