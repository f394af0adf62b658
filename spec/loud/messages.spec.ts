/**
 * Issue #18, message sockets: a wrapped socket is owned (its own send/recv/setUser throw
 * ERR_SOCKET_OWNED, and so does a second wrap); `autoReceive` delivers every message without
 * receiveNext() and keeps the read-ahead bound; data left unread with no receiveNext() pending
 * for `unreadWarningMs` is warned about, once per message socket (log) and once per process.
 * Every wait bounded; no timing assertion.
 */
import {
  createMessageSocket,
  createSocketPair,
  createTcpSocketProvider,
  IMessageSocket,
  IoMux,
  ISocket,
  ShutdownReason,
  SocketErrorCode,
  UMessageSocket,
  USocket,
} from '../../lib';
import { closeAllRaw, pollUntil, rawServer, settle } from '../helpers/net-helpers';
import { deferred, LinesLog, spyWarnings } from './helpers';

class Plain extends USocket {
  socketShutdown(): void {}
}

class Recorder extends UMessageSocket {
  readonly messages: string[] = [];
  readonly ended = deferred<ShutdownReason>();
  override messageReceived(ms: IMessageSocket, message: Uint8Array): void {
    this.messages.push(Buffer.from(message).toString());
  }
  messageSocketShutdown(ms: IMessageSocket, reason: ShutdownReason): void {
    this.ended.resolve(reason);
  }
}

const open: Array<ISocket | IMessageSocket> = [];
afterEach(async () => {
  for (const s of open.splice(0)) s.shutdown();
  await closeAllRaw();
});

function pair(): [ISocket, ISocket] {
  const ends = createSocketPair(new Plain(), new Plain());
  open.push(...ends);
  return ends;
}

const owned = expect.objectContaining({ name: 'SocketStateError', code: SocketErrorCode.Owned });

describe('a wrapped socket is owned by its message socket', () => {
  it('direct send, sendTo, recv, recvCancel and setUser throw ERR_SOCKET_OWNED; the message socket works', async () => {
    const [a, b] = pair();
    const ma = createMessageSocket(a, new Recorder());
    const rb = new Recorder();
    const mb = createMessageSocket(b, rb);
    open.push(ma, mb);
    expect(() => a.send(new Uint8Array(1))).toThrow(owned);
    expect(() => a.sendTo(new Uint8Array(1), 1, '127.0.0.1', 9)).toThrow(owned);
    expect(() => a.recv(new Uint8Array(1))).toThrow(owned);
    expect(() => a.recvCancel()).toThrow(owned);
    expect(() => a.setUser(new Plain())).toThrow(owned);
    expect(() => a.send(new Uint8Array(1))).toThrow(/owned by a message socket \(createMessageSocket\)/);
    ma.sendMessage(Buffer.from('still works'));
    mb.receiveNext();
    await pollUntil(() => rb.messages.length === 1, 'the message');
    expect(rb.messages).toEqual(['still works']);
  });

  it('a second createMessageSocket throws ERR_SOCKET_OWNED', () => {
    const [a] = pair();
    open.push(createMessageSocket(a, new Recorder()));
    expect(() => createMessageSocket(a, new Recorder())).toThrow(owned);
  });

  it('a createMessageSocket that throws (bad options) leaves the socket unclaimed', () => {
    const [a] = pair();
    expect(() => createMessageSocket(a, new Recorder(), { maxMessageSize: 0 })).toThrow(RangeError);
    expect(() => createMessageSocket(a, new Recorder(), { unreadWarningMs: -1 })).toThrow(RangeError);
    expect(() => createMessageSocket(a, new Recorder(), { autoReceive: 'yes' as unknown as boolean })).toThrow(TypeError);
    const ms = createMessageSocket(a, new Recorder());
    open.push(ms);
    expect(ms.socket).toBe(a);
  });

  it("the socket's shutdown() stays open and ends the message socket", async () => {
    const [a] = pair();
    const r = new Recorder();
    createMessageSocket(a, r);
    a.shutdown();
    expect(await r.ended.wait('the end')).toBe(ShutdownReason.Normal);
  });
});

