/**
 * The rules of the message socket API: what throws (and changes nothing), what is ignored,
 * and the callback rules of the contract — none inside a call, one send result per message in
 * order, exactly one shutdown and last, messages the app may keep, exceptions that surface
 * without breaking other sockets.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { createTcpSocketProvider, createTlsSocketProvider, createUdpSocketProvider, IoMux, ISocket, ShutdownReason, SocketErrorCode, USocket } from '../../lib';
import { createMessageSocket, UMessageSocket } from '../../lib/messages';
import { closeAllRaw, settle } from '../helpers/net-helpers';
import { thrown } from '../helpers/stream-harness';
import { closePlainSockets, plainUdp } from '../helpers/udp-peers';
import { cleanupMessages, connected, MessageRecorder, StreamServer, withRawPeer, wrap } from './message-harness';

afterEach(async () => {
  const violations = await cleanupMessages();
  await closeAllRaw();
  closePlainSockets();
  expect(violations).toEqual([]);
});

const E = SocketErrorCode;
const quiet = { socketShutdown: () => undefined } as unknown as USocket;
const noop = { messageSocketShutdown: () => undefined } as unknown as UMessageSocket;

async function tcpPair(): Promise<{ srv: StreamServer; client: ISocket; server: ISocket }> {
  const srv = await new StreamServer('tcp', null, () => '').start();
  return { srv, ...(await srv.pair()) };
}

describe('createMessageSocket', () => {
  it('throws for bad arguments, and then the socket is still free to wrap', async () => {
    const { client, server } = await tcpPair();
    const bad = (socket: unknown, user: unknown, options?: unknown): string =>
      thrown(() => createMessageSocket(socket as ISocket, user as UMessageSocket, options as undefined));
    expect(bad({}, noop)).toBe('TypeError');
    expect(bad(null, noop)).toBe('TypeError');
    expect(bad(client, {})).toBe('TypeError');
    expect(bad(client, noop, 'u32')).toBe('TypeError');
    expect(bad(client, noop, { framing: 'u16' })).toBe('TypeError');
    expect(bad(client, noop, { framing: { delimiter: 10 } })).toBe('TypeError');
    expect(bad(client, noop, { framing: { delimiter: '' } })).toBe('RangeError');
    expect(bad(client, noop, { framing: { delimiter: new Uint8Array(0) } })).toBe('RangeError');
    for (const maxMessageSize of [0, -1, 1.5, 2 ** 32, '100']) expect(bad(client, noop, { maxMessageSize })).toBe('RangeError');

    const c = new MessageRecorder('client');
    const s = new MessageRecorder('server', { autoReceive: true });
    const ms = wrap(client, c, { maxMessageSize: 2 ** 32 - 1 });
    wrap(server, s);
    ms.sendMessage(Buffer.from('still works'));
    await s.waitForMessages(1);
    expect(s.messages().map(String)).toEqual(['still works']);
  });

  it('throws SocketStateError for a socket that is not connected, listens, is bound UDP, or was taken over', async () => {
    const tcp = createTcpSocketProvider();
    expect(thrown(() => createMessageSocket(tcp.createSocket(quiet), noop))).toBe(`SocketStateError:${E.NotConnected}`);

    const { srv, client } = await tcpPair();
    expect(thrown(() => createMessageSocket(srv.listener, noop))).toBe(`SocketStateError:${E.WrongMode}`);

    const udp = createUdpSocketProvider().createSocket(quiet);
    udp.bind('127.0.0.1', 0);
    expect(thrown(() => createMessageSocket(udp, noop))).toBe(`SocketStateError:${E.WrongMode}`);
    udp.shutdown();

    const tls = createTlsSocketProvider();
    const secure = tls.upgradeToTls(client, quiet, { context: tls.createSocketContext() });
    expect(thrown(() => createMessageSocket(client, noop))).toBe(`SocketStateError:${E.TakenOver}`);
    secure.shutdown();
  });
});

describe('sendMessage', () => {
  it('throws for a non-buffer, a message over maxMessageSize or one holding the delimiter; sends nothing for it; the socket goes on', async () => {
    const { client, server } = await tcpPair();
    const c = new MessageRecorder('client');
    const s = new MessageRecorder('server', { autoReceive: true });
    const ms = wrap(client, c, { framing: { delimiter: '\n' }, maxMessageSize: 10 });
    wrap(server, s, { framing: { delimiter: '\n' }, maxMessageSize: 10 });
    expect(thrown(() => ms.sendMessage('text' as unknown as Uint8Array))).toBe('TypeError');
    expect(thrown(() => ms.sendMessage(Buffer.alloc(11)))).toBe('RangeError');
    expect(() => ms.sendMessage(Buffer.from('two\nlines'))).toThrow(/contains the delimiter \(at byte 3\)/);
    ms.sendMessage(Buffer.from('one line'));
    await s.waitForMessages(1);
    await c.waitForSendResults(1);
    await settle();
    expect(s.messages().map(String)).toEqual(['one line']);
    expect(c.count('messageSendResult')).toBe(1);
    expect(ms.messagesSent).toBe(1);
  });
});

describe('receiveNext', () => {
  it('throws ERR_SOCKET_RECV_PENDING while one is pending', async () => {
    const { client } = await tcpPair();
    const ms = wrap(client, new MessageRecorder('client'));
    ms.receiveNext();
    expect(thrown(() => ms.receiveNext())).toBe(`SocketStateError:${E.RecvPending}`);
  });

  it('never delivers inside the call, even when the message is already buffered; messages are the app’s to keep', async () => {
    const user = new MessageRecorder('server');
    const kept: Uint8Array[] = [];
    user.onMessage = (_s, m) => kept.push(m);
    const { raw, ms } = await withRawPeer(user);
    raw.write(Buffer.from([0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 2, 9, 9]));
    ms.receiveNext();
    await user.waitForMessages(1);
    ms.receiveNext(); // the second message is already in the buffer
    expect(user.count('messageReceived')).toBe(1);
    await user.waitForMessages(2);
    expect(kept.map((m) => Buffer.from(m).toString('hex'))).toEqual(['010203', '0909']);
    expect(kept.every((m) => m.byteOffset === 0 && m.buffer.byteLength === m.byteLength)).toBe(true);
  });
});

describe('shutdown', () => {
  it('send results of earlier messages first, then SOCKET_SHUTDOWN_NORMAL once; later calls are ignored, bad arguments still throw', async () => {
    const { client, server } = await tcpPair();
    const c = new MessageRecorder('client');
    const s = new MessageRecorder('server', { autoReceive: true });
    const ms = wrap(client, c);
    wrap(server, s);
    for (let i = 0; i < 5; i++) ms.sendMessage(Buffer.from(`m${i}`));
    ms.receiveNext();
    ms.shutdown();
    expect(c.events).toEqual([]);
    ms.shutdown();
    ms.sendMessage(Buffer.from('ignored'));
    ms.receiveNext();
    expect(thrown(() => ms.sendMessage(null as unknown as Uint8Array))).toBe('TypeError');
    expect(await c.waitForShutdown()).toBe(ShutdownReason.Normal);
    await settle();
    expect(c.events.map((e) => e.name)).toEqual([...Array(5).fill('messageSendResult'), 'messageSocketShutdown']);
    expect(await s.waitForShutdown()).toBe(ShutdownReason.ByPeer);
    expect(s.messages().map(String)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
  });

  it('while a peer’s end waits behind buffered messages: SOCKET_SHUTDOWN_NORMAL, the messages are dropped', async () => {
    const user = new MessageRecorder('server');
    const { raw, ms } = await withRawPeer(user);
    raw.end(Buffer.from([0, 0, 0, 1, 7, 0, 0, 0, 1, 8]));
    ms.receiveNext();
    await user.waitForMessages(1);
    await settle(); // the peer's end arrives and waits
    ms.shutdown();
    expect(await user.waitForShutdown()).toBe(ShutdownReason.Normal);
    expect(user.count('messageReceived')).toBe(1);
  });

  it('IoMux.terminate() ends the message socket with SOCKET_SHUTDOWN_NORMAL', async () => {
    const iomux = new IoMux();
    const peer = await plainUdp();
    const socket = await connected(createUdpSocketProvider(), `127.0.0.1:${peer.port}`, { iomux });
    const u = new MessageRecorder('udp', { autoReceive: true });
    wrap(socket, u);
    iomux.terminate();
    expect(await u.waitForShutdown()).toBe(ShutdownReason.Normal);
  });
});

describe('setUser', () => {
  it('sends every later callback to the new user; a user without messageSocketShutdown throws TypeError', async () => {
    const { client, server } = await tcpPair();
    const first = new MessageRecorder('first');
    const second = new MessageRecorder('second');
    const ms = wrap(client, first);
    wrap(server, new MessageRecorder('server', { autoReceive: true, echo: true }));
    expect(thrown(() => ms.setUser({} as UMessageSocket))).toBe('TypeError');
    ms.sendMessage(Buffer.from('ping'));
    ms.receiveNext();
    ms.setUser(second);
    await second.waitForMessages(1);
    ms.shutdown();
    await second.waitForShutdown();
    expect(first.events).toEqual([]);
    expect(second.events.map((e) => e.name)).toEqual(['messageSendResult', 'messageReceived', 'messageSocketShutdown']);
  });
});

describe('a message user callback that throws', () => {
  it('surfaces as an uncaught exception; that socket and the others go on', () => {
    // A child process: an uncaught exception must reach process 'uncaughtException'.
    const script = `
      const { createTcpSocketProvider, USocket } = require('./lib');
      const { createMessageSocket, UMessageSocket } = require('./lib/messages');
      process.on('uncaughtException', (e) => console.log('uncaught: ' + e.message));
      const tcp = createTcpSocketProvider();
      let ended = 0;
      class Echo extends UMessageSocket {
        messageReceived(ms, m) { ms.sendMessage(m); ms.receiveNext(); }
        messageSocketShutdown() {}
      }
      class Client extends UMessageSocket {
        constructor(name, boom) { super(); this.name = name; this.boom = boom; }
        messageReceived(ms, m) {
          console.log(this.name + ' got ' + Buffer.from(m));
          ms.shutdown();
          if (this.boom) throw new Error('boom from ' + this.name);
        }
        messageSocketShutdown(ms, reason) {
          console.log(this.name + ' ended ' + reason);
          if (++ended === 2) listener.shutdown();
        }
      }
      class Up extends USocket {
        constructor(make) { super(); this.make = make; }
        socketConnectComplete(s) { this.make(s); }
        socketAcceptComplete(s) { this.make(s); }
        socketShutdown() {}
      }
      class Listener extends USocket {
        socketBindResult(s, a, port) {
          s.listen();
          for (const [name, boom] of [['first', true], ['second', false]]) {
            tcp.createSocket(new Up((c) => {
              const ms = createMessageSocket(c, new Client(name, boom));
              ms.sendMessage(Buffer.from('hello ' + name));
              ms.receiveNext();
            })).connect('127.0.0.1:' + port);
          }
        }
        socketListenResult(s) { s.accept(new Up((c) => createMessageSocket(c, new Echo()).receiveNext())); }
        socketShutdown() {}
      }
      const listener = tcp.createSocket(new Listener());
      listener.bind('127.0.0.1', 0);
    `;
    const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: path.resolve(__dirname, '../..'),
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(
      [
        'first got hello first',
        'second got hello second',
        'uncaught: boom from first',
        'first ended SOCKET_SHUTDOWN_NORMAL',
        'second ended SOCKET_SHUTDOWN_NORMAL',
      ].sort(),
    );
  }, 25000);
});
