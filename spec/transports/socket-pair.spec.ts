/**
 * Socket pairs (issue #8): `createSocketPair(userA, userB)` — two connected in-process stream
 * sockets with the full contract and no network, for testing apps.
 */
import { createHash } from 'node:crypto';
import { createSocketPair, createTlsSocketProvider, IoMux, ISocket, ShutdownReason, SocketErrorCode, USocket } from '../../lib';
import { pairFixture } from '../conformance/connected-fixtures';
import { runConnectedStreamSuite } from '../conformance/connected-stream-suite';
import { pollUntil } from '../helpers/net-helpers';
import { cleanupAndCheck, guard, RecordingUser } from '../helpers/recording-user';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A guarded pair: API calls made through the returned sockets are checked by the recording users. */
function pair(a: RecordingUser, b: RecordingUser, options = {}): [ISocket, ISocket] {
  const [sa, sb] = createSocketPair(a, b, options);
  a.adopt(sa);
  b.adopt(sb);
  return [guard(sa), guard(sb)];
}

// Both ends of a pair are connected stream sockets: the whole connected-stream suite holds.
runConnectedStreamSuite('socket pair', pairFixture());

afterEach(async () => {
  expect(await cleanupAndCheck()).toEqual([]);
});

describe('createSocketPair', () => {
  it('gives two connected ends: A connects, B is accepted; bytes flow both ways', async () => {
    const a = new RecordingUser('a', { autoRecv: 1024 });
    const b = new RecordingUser('b', { autoRecv: 1024, echo: true });
    const [sa, sb] = pair(a, b);
    expect([sa.type, sa.mode, sb.type, sb.mode]).toEqual(['local', 'client', 'local', 'client']);
    sa.send(Buffer.from('hello, pair'));
    await a.waitForBytes(11);
    expect(a.received().toString()).toBe('hello, pair');
    expect(a.names()[0]).toBe('socketConnectComplete');
    expect(b.names()[0]).toBe('socketAcceptComplete');
    expect(sa.getLocalAddress()).toEqual({ address: '', port: 0 });
    expect(sb.remoteAddress).toBe('');
    expect(sa.stats().bytesSent).toBe(11);
  });

  it('carries 8 MiB intact with the sender paced by socketSendResult and 1..64 KiB partial recvs', async () => {
    const data = Buffer.alloc(8 * MiB);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    const a = new RecordingUser('sender');
    const b = new RecordingUser('receiver', { autoRecv: 64 * KiB });
    let offset = 0;
    const sendNext = (s: ISocket): void => {
      if (offset >= data.length) return;
      const n = Math.min(64 * KiB, data.length - offset);
      s.send(data.subarray(offset, offset + n));
      offset += n;
    };
    a.on('socketConnectComplete', sendNext).on('socketSendResult', sendNext);
    pair(a, b);
    await b.waitForBytes(data.length, undefined, 20_000);
    const digest = (x: Buffer): string => createHash('sha256').update(x).digest('hex');
    expect(digest(b.received())).toBe(digest(data));
  });

  it('holds a fast sender back while the reader does not recv, and loses nothing when it does', async () => {
    const a = new RecordingUser('sender');
    const b = new RecordingUser('idle reader');
    const block = Buffer.alloc(64 * KiB, 0x5a);
    const sendMore = (s: ISocket): void => s.send(block);
    a.on('socketConnectComplete', sendMore).on('socketSendResult', sendMore);
    const [sa, sb] = pair(a, b, { readAheadBytes: 64 * KiB });
    // The sender's results stop once the reader's read-ahead and the pipe's buffer are full.
    await pollUntil(() => a.count('socketSendResult') > 0, 'the first send results');
    let last = -1;
    await pollUntil(() => {
      const now = a.count('socketSendResult');
      const stalled = now === last;
      last = now;
      return stalled && sb.stats().readAheadBytes >= 64 * KiB;
    }, 'the sender to be held back');
    const sentWhileIdle = sa.stats().bytesSent;
    expect(sentWhileIdle).toBeLessThan(2 * MiB);
    a.on('socketSendResult', () => undefined); // stop sending
    const buf = new Uint8Array(64 * KiB);
    let got = 0;
    b.on('socketRecvResult', (s, _b, n: number) => {
      got += n;
      s.recv(buf, buf.byteLength, true);
    });
    sb.recv(buf, buf.byteLength, true);
    await pollUntil(() => sa.stats().queuedSendBytes === 0 && got === sa.stats().bytesSent, 'every byte sent to arrive');
    expect(got).toBeGreaterThanOrEqual(sentWhileIdle);
  });

  it('holds back one large send as well: the idle reader keeps at most its read-ahead and one slice', async () => {
    const a = new RecordingUser('big sender');
    const b = new RecordingUser('idle reader');
    const big = Buffer.alloc(8 * MiB, 0x3c);
    a.on('socketConnectComplete', (s) => s.send(big));
    const [, sb] = pair(a, b, { readAheadBytes: 64 * KiB });
    await pollUntil(() => sb.stats().readAheadBytes >= 64 * KiB, 'the read-ahead to fill');
    // The pipe is full too: nothing moves while the reader does not read.
    const before = sb.stats().bytesReceived;
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(sb.stats().bytesReceived).toBe(before);
    expect(sb.stats().readAheadBytes).toBeLessThanOrEqual(64 * KiB + 64 * KiB);
    expect(a.count('socketSendResult')).toBe(0);
    const buf = new Uint8Array(256 * KiB);
    let got = 0;
    b.on('socketRecvResult', (s, _b, n: number) => {
      got += n;
      if (got < big.length) s.recv(buf, buf.byteLength, true);
    });
    sb.recv(buf, buf.byteLength, true);
    await pollUntil(() => got === big.length && a.count('socketSendResult') === 1, 'all 8 MiB and the send result', 20_000);
  });

  it('two ends that keep each other busy still let timers run', async () => {
    const a = new RecordingUser('sender');
    const b = new RecordingUser('reader', { autoRecv: 64 * KiB });
    const block = Buffer.alloc(16 * KiB);
    let running = true;
    const again = (s: ISocket): void => {
      if (running) s.send(block);
    };
    a.on('socketConnectComplete', again).on('socketSendResult', again);
    pair(a, b);
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, 20);
    await pollUntil(() => fired, 'a timer during the exchange');
    running = false;
    expect(b.receivedLength()).toBeGreaterThan(0);
  });

  it('shutdown(): the other end reads everything, then SOCKET_SHUTDOWN_BY_PEER; a pending recv is cancelled first', async () => {
    const a = new RecordingUser('closer');
    const b = new RecordingUser('reader');
    const [sa, sb] = pair(a, b);
    sa.send(Buffer.from('last words'));
    sa.shutdown();
    const buf = new Uint8Array(100);
    b.on('socketRecvResult', (s) => s.recv(new Uint8Array(100)));
    sb.recv(buf, 10);
    expect(await a.waitForShutdown()).toBe(ShutdownReason.Normal);
    expect(await b.waitForShutdown()).toBe(ShutdownReason.ByPeer);
    expect(b.received().toString()).toBe('last words');
    expect(b.names().slice(-3)).toEqual(['socketRecvResult', 'socketRecvCanceled', 'socketShutdown']);
  });

  it('an end that goes away without a clean close is SOCKET_LOST at the other', async () => {
    const a = new RecordingUser('stuck writer');
    const b = new RecordingUser('never reads');
    const block = Buffer.alloc(256 * KiB);
    const [sa] = pair(a, b, { readAheadBytes: 64 * KiB, shutdownTimeoutMs: 50 });
    for (let i = 0; i < 8; i++) sa.send(block); // more than the reader's side can take
    await pollUntil(() => sa.stats().queuedSendBytes > 0 && a.count('socketConnectComplete') === 1, 'the queue');
    sa.shutdown(); // the flush cannot finish: after shutdownTimeoutMs the end is destroyed
    expect(await a.waitForShutdown()).toBe(ShutdownReason.Normal);
    expect(await b.waitForShutdown()).toBe(ShutdownReason.Lost);
  });

  it('keeps the mode lock and refuses a TLS context', () => {
    const [sa] = createSocketPair(new RecordingUser('x'), new RecordingUser('y'));
    expect(() => sa.connect('127.0.0.1:1')).toThrow(expect.objectContaining({ code: SocketErrorCode.AlreadyConnected }));
    expect(() => sa.bind(null, 0)).toThrow(expect.objectContaining({ code: SocketErrorCode.WrongMode }));
    expect(() => createSocketPair(new RecordingUser('p'), new RecordingUser('q'), { context: createTlsSocketProvider().createSocketContext() })).toThrow(
      TypeError,
    );
    expect(() => createSocketPair(new RecordingUser('p'), {} as USocket)).toThrow(TypeError);
  });

  it('runs on a manual IoMux: callbacks only inside poll()', async () => {
    const iomux = new IoMux({ dispatch: 'manual' });
    const seen: string[] = [];
    let polling = false;
    class Note extends USocket {
      constructor(private readonly label: string) {
        super();
      }
      override socketConnectComplete(s: ISocket): void {
        seen.push(`${this.label} connect ${polling}`);
        s.send(Buffer.from('x'));
      }
      override socketAcceptComplete(s: ISocket): void {
        seen.push(`${this.label} accept ${polling}`);
        s.recv(new Uint8Array(1));
      }
      override socketRecvResult(): void {
        seen.push(`${this.label} recv ${polling}`);
      }
      override socketShutdown(): void {
        seen.push(`${this.label} shutdown ${polling}`);
      }
    }
    createSocketPair(new Note('a'), new Note('b'), { iomux });
    await pollUntil(() => {
      polling = true;
      iomux.poll();
      polling = false;
      return seen.includes('b recv true');
    }, 'the byte to arrive');
    iomux.terminate();
    await pollUntil(() => {
      polling = true;
      iomux.poll();
      polling = false;
      return seen.filter((s) => s.includes('shutdown')).length === 2;
    }, 'both ends to shut down');
    expect(seen.every((s) => s.endsWith('true'))).toBe(true);
    expect(seen.filter((s) => s.includes('shutdown'))).toHaveLength(2);
  });

  it('refuses upgradeToTls clearly (the TLS server side cannot run over an in-process pipe)', async () => {
    const a = new RecordingUser('a');
    const b = new RecordingUser('b');
    const [sa] = pair(a, b);
    await a.waitFor('socketConnectComplete');
    const tls = createTlsSocketProvider();
    expect(() => tls.upgradeToTls(sa, new RecordingUser('tls'))).toThrow(expect.objectContaining({ code: SocketErrorCode.NotSupported }));
    sa.send(Buffer.from('still usable'));
    await a.waitFor('socketSendResult');
  });
});
