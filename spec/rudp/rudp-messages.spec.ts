/**
 * Message sockets over rudp (issue #20): `createMessageSocket(conn, user)` carries whole
 * messages up to 512 KiB by default with `sendMessage(message, { reliable, lane })`; the options
 * are checked on every transport and ignored where they mean nothing (a socket pair, TCP and UDP here).
 */
import {
  createRudpSocketProvider,
  createSocketPair,
  createTcpSocketProvider,
  createUdpSocketProvider,
  ISocket,
  ShutdownReason,
  SocketOptions,
  USocket,
} from '../../lib';
import { IMessageSocket } from '../../lib/messages';
import { withTimeout } from '../helpers/net-helpers';
import { cleanupMessages, MessageRecorder, WAIT, wrap } from '../messages/message-harness';
import { readTag, tagged, thrownName } from './tags';

afterEach(async () => {
  expect(await cleanupMessages()).toEqual([]);
});

const provider = createRudpSocketProvider();

/** Hands over the socket once connected or accepted. */
class Holder extends USocket {
  private resolve: (s: ISocket) => void = () => undefined;
  private readonly up = new Promise<ISocket>((r) => (this.resolve = r));
  get ready(): Promise<ISocket> {
    return withTimeout(this.up, WAIT, 'a rudp socket to be up');
  }
  override socketConnectComplete(s: ISocket): void {
    this.resolve(s);
  }
  override socketAcceptComplete(s: ISocket): void {
    this.resolve(s);
  }
  socketShutdown(): void {}
}

/** Offers every peer to `accepted`, and tells its port once bound. */
class ListenerUser extends USocket {
  private resolve: (port: number) => void = () => undefined;
  readonly port = new Promise<number>((r) => (this.resolve = r));
  constructor(private readonly accepted: Holder) {
    super();
  }
  override socketBindResult(_s: ISocket, _a: string, port: number): void {
    this.resolve(port);
  }
  override socketListenResult(s: ISocket): void {
    s.accept(this.accepted);
  }
  socketShutdown(): void {}
}

/** A listener and a client connected to it; both ends' sockets, and the listener to shut down. */
async function rudpPair(options: SocketOptions): Promise<{ client: ISocket; server: ISocket; listener: ISocket }> {
  const accepted = new Holder();
  const lu = new ListenerUser(accepted);
  const listener = provider.createSocket(lu, options);
  listener.bind('127.0.0.1', 0);
  listener.listen();
  const port = await withTimeout(lu.port, WAIT, 'the listener to be bound');
  const connected = new Holder();
  provider.createSocket(connected, options).connect(`127.0.0.1:${port}`);
  return { client: await connected.ready, server: await accepted.ready, listener };
}

const LANES = [
  { priority: 0, weight: 1 },
  { priority: 1, weight: 1 },
];

