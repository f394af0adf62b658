/**
 * Game-loop dispatch (issue #8): an IoMux made with `{ dispatch: 'manual' }` runs its sockets'
 * callbacks only inside `iomux.poll()`, in order, and every contract rule still holds.
 */
import * as dgram from 'node:dgram';
import {
  createMessageSocket,
  createSocketPair,
  createTcpSocketProvider,
  createUdpSocketProvider,
  IMessageSocket,
  IoMux,
  ISocket,
  ShutdownReason,
  SocketErrorCode,
  SocketStateError,
  UMessageSocket,
  USocket,
} from '../lib';
import { closeAllRaw, rawConnect } from './helpers/net-helpers';

/** Set while the test's poll() runs: a callback outside it is a failure. */
let polling = false;
const outside: string[] = [];

function poll(iomux: IoMux, max?: number): number {
  polling = true;
  try {
    return iomux.poll(max);
  } finally {
    polling = false;
  }
}

/** The app's frame loop: one poll per turn of the event loop until `done()`, bounded. */
async function frames(iomux: IoMux, done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
    poll(iomux);
  }
}

/** Waits (bounded) until callbacks are queued, without running them. */
async function queued(iomux: IoMux, n: number): Promise<void> {
  const end = Date.now() + 10_000;
  while (iomux.pendingCallbacks < n) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${n} queued callbacks (have ${iomux.pendingCallbacks})`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Records every callback with the order it came in, and whether it ran inside poll(). */
class Recorder extends USocket {
  readonly seen: string[] = [];
  readonly got: Buffer[] = [];
  reason: ShutdownReason | null = null;
  private readonly buf = new Uint8Array(1024);
  constructor(
    readonly label: string,
    private readonly behave: { echo?: boolean; accept?: () => USocket } = {},
  ) {
    super();
  }
  private note(what: string): void {
    this.seen.push(what);
    if (!polling) outside.push(`${this.label}.${what}`);
  }
  override socketBindResult(s: ISocket): void {
    this.note('bind');
    if (s.type !== 'udp') s.listen();
  }
  override socketListenResult(s: ISocket): void {
    this.note('listen');
    s.accept(this.behave.accept?.() ?? null);
  }
  override socketAcceptComplete(s: ISocket): void {
    this.note('accept');
    s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketConnectComplete(s: ISocket): void {
    this.note('connect');
    s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketRecvResult(s: ISocket, b: Uint8Array, n: number): void {
    this.note('recv');
    this.got.push(Buffer.from(b.subarray(0, n)));
    if (this.behave.echo) s.send(b, n);
    s.recv(this.buf, this.buf.byteLength, true);
  }
  override socketRecvFromResult(s: ISocket, b: Uint8Array, n: number): void {
    this.note('recvfrom');
    this.got.push(Buffer.from(b.subarray(0, n)));
  }
  override socketRecvCanceled(): void {
    this.note('canceled');
  }
  override socketSendResult(): void {
    this.note('sent');
  }
  override socketShutdown(_s: ISocket, reason: ShutdownReason): void {
    this.note(`shutdown:${reason}`);
    this.reason = reason;
  }
}

describe('manual dispatch (IoMux { dispatch: "manual" })', () => {
  const tcp = createTcpSocketProvider();
  let iomux: IoMux;

  beforeEach(() => {
    iomux = new IoMux({ dispatch: 'manual' });
    outside.length = 0;
  });

  afterEach(async () => {
    iomux.terminate();
    await frames(iomux, () => iomux.pendingCallbacks === 0, 'the last callbacks');
    await closeAllRaw();
    expect(outside).toEqual([]);
  });

  it('runs a TCP echo with every callback inside poll(), none while the app does not poll', async () => {
    const served = new Recorder('served', { echo: true });
    const listenerUser = new Recorder('listener', { accept: () => served });
    const listener = tcp.createSocket(listenerUser, { iomux });
    listener.bind('127.0.0.1', 0);
    // The bind completes on the event loop, but its callback waits for the app's poll.
    await queued(iomux, 1);
    expect(listenerUser.seen).toEqual([]);
    expect(poll(iomux)).toBe(1);
    expect(listenerUser.seen).toEqual(['bind']);

    const client = new Recorder('client');
    const sock = tcp.createSocket(client, { iomux });
    sock.connect(`127.0.0.1:${listener.getLocalAddress()!.port}`);
    sock.send(Buffer.from('ping over a manual IoMux'));
    await frames(iomux, () => Buffer.concat(client.got).toString() === 'ping over a manual IoMux', 'the echo');
    expect(client.seen.slice(0, 2)).toEqual(['connect', 'sent']);
    expect(served.seen[0]).toBe('accept');

    sock.shutdown();
    await frames(iomux, () => client.reason !== null && served.reason !== null, 'both ends');
    expect(client.reason).toBe(ShutdownReason.Normal);
    expect(served.reason).toBe(ShutdownReason.ByPeer);
    expect(client.seen[client.seen.length - 1]).toBe(`shutdown:${ShutdownReason.Normal}`);
  });

  it('delivers data from a plain Node peer only on poll, in arrival order', async () => {
    const served = new Recorder('served');
    const listener = tcp.createSocket(new Recorder('listener', { accept: () => served }), { iomux });
    listener.bind('127.0.0.1', 0);
    await frames(iomux, () => listener.getLocalAddress() !== null && listener.getLocalAddress()!.port !== 0, 'the bind');
    const peer = await rawConnect(listener.getLocalAddress()!.port);
    await frames(iomux, () => served.seen.includes('accept'), 'the accept');
    peer.write('one');
    await queued(iomux, 1);
    expect(served.got).toEqual([]);
    poll(iomux);
    peer.write('two');
    await frames(iomux, () => Buffer.concat(served.got).toString() === 'onetwo', 'both writes');
    peer.end();
    await frames(iomux, () => served.reason !== null, 'the end');
    expect(served.reason).toBe(ShutdownReason.ByPeer);
  });

  it('poll(max) runs at most max callbacks and keeps the rest in order', async () => {
    const users = [new Recorder('a'), new Recorder('b'), new Recorder('c')];
    const sockets = users.map((u) => tcp.createSocket(u, { iomux }));
    sockets.forEach((s) => s.bind('127.0.0.1', 0));
    await queued(iomux, 3);
    expect(poll(iomux, 2)).toBe(2);
    expect(users.map((u) => u.seen.length)).toEqual([1, 1, 0]);
    expect(iomux.pendingCallbacks).toBe(1);
    expect(poll(iomux, 5)).toBe(1);
    expect(users.map((u) => u.seen)).toEqual([['bind'], ['bind'], ['bind']]);
    expect(poll(iomux)).toBe(0);
  });

  it('a throwing callback leaves poll() and the callbacks behind it wait for the next poll', async () => {
    class Thrower extends Recorder {
      override socketBindResult(): void {
        super.socketBindResult = () => undefined;
        throw new Error('app bug in socketBindResult');
      }
    }
    const bad = new Thrower('bad');
    const good = new Recorder('good');
    tcp.createSocket(bad, { iomux }).bind('127.0.0.1', 0);
    await queued(iomux, 1);
    tcp.createSocket(good, { iomux }).bind('127.0.0.1', 0);
    await queued(iomux, 2);
    expect(() => poll(iomux)).toThrow('app bug in socketBindResult');
    expect(good.seen).toEqual([]);
    expect(poll(iomux)).toBeGreaterThanOrEqual(1);
    expect(good.seen).toEqual(['bind']);
  });

  it('UDP datagrams wait for poll() too', async () => {
    const udp = createUdpSocketProvider();
    const user = new Recorder('udp');
    const s = udp.createSocket(user, { iomux });
    s.bind('127.0.0.1', 0);
    await frames(iomux, () => user.seen.includes('bind'), 'the bind');
    s.recv(new Uint8Array(64));
    const peer = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => peer.send('datagram', s.getLocalAddress()!.port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      await queued(iomux, 1);
      expect(user.got).toEqual([]);
      poll(iomux);
      expect(user.got.map(String)).toEqual(['datagram']);
    } finally {
      peer.close();
    }
  });

  it('terminate() ends every socket; the shutdowns come on the next poll', async () => {
    const users = [new Recorder('x'), new Recorder('y')];
    users.forEach((u) => tcp.createSocket(u, { iomux }));
    iomux.terminate();
    expect(users.map((u) => u.reason)).toEqual([null, null]);
    poll(iomux);
    expect(users.map((u) => u.reason)).toEqual([ShutdownReason.Normal, ShutdownReason.Normal]);
  });

  it('a message socket over a socket of a manual IoMux posts to that IoMux by itself', async () => {
    const seen: string[] = [];
    let ends = 0;
    class Messages extends UMessageSocket {
      override messageReceived(ms: IMessageSocket, m: Uint8Array): void {
        seen.push(`${Buffer.from(m)} ${polling}`);
        ms.receiveNext();
      }
      messageSocketShutdown(): void {
        ends++;
      }
    }
    class Wrap extends USocket {
      override socketConnectComplete(s: ISocket): void {
        const ms = createMessageSocket(s, new Messages()); // no iomux option
        ms.sendMessage(Buffer.from('one'));
        ms.sendMessage(Buffer.from('two'));
        ms.shutdown();
      }
      override socketAcceptComplete(s: ISocket): void {
        createMessageSocket(s, new Messages()).receiveNext();
      }
      socketShutdown(): void {}
    }
    createSocketPair(new Wrap(), new Wrap(), { iomux });
    await frames(iomux, () => ends === 2, 'both message sockets to end');
    expect(seen).toEqual(['one true', 'two true']);
  });

  it('misuse throws at the call', () => {
    expect(() => new IoMux().poll()).toThrow(expect.objectContaining({ code: SocketErrorCode.IoMuxNotManual }));
    expect(() => iomux.poll(0)).toThrow(RangeError);
    expect(() => iomux.poll(1.5)).toThrow(RangeError);
    expect(() => new IoMux({ dispatch: 'later' as 'manual' })).toThrow(TypeError);
  });

  it('poll() from inside a callback it runs throws ERR_IOMUX_POLL_REENTERED', async () => {
    let inner: unknown = null;
    class Reenter extends Recorder {
      override socketBindResult(): void {
        try {
          iomux.poll();
        } catch (e) {
          inner = e;
        }
      }
    }
    tcp.createSocket(new Reenter('re'), { iomux }).bind('127.0.0.1', 0);
    await queued(iomux, 1);
    poll(iomux);
    expect(inner).toBeInstanceOf(SocketStateError);
    expect((inner as SocketStateError).code).toBe(SocketErrorCode.IoMuxPollReentered);
  });
});