describe('autoReceive', () => {
  it('delivers every message as it arrives, in order, without receiveNext (which does nothing)', async () => {
    const [a, b] = pair();
    const ma = createMessageSocket(a, new Recorder());
    const rb = new Recorder();
    const mb = createMessageSocket(b, rb, { autoReceive: true });
    open.push(ma, mb);
    mb.receiveNext(); // ignored, no throw
    mb.receiveNext();
    for (let i = 0; i < 50; i++) ma.sendMessage(Buffer.from(`m${i}`));
    await pollUntil(() => rb.messages.length === 50, '50 messages');
    expect(rb.messages).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
    ma.shutdown();
    expect(await rb.ended.wait('the end')).toBe(ShutdownReason.ByPeer);
  });

  it('a handler that throws does not stop the next delivery (manual IoMux: the error leaves poll())', async () => {
    const iomux = new IoMux({ dispatch: 'manual' });
    const [a, b] = createSocketPair(new Plain(), new Plain(), { iomux });
    const ma = createMessageSocket(a, new Recorder());
    const seen: string[] = [];
    const errors: string[] = [];
    class Thrower extends Recorder {
      override messageReceived(ms: IMessageSocket, message: Uint8Array): void {
        seen.push(Buffer.from(message).toString());
        if (seen.length === 1) throw new Error('handler failed');
      }
    }
    const mb = createMessageSocket(b, new Thrower(), { autoReceive: true });
    ma.sendMessage(Buffer.from('one'));
    ma.sendMessage(Buffer.from('two'));
    const poll = (): void => {
      try {
        iomux.poll();
      } catch (e) {
        errors.push((e as Error).message);
      }
    };
    await pollUntil(() => (poll(), seen.length === 2), 'both messages');
    expect(seen).toEqual(['one', 'two']);
    expect(errors).toEqual(['handler failed']);
    ma.shutdown();
    mb.shutdown();
    iomux.terminate();
    poll();
  });

  it('keeps the read-ahead bound: while the app does not run its handlers, the socket stops reading', async () => {
    const COUNT = 200;
    const SIZE = 16 * 1024;
    const frames = Buffer.alloc(COUNT * (SIZE + 4));
    for (let i = 0; i < COUNT; i++) {
      frames.writeUInt32BE(SIZE, i * (SIZE + 4));
      frames.fill(i % 256, i * (SIZE + 4) + 4, (i + 1) * (SIZE + 4));
    }
    const server = await rawServer((sock) => sock.write(frames));
    const iomux = new IoMux({ dispatch: 'manual' });
    const got: number[] = [];
    let connected = false;
    class Client extends USocket {
      override socketConnectComplete(): void {
        connected = true;
      }
      socketShutdown(): void {}
    }
    class Counter extends UMessageSocket {
      override messageReceived(ms: IMessageSocket, message: Uint8Array): void {
        got.push(message[0]);
      }
      messageSocketShutdown(): void {}
    }
    const socket = createTcpSocketProvider().createSocket(new Client(), { iomux, readAheadBytes: 64 * 1024 });
    socket.connect(`127.0.0.1:${server.port}`);
    await pollUntil(() => (iomux.poll(), connected), 'connected');
    const ms = createMessageSocket(socket, new Counter(), { autoReceive: true });
    open.push(ms);
    await pollUntil(() => (iomux.poll(), got.length >= 1), 'a first message');
    // The app stops running callbacks (no poll()): the socket reads at most its read-ahead more.
    await settle(300);
    const st = socket.stats();
    expect(st.readAheadBytes).toBeLessThanOrEqual(64 * 1024 + 64 * 1024);
    expect(st.bytesReceived).toBeLessThan(frames.byteLength);
    await pollUntil(() => (iomux.poll(), got.length === COUNT), `${COUNT} messages`, 20000);
    expect(got).toEqual(Array.from({ length: COUNT }, (_, i) => i % 256));
    ms.shutdown();
    iomux.terminate();
    iomux.poll();
  });
});

describe('unreadWarningMs', () => {
  it('data waiting with no receiveNext() pending is warned about once, with the fix; once per process', async () => {
    const warnings = spyWarnings();
    try {
      const [a, b] = pair();
      const [c, d] = pair();
      const log = new LinesLog();
      const ma = createMessageSocket(a, new Recorder());
      const mb = createMessageSocket(b, new Recorder(), { unreadWarningMs: 50, log });
      const mc = createMessageSocket(c, new Recorder());
      const md = createMessageSocket(d, new Recorder(), { unreadWarningMs: 50, log });
      open.push(ma, mb, mc, md);
      ma.sendMessage(Buffer.from('nobody asks for me'));
      mc.sendMessage(Buffer.from('nor for me'));
      await pollUntil(() => log.having('waited unread').length === 2, 'a log line from each message socket');
      const line = log.having('waited unread')[0];
      expect(line).toContain('no receiveNext() is pending');
      expect(line).toContain('Call ms.receiveNext() from messageReceived');
      expect(line).toContain('{ autoReceive: true }');
      const process1 = warnings.calls.filter((w) => w.code === 'SOCKET_PROVIDER_UNREAD_MESSAGE');
      expect(process1).toHaveLength(1);
      expect(process1[0].text).toContain('autoReceive');
      await settle(200);
      expect(log.having('waited unread')).toHaveLength(2); // once per message socket
    } finally {
      warnings.restore();
    }
  });

  it('is not given while a receiveNext() is pending, with nothing waiting, with 0, or with autoReceive', async () => {
    const log = new LinesLog();
    const [a, b] = pair();
    const [c, d] = pair();
    const [e, f] = pair();
    const [g, h] = pair();
    const ma = createMessageSocket(a, new Recorder());
    const mb = createMessageSocket(b, new Recorder(), { unreadWarningMs: 20, log });
    mb.receiveNext(); // pending: whatever arrives is read
    const mc = createMessageSocket(c, new Recorder(), { unreadWarningMs: 20, log }); // nothing arrives
    const me = createMessageSocket(e, new Recorder());
    const mf = createMessageSocket(f, new Recorder(), { unreadWarningMs: 0, log }); // disabled
    const mg = createMessageSocket(g, new Recorder());
    const mh = createMessageSocket(h, new Recorder(), { unreadWarningMs: 20, log, autoReceive: true });
    open.push(ma, mb, mc, me, mf, mg, mh);
    me.sendMessage(Buffer.from('unread, but the warning is off'));
    mg.sendMessage(Buffer.from('delivered at once'));
    await settle(300);
    expect(log.having('waited unread')).toEqual([]);
    expect(mh.messagesReceived).toBe(1);
    expect(d.mode).toBe('client');
  });
});