describe('message sockets over rudp', () => {
  it('carries reliable and unreliable messages on lanes, 0 B to 512 KiB, with one messageSendResult each, in order', async () => {
    const { client, server, listener } = await rudpPair({ lanes: LANES });
    const c = new MessageRecorder('client');
    const s = new MessageRecorder('server', { autoReceive: true });
    const mc = wrap(client, c);
    const msrv = wrap(server, s);
    expect([mc.framing, mc.maxMessageSize]).toEqual(['datagram', 512 * 1024]);
    const sent: { tag: Buffer | null; reliable: boolean; lane: number }[] = [];
    const send = (m: Buffer, reliable: boolean, lane: number): void => {
      mc.sendMessage(m, { reliable, lane });
      sent.push({ tag: m.byteLength > 0 ? m : null, reliable, lane });
    };
    send(Buffer.alloc(0), false, 1);
    send(Buffer.alloc(0), true, 0);
    send(tagged(0, 0, 512 * 1024), true, 0);
    for (let i = 1; i < 30; i++) {
      send(tagged(1, i, 100 + i * 50), true, 1);
      send(tagged(1, 1000 + i, 700, false), false, 1);
      send(tagged(0, i, 3000 + i), true, 0);
    }
    mc.sendMessage(Buffer.from('default: reliable, lane 0'));
    await c.waitForSendResults(sent.length + 1);
    const reliableCount = sent.filter((m) => m.reliable).length + 1;
    await s.waitForMessages(reliableCount);
    const got = s.messages();
    const tags = got.filter((m) => m.byteLength >= 6 && m[0] <= 1).map(readTag);
    for (const lane of [0, 1]) {
      const expected = sent.filter((m) => m.reliable && m.lane === lane && m.tag).map((m) => readTag(m.tag!).index);
      expect(tags.filter((t) => t.reliable && t.lane === lane).map((t) => t.index)).toEqual(expected);
    }
    const unreliable = tags.filter((t) => !t.reliable).map((t) => t.index);
    expect(new Set(unreliable).size).toBe(unreliable.length);
    expect(got.filter((m) => m.byteLength === 0).length).toBeGreaterThanOrEqual(1); // the reliable empty one
    expect(got.some((m) => m.toString() === 'default: reliable, lane 0')).toBe(true);
    expect(mc.messagesSent).toBe(sent.length + 1);
    mc.shutdown();
    expect(await c.waitForShutdown()).toBe(ShutdownReason.Normal);
    expect(await s.waitForShutdown()).toBe(ShutdownReason.ByPeer);
    expect(msrv.messagesReceived).toBe(got.length);
    listener.shutdown();
  });

  it('throws for a bad lane, bad options or a message over maxMessageSize, and counts nothing for them', async () => {
    const { client, server, listener } = await rudpPair({ lanes: LANES });
    const c = new MessageRecorder('client');
    const mc: IMessageSocket = wrap(client, c);
    const m = Buffer.from('x');
    expect(thrownName(() => mc.sendMessage(m, { lane: 2 }))).toBe('RangeError');
    expect(thrownName(() => mc.sendMessage(m, { lane: -1 }))).toBe('RangeError');
    expect(thrownName(() => mc.sendMessage(m, { reliable: 'yes' } as never))).toBe('TypeError');
    expect(thrownName(() => mc.sendMessage(m, 'fast' as never))).toBe('TypeError');
    expect(thrownName(() => mc.sendMessage(Buffer.alloc(512 * 1024 + 1)))).toBe('RangeError');
    expect(mc.messagesSent).toBe(0);
    mc.sendMessage(m, { lane: 1, reliable: false });
    await c.waitForSendResults(1);
    mc.shutdown();
    // After shutdown a bad lane still throws: the checks hold in every state.
    expect(thrownName(() => mc.sendMessage(m, { lane: 2 }))).toBe('RangeError');
    expect(await c.waitForShutdown()).toBe(ShutdownReason.Normal);
    // The accepted socket never read the unreliable message, so it holds BY_PEER for it (as a
    // TCP socket holds its end for unread bytes): its app ends it, which releases the port.
    server.shutdown();
    listener.shutdown();
  });

  it('on other transports the options are checked and ignored (a socket pair: every message reliable, in order)', async () => {
    const a = new Holder();
    const b = new Holder();
    createSocketPair(a, b);
    const ca = new MessageRecorder('a');
    const cb = new MessageRecorder('b', { autoReceive: true });
    const ma = wrap(await a.ready, ca);
    wrap(await b.ready, cb);
    ma.sendMessage(Buffer.from('one'), { reliable: false, lane: 7 });
    ma.sendMessage(Buffer.from('two'), { lane: 0 });
    ma.sendMessage(Buffer.alloc(0), { reliable: true });
    expect(thrownName(() => ma.sendMessage(Buffer.from('x'), { lane: 1.5 }))).toBe('RangeError');
    expect(thrownName(() => ma.sendMessage(Buffer.from('x'), { reliable: 0 } as never))).toBe('TypeError');
    await cb.waitForMessages(3);
    expect(cb.messages().map((m) => m.toString())).toEqual(['one', 'two', '']);
    await ca.waitForSendResults(3);
    ma.shutdown();
    expect(await cb.waitForShutdown()).toBe(ShutdownReason.ByPeer);
  });

  it.each([
    ['TCP', createTcpSocketProvider],
    ['UDP', createUdpSocketProvider],
  ] as const)(
    'over %s the options are checked and ignored: every message arrives as sent (a stream: reliable, in order; UDP: one datagram each)',
    async (name, make) => {
      const p = make();
      const accepted = new Holder();
      const lu = new ListenerUser(accepted);
      const listener = p.createSocket(lu);
      listener.bind('127.0.0.1', 0);
      listener.listen();
      const port = await withTimeout(lu.port, WAIT, 'the listener to be bound');
      const connected = new Holder();
      p.createSocket(connected).connect(`127.0.0.1:${port}`);
      const ca = new MessageRecorder('client');
      const ma = wrap(await connected.ready, ca);
      ma.sendMessage(Buffer.from('one'), { reliable: false, lane: 7 }); // a UDP listener offers the peer on its first datagram
      const cb = new MessageRecorder('server', { autoReceive: true });
      const mb = wrap(await accepted.ready, cb);
      ma.sendMessage(Buffer.from('two'), { lane: 0 });
      ma.sendMessage(Buffer.from('three'), { reliable: true, lane: 3 });
      expect(thrownName(() => ma.sendMessage(Buffer.from('x'), { lane: -1 }))).toBe('RangeError');
      expect(thrownName(() => ma.sendMessage(Buffer.from('x'), { reliable: 'yes' } as never))).toBe('TypeError');
      await cb.waitForMessages(3);
      expect(cb.messages().map((m) => m.toString())).toEqual(['one', 'two', 'three']);
      await ca.waitForSendResults(3);
      expect(ma.messagesSent).toBe(3);
      ma.shutdown();
      if (name === 'TCP') expect(await cb.waitForShutdown()).toBe(ShutdownReason.ByPeer);
      else mb.shutdown(); // UDP has no end to tell the peer of
      listener.shutdown();
    },
  );
});
