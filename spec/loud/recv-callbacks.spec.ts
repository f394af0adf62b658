/**
 * Issue #18: a recv result goes to the recv callback the user implements — a datagram to
 * socketRecvResult when that is the only one, stream data to socketRecvFromResult (with the
 * peer) when that is the only one — and with neither it is never silent: one log line per
 * socket and one process warning per process. Loopback only; every wait bounded.
 */
import { claimSocket, createTcpSocketProvider, createUdpSocketProvider, ISocket, ShutdownReason, SocketErrorCode, USocket } from '../../lib';
import { closeAllRaw, pollUntil, rawServer } from '../helpers/net-helpers';
import { closePlainSockets, plainUdp } from '../helpers/udp-peers';
import { deferred, LinesLog, spyWarnings } from './helpers';

const tcp = createTcpSocketProvider();
const udp = createUdpSocketProvider();
const open: ISocket[] = [];

afterEach(async () => {
  for (const s of open.splice(0)) s.shutdown();
  await closePlainSockets();
  await closeAllRaw();
});

/** Binds a UDP socket with `user` on 127.0.0.1; resolves with it and its port. */
async function boundUdp(user: USocket & { bound: ReturnType<typeof deferred<number>> }, log = new LinesLog()): Promise<{ socket: ISocket; port: number }> {
  const socket = udp.createSocket(user, { log });
  open.push(socket);
  socket.bind('127.0.0.1', 0);
  return { socket, port: await user.bound.wait('socketBindResult') };
}

class UdpBase extends USocket {
  readonly bound = deferred<number>();
  override socketBindResult(s: ISocket, addr: string, port: number): void {
    this.bound.resolve(port);
  }
  socketShutdown(): void {}
}

describe('a UDP user that implements only socketRecvResult', () => {
  it('gets each datagram there, with its length', async () => {
    class OnlyPlain extends UdpBase {
      readonly got = deferred<{ text: string; len: number }>();
      override socketRecvResult(s: ISocket, buffer: Uint8Array, len: number): void {
        this.got.resolve({ text: Buffer.from(buffer.subarray(0, len)).toString(), len });
      }
    }
    const user = new OnlyPlain();
    const { socket, port } = await boundUdp(user);
    socket.recv(new Uint8Array(100));
    const peer = await plainUdp();
    await peer.send(Buffer.from('hello'), port);
    expect(await user.got.wait('socketRecvResult')).toEqual({ text: 'hello', len: 5 });
  });

  it('also as a plain object (no USocket), and after setUser to such a user', async () => {
    const got = deferred<number>();
    const first = new UdpBase();
    const { socket, port } = await boundUdp(first);
    socket.setUser({ socketShutdown() {}, socketRecvResult: (s: ISocket, b: Uint8Array, len: number) => got.resolve(len) } as unknown as USocket);
    socket.recv(new Uint8Array(100));
    const peer = await plainUdp();
    await peer.send(Buffer.from('abc'), port);
    expect(await got.wait('socketRecvResult of a plain object')).toBe(3);
  });

  it('a user with both keeps getting socketRecvFromResult, with the source', async () => {
    class Both extends UdpBase {
      readonly from = deferred<string>();
      plain = 0;
      override socketRecvResult(): void {
        this.plain++;
      }
      override socketRecvFromResult(s: ISocket, b: Uint8Array, len: number, addr: string, port: number): void {
        this.from.resolve(`${addr}:${len}`);
      }
    }
    const user = new Both();
    const { socket, port } = await boundUdp(user);
    socket.recv(new Uint8Array(100));
    const peer = await plainUdp();
    await peer.send(Buffer.from('xy'), port);
    expect(await user.from.wait('socketRecvFromResult')).toBe('127.0.0.1:2');
    expect(user.plain).toBe(0);
  });
});

describe('a stream user that implements only socketRecvFromResult', () => {
  it('gets the data there, with the peer address and port', async () => {
    const server = await rawServer((sock) => sock.write('ping'));
    class OnlyFrom extends USocket {
      readonly got = deferred<{ text: string; addr: string; port: number }>();
      override socketConnectComplete(s: ISocket): void {
        s.recv(new Uint8Array(4));
      }
      override socketRecvFromResult(s: ISocket, buffer: Uint8Array, len: number, addr: string, port: number): void {
        this.got.resolve({ text: Buffer.from(buffer.subarray(0, len)).toString(), addr, port });
      }
      socketShutdown(): void {}
    }
    const user = new OnlyFrom();
    const socket = tcp.createSocket(user);
    open.push(socket);
    socket.connect(`127.0.0.1:${server.port}`);
    expect(await user.got.wait('socketRecvFromResult on TCP')).toEqual({ text: 'ping', addr: '127.0.0.1', port: server.port });
  });
});

describe('a user that implements neither', () => {
  it('is warned: one log line per socket, one process warning per process; the bytes are in the buffer', async () => {
    const warnings = spyWarnings();
    try {
      const server = await rawServer((sock) => sock.write('abcdefgh'));
      const buffers: Uint8Array[] = [new Uint8Array(4), new Uint8Array(4)];
      const ended = deferred<ShutdownReason>();
      let sent = 0;
      class Neither extends USocket {
        override socketConnectComplete(s: ISocket): void {
          s.recv(buffers[0]);
          s.send(Buffer.from('x')); // the send result drives the second recv
        }
        override socketSendResult(s: ISocket): void {
          if (++sent === 1) setTimeout(() => s.recv(buffers[1]), 50);
        }
        socketShutdown(s: ISocket, reason: ShutdownReason): void {
          ended.resolve(reason);
        }
      }
      const log = new LinesLog();
      const socket = tcp.createSocket(new Neither(), { log });
      open.push(socket);
      socket.connect(`127.0.0.1:${server.port}`);
      await pollUntil(() => buffers[1][3] === 'h'.charCodeAt(0), 'the second recv');
      expect(Buffer.from(buffers[0]).toString()).toBe('abcd');
      expect(Buffer.from(buffers[1]).toString()).toBe('efgh');
      const lines = log.having('implements neither socketRecvResult nor socketRecvFromResult');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('Implement socketRecvResult');
      const process1 = warnings.calls.filter((w) => w.code === 'SOCKET_PROVIDER_UNHANDLED_RECV');
      expect(process1).toHaveLength(1);
      expect(process1[0].text).toContain('Neither');
      socket.shutdown();
      expect(await ended.wait('the end')).toBe(ShutdownReason.Normal);
    } finally {
      warnings.restore();
    }
  });

  it('on UDP too (log line), and the process warning is not repeated', async () => {
    const warnings = spyWarnings();
    try {
      const log = new LinesLog();
      const { socket, port } = await boundUdp(new UdpBase(), log);
      const buffer = new Uint8Array(10);
      socket.recv(buffer);
      const peer = await plainUdp();
      await peer.send(Buffer.from('dgram'), port);
      await pollUntil(() => log.having('implements neither').length > 0, 'the log line');
      expect(log.having('implements neither')[0]).toContain('Implement socketRecvFromResult');
      expect(Buffer.from(buffer.subarray(0, 5)).toString()).toBe('dgram');
      // The first test of this file warned the process already: once per process.
      expect(warnings.calls.filter((w) => w.code === 'SOCKET_PROVIDER_UNHANDLED_RECV')).toHaveLength(0);
    } finally {
      warnings.restore();
    }
  });
});

describe('claimSocket on an ISocket this package did not make', () => {
  it('refuses a second claim; the socket itself is not guarded', () => {
    const calls: string[] = [];
    const foreign = {
      send: () => calls.push('send'),
      recv: () => calls.push('recv'),
      recvCancel: () => calls.push('recvCancel'),
      setUser: () => calls.push('setUser'),
      shutdown: () => calls.push('shutdown'),
    } as unknown as ISocket;
    const owned = claimSocket(foreign, 'a test layer');
    owned.send(new Uint8Array(1));
    foreign.send(new Uint8Array(1));
    expect(calls).toEqual(['send', 'send']);
    expect(() => claimSocket(foreign, 'another layer')).toThrow(expect.objectContaining({ code: SocketErrorCode.Owned }));
    expect(() => claimSocket(foreign, '')).toThrow(TypeError);
  });
});
