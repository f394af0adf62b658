/**
 * UDP (CONTRACT.md §3, §7, §10): bind/recv/sendTo, connected sockets, one datagram per recv
 * and truncation, the bounded receive queue, the implicit bind of a first sendTo, the mode and
 * argument rules, errors of single datagrams, IoMux.terminate(), IPv6, and real peers (plain
 * `dgram`, `socat`). Loopback only; every wait bounded.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import {
  createTcpSocketProvider,
  createUdpSocketProvider,
  IoMux,
  ISocket,
  ISocketProvider,
  QosTrafficType,
  ShutdownReason,
  SocketErrorCode,
  SocketOptions,
} from '../../lib';
import { MALFORMED_CONNECT_ADDRESSES } from '../helpers/address-cases';
import { closeAllRaw, hasIpv6Loopback, pollUntil, randomBytes, rawServer, settle, sha256, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { thrown } from '../helpers/stream-harness';
import { closePlainSockets, freeUdpPort, plainUdp } from '../helpers/udp-peers';

/** Every wait in this file. */
const WAIT = 15000;

const stateError = (code: string): string => `SocketStateError:${code}`;

// ---------------------------------------------------------------------------------------
// Plain dgram peers
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// socat
// ---------------------------------------------------------------------------------------

const children = new Set<ChildProcessWithoutNullStreams>();
const haveSocat = ((): boolean => {
  const paths = (process.env.PATH ?? '').split(':');
  return paths.some((p) => p !== '' && existsSync(`${p}/socat`));
})();
/** Linux lists bound UDP ports in /proc/net/udp: how a test knows socat is ready without sleeping. */
const haveProcNetUdp = existsSync('/proc/net/udp');

interface Child {
  proc: ChildProcessWithoutNullStreams;
  stdout(): string;
  /** Resolves once stdout contains `text` (bounded). */
  waitForOutput(text: string, ms?: number): Promise<void>;
}

function spawnChild(cmd: string, args: string[]): Child {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  let err = '';
  const waits = new Set<() => void>();
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of [...waits]) w();
  });
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  proc.on('exit', () => {
    children.delete(proc);
    for (const w of [...waits]) w();
  });
  proc.stdin.on('error', () => undefined);
  return {
    proc,
    stdout: () => out,
    waitForOutput(text: string, ms = WAIT): Promise<void> {
      if (out.includes(text)) return Promise.resolve();
      let w: () => void = () => undefined;
      const p = new Promise<void>((resolve) => {
        w = () => {
          if (out.includes(text)) resolve();
        };
        waits.add(w);
      });
      return withTimeout(p, ms, `${JSON.stringify(text)} on ${cmd}'s stdout (stdout ${JSON.stringify(out)}, stderr ${JSON.stringify(err)})`).finally(() =>
        waits.delete(w),
      );
    },
  };
}

async function killChildren(): Promise<void> {
  for (const proc of [...children]) {
    const exited = new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
    proc.kill('SIGKILL');
    await withTimeout(exited, WAIT, `child ${proc.pid} to exit`);
  }
  children.clear();
}

/** Whether something is bound to UDP `port` (Linux: /proc/net/udp and udp6). */
function udpPortBound(port: number): boolean {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8').split('\n').slice(1);
    if (lines.some((line) => (line.trim().split(/\s+/)[1] ?? '').endsWith(hex))) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------

describe('udp', () => {
  let provider: ISocketProvider;

  beforeEach(() => {
    provider = guardProvider(createUdpSocketProvider());
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck();
    closePlainSockets();
    await killChildren();
    await closeAllRaw();
    expect(violations).toEqual([]);
  });

  /** A socket bound to `host`:0 (waits for socketBindResult); returns it and the port. */
  async function bound(u: RecordingUser, host = '127.0.0.1', options: SocketOptions = {}): Promise<{ s: ISocket; port: number }> {
    const s = provider.createSocket(u, options);
    s.bind(host, 0);
    await u.waitFor('socketBindResult', 1, WAIT, s);
    const [, port] = u.eventsOf('socketBindResult', s)[0].args as [string, number];
    return { s, port };
  }

  /** A socket connected to `address` (waits for socketConnectComplete). */
  async function connected(u: RecordingUser, address: string, options: SocketOptions = {}): Promise<ISocket> {
    const s = provider.createSocket(u, options);
    s.connect(address);
    await u.waitFor('socketConnectComplete', 1, WAIT, s);
    return s;
  }

  /** Makes `u` echo every datagram back to its sender and keep one recv pending. */
  function makeEcho(u: RecordingUser, size = 2048): (s: ISocket) => void {
    u.on('socketRecvFromResult', (s, buffer: Uint8Array, len: number, addr: string, port: number) => {
      s.sendTo(buffer, len, addr, port);
      s.recv(buffer);
    });
    return (s) => s.recv(new Uint8Array(size));
  }

  /** The datagrams `u` received on `s`, as [text, srcAddr, srcPort]. */
  function datagrams(u: RecordingUser, s: ISocket): Array<[string, string, number]> {
    return u.eventsOf('socketRecvFromResult', s).map((e) => [String(e.data), e.args[2] as string, e.args[3] as number]);
  }

  describe('bind, recv, sendTo', () => {
    it('bind(127.0.0.1, 0) reports the real port; recv gets a plain dgram datagram with its source; sendTo answers it', async () => {
      const u = new RecordingUser('server');
      const s = provider.createSocket(u);
      s.bind('127.0.0.1', 0);
      expect(s.mode).toBe('server');
      await u.waitFor('socketBindResult', 1, WAIT, s);
      const [addr, port] = u.eventsOf('socketBindResult', s)[0].args as [string, number];
      expect(addr).toBe('127.0.0.1');
      expect(port).toBeGreaterThan(0);
      expect(s.getLocalAddress()).toEqual({ address: '127.0.0.1', port });
      expect([s.localAddress, s.localPort]).toEqual(['127.0.0.1', port]);

      const peer = await plainUdp();
      const buffer = new Uint8Array(64);
      s.recv(buffer);
      await peer.send(Buffer.from('hello udp'), port);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      const ev = u.eventsOf('socketRecvFromResult', s)[0];
      expect(ev.args[0]).toBe(buffer);
      expect(ev.args.slice(1)).toEqual([9, '127.0.0.1', peer.port]);
      expect(String(ev.data)).toBe('hello udp');
      expect(s.bytesReceived).toBe(9);

      const replies = ['one', 'two', 'three'];
      for (const r of replies) s.sendTo(Buffer.from(r), undefined, '127.0.0.1', peer.port);
      await u.waitFor('socketSendResult', 3, WAIT, s);
      await peer.waitFor(3);
      expect(peer.messages.map((m) => [String(m.data), m.address, m.port])).toEqual(replies.map((r) => [r, '127.0.0.1', port]));
      expect(s.bytesSent).toBe(3 + 3 + 5);
      expect(u.names(s)).toEqual(['socketBindResult', 'socketRecvFromResult', 'socketSendResult', 'socketSendResult', 'socketSendResult']);
    });

    it('bind(null, 0) binds 0.0.0.0; sendTo with a len sends only that many bytes', async () => {
      const u = new RecordingUser('any');
      const s = provider.createSocket(u);
      s.bind(null, 0);
      await u.waitFor('socketBindResult', 1, WAIT, s);
      const [addr, port] = u.eventsOf('socketBindResult', s)[0].args as [string, number];
      expect(addr).toBe('0.0.0.0');
      expect(port).toBeGreaterThan(0);
      const peer = await plainUdp();
      s.sendTo(Buffer.from('abcdefgh'), 3, '127.0.0.1', peer.port);
      await peer.waitFor(1);
      expect(String(peer.messages[0].data)).toBe('abc');
      expect(peer.messages[0].port).toBe(port);
      await u.waitFor('socketSendResult', 1, WAIT, s);
      expect(s.bytesSent).toBe(3);
    });

    it('the caller may change the data as soon as sendTo returns', async () => {
      const u = new RecordingUser('server');
      const { s } = await bound(u);
      const peer = await plainUdp();
      const data = Buffer.from('original');
      s.sendTo(data, undefined, '127.0.0.1', peer.port);
      data.write('CHANGED!');
      await peer.waitFor(1);
      expect(String(peer.messages[0].data)).toBe('original');
    });

    it('10 datagrams that arrive while no recv is pending are read in order by 10 recvs', async () => {
      const u = new RecordingUser('server');
      const { s, port } = await bound(u);
      const peer = await plainUdp();
      const texts = Array.from({ length: 10 }, (_, i) => `datagram ${i}`);
      for (const t of texts) await peer.send(Buffer.from(t), port);
      const total = texts.reduce((n, t) => n + t.length, 0);
      await pollUntil(() => s.bytesReceived >= total, `${total} bytes to arrive (have ${s.bytesReceived})`, WAIT);
      expect(u.count('socketRecvFromResult')).toBe(0);
      for (let i = 0; i < 10; i++) {
        s.recv(new Uint8Array(100));
        await u.waitFor('socketRecvFromResult', i + 1, WAIT, s);
      }
      expect(datagrams(u, s)).toEqual(texts.map((t) => [t, '127.0.0.1', peer.port]));
      expect(s.droppedDatagrams).toBe(0);
      s.recv(new Uint8Array(100));
      await settle();
      expect(u.count('socketRecvFromResult')).toBe(10);
    });

    it('a 100-byte datagram read with len 10 gives its first 10 bytes; the rest is gone', async () => {
      const u = new RecordingUser('server');
      const { s, port } = await bound(u);
      const peer = await plainUdp();
      const big = randomBytes(100);
      const buffer = new Uint8Array(100).fill(0xee);
      s.recv(buffer, 10);
      await peer.send(big, port);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      const ev = u.eventsOf('socketRecvFromResult', s)[0];
      expect(ev.args[1]).toBe(10);
      expect(ev.data).toEqual(big.subarray(0, 10));
      expect(Buffer.from(buffer.subarray(10)).equals(Buffer.alloc(90, 0xee))).toBe(true);
      expect(s.bytesReceived).toBe(100);
      // The next recv gets the next datagram, not the 90 bytes that were cut.
      s.recv(buffer);
      await peer.send(Buffer.from('next'), port);
      await u.waitFor('socketRecvFromResult', 2, WAIT, s);
      expect(datagrams(u, s)[1]).toEqual(['next', '127.0.0.1', peer.port]);
    });

    it('a queued datagram longer than len is cut too; recvPartial changes nothing', async () => {
      const u = new RecordingUser('server');
      const { s, port } = await bound(u);
      const peer = await plainUdp();
      await peer.send(Buffer.from('0123456789'), port);
      await pollUntil(() => s.bytesReceived >= 10, 'the datagram to arrive', WAIT);
      s.recv(new Uint8Array(4), undefined, true);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      expect(datagrams(u, s)).toEqual([['0123', '127.0.0.1', peer.port]]);
    });

    it('queue overflow: datagramQueueLength 4 keeps the first 4 of 20 and counts 16 dropped', async () => {
      const u = new RecordingUser('server');
      const { s, port } = await bound(u, '127.0.0.1', { datagramQueueLength: 4 });
      const peer = await plainUdp();
      for (let i = 0; i < 20; i++) await peer.send(Buffer.from(`d${String(i).padStart(2, '0')}`), port);
      // Loopback with the 1 MiB default receive buffer delivers all 20 (bytesReceived counts dropped ones too).
      await pollUntil(() => s.bytesReceived >= 20 * 3, `20 datagrams to arrive (have ${s.bytesReceived} bytes)`, WAIT);
      expect(s.bytesReceived).toBe(60);
      expect(s.droppedDatagrams).toBe(16);
      for (let i = 0; i < 4; i++) {
        s.recv(new Uint8Array(16));
        await u.waitFor('socketRecvFromResult', i + 1, WAIT, s);
      }
      expect(datagrams(u, s).map((d) => d[0])).toEqual(['d00', 'd01', 'd02', 'd03']);
      // Nothing else was kept.
      s.recv(new Uint8Array(16));
      await settle();
      expect(u.count('socketRecvFromResult')).toBe(4);
      // The queue takes datagrams again once there is room.
      await peer.send(Buffer.from('after'), port);
      await u.waitFor('socketRecvFromResult', 5, WAIT, s);
      expect(datagrams(u, s)[4][0]).toBe('after');
      expect(s.droppedDatagrams).toBe(16);
    });

    it('recvCancel → socketRecvCanceled with the buffer; a later datagram waits for the next recv', async () => {
      const u = new RecordingUser('server');
      const { s, port } = await bound(u);
      const buffer = new Uint8Array(32);
      s.recv(buffer);
      s.recvCancel();
      await u.waitFor('socketRecvCanceled', 1, WAIT, s);
      expect(u.eventsOf('socketRecvCanceled', s)[0].args[0]).toBe(buffer);
      const peer = await plainUdp();
      await peer.send(Buffer.from('kept'), port);
      await pollUntil(() => s.bytesReceived >= 4, 'the datagram to arrive', WAIT);
      expect(u.count('socketRecvFromResult')).toBe(0);
      s.recv(buffer);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      expect(datagrams(u, s)).toEqual([['kept', '127.0.0.1', peer.port]]);
      s.recvCancel(); // nothing pending: no callback
      await settle();
      expect(u.count('socketRecvCanceled')).toBe(1);
    });
  });

  describe('connected sockets', () => {
    it('connect → socketConnectComplete; send goes to the peer; only the peer’s datagrams are received', async () => {
      const peer = await plainUdp();
      const stranger = await plainUdp();
      const u = new RecordingUser('client');
      const s = provider.createSocket(u);
      s.connect(`127.0.0.1:${peer.port}`);
      expect(s.mode).toBe('client');
      await u.waitFor('socketConnectComplete', 1, WAIT, s);
      expect([s.remoteAddress, s.remotePort]).toEqual(['127.0.0.1', peer.port]);
      const local = s.getLocalAddress();
      expect(local?.address).toBe('127.0.0.1');
      expect(local?.port).toBeGreaterThan(0);

      s.send(Buffer.from('to the peer'));
      await peer.waitFor(1);
      expect(peer.messages[0]).toEqual({ data: Buffer.from('to the peer'), address: '127.0.0.1', port: local?.port });
      await u.waitFor('socketSendResult', 1, WAIT, s);

      s.recv(new Uint8Array(64));
      await stranger.send(Buffer.from('from a stranger'), local?.port ?? 0);
      await settle();
      expect(u.count('socketRecvFromResult')).toBe(0);
      await peer.send(Buffer.from('from the peer'), local?.port ?? 0);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      expect(datagrams(u, s)).toEqual([['from the peer', '127.0.0.1', peer.port]]);
      // The stranger's datagram was not queued either.
      s.recv(new Uint8Array(64));
      await settle();
      expect(u.count('socketRecvFromResult')).toBe(1);
      expect(s.droppedDatagrams).toBe(0);
      expect(u.names(s)).toEqual(['socketConnectComplete', 'socketSendResult', 'socketRecvFromResult']);
    });

    it('sends made before the connect completes are queued and sent in order', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('client');
      const s = provider.createSocket(u);
      s.connect(`127.0.0.1:${peer.port}`);
      s.send(Buffer.from('first'));
      s.send(Buffer.from('second'));
      await peer.waitFor(2);
      expect(peer.messages.map((m) => String(m.data))).toEqual(['first', 'second']);
      await u.waitFor('socketSendResult', 2, WAIT, s);
      expect(u.names(s)).toEqual(['socketConnectComplete', 'socketSendResult', 'socketSendResult']);
    });

    it('a connect the OS refuses (the broadcast address without SO_BROADCAST: EACCES) ends with SOCKET_CONNECT_FAILED', async () => {
      const u = new RecordingUser('client');
      const s = provider.createSocket(u);
      s.connect('255.255.255.255:9');
      expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.ConnectFailed);
      expect(u.names(s)).toEqual(['socketShutdown']);
    });

    it('a datagram to a port nobody listens on does not end the socket', async () => {
      const port = await freeUdpPort();
      const u = new RecordingUser('client');
      const s = await connected(u, `127.0.0.1:${port}`);
      s.send(Buffer.from('into the void'));
      s.send(Buffer.from('again')); // the ICMP port-unreachable of the first may show up here
      await u.waitFor('socketSendResult', 2, WAIT, s);
      await settle();
      expect(u.count('socketShutdown')).toBe(0);
      s.shutdown();
      expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
    });

    const it6 = hasIpv6Loopback() ? it : it.skip; // skipped only when the machine has no ::1

    it6('IPv6: bind(::1, 0) and connect([::1]:port) round trip', async () => {
      const su = new RecordingUser('server6');
      const start = makeEcho(su);
      const s = provider.createSocket(su, { ipv6: true });
      s.bind('::1', 0);
      await su.waitFor('socketBindResult', 1, WAIT, s);
      const [addr, port] = su.eventsOf('socketBindResult', s)[0].args as [string, number];
      expect(addr).toBe('::1');
      start(s);

      const cu = new RecordingUser('client6');
      const c = await connected(cu, `[::1]:${port}`, { ipv6: true });
      expect([c.remoteAddress, c.remotePort]).toEqual(['::1', port]);
      expect(c.localAddress).toBe('::1');
      c.recv(new Uint8Array(64));
      c.send(Buffer.from('over ipv6'));
      await cu.waitFor('socketRecvFromResult', 1, WAIT, c);
      expect(datagrams(cu, c)).toEqual([['over ipv6', '::1', port]]);
      expect(datagrams(su, s)).toEqual([['over ipv6', '::1', c.localPort]]);
    });

    it6('IPv6: sendTo a plain udp6 socket and receive its answer', async () => {
      const peer = await plainUdp('udp6');
      const u = new RecordingUser('server6');
      const s = provider.createSocket(u, { ipv6: true });
      s.bind(null, 0);
      await u.waitFor('socketBindResult', 1, WAIT, s);
      const [addr, port] = u.eventsOf('socketBindResult', s)[0].args as [string, number];
      expect(addr).toBe('::');
      s.recv(new Uint8Array(64));
      s.sendTo(Buffer.from('v6 out'), undefined, '::1', peer.port);
      await peer.waitFor(1);
      expect([String(peer.messages[0].data), peer.messages[0].port]).toEqual(['v6 out', port]);
      await peer.send(Buffer.from('v6 back'), port, '::1');
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      expect(datagrams(u, s)).toEqual([['v6 back', '::1', peer.port]]);
    });
  });

  describe('the implicit bind of a first sendTo', () => {
    it('binds an ephemeral port: server mode, no socketBindResult, getLocalAddress() tells the port, replies arrive', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('sender');
      const s = provider.createSocket(u);
      expect(s.mode).toBe('none');
      s.sendTo(Buffer.from('first'), undefined, '127.0.0.1', peer.port);
      expect(s.mode).toBe('server');
      await u.waitFor('socketSendResult', 1, WAIT, s);
      await peer.waitFor(1);
      const local = s.getLocalAddress();
      expect(local).not.toBeNull();
      expect(local?.port).toBeGreaterThan(0);
      expect(peer.messages[0].port).toBe(local?.port);
      expect(String(peer.messages[0].data)).toBe('first');

      s.recv(new Uint8Array(64));
      await peer.send(Buffer.from('reply'), local?.port ?? 0);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      expect(datagrams(u, s)).toEqual([['reply', '127.0.0.1', peer.port]]);
      expect(u.count('socketBindResult')).toBe(0);
      // It is a server now: bind() is a second bind, connect() the other mode.
      expect(thrown(() => s.bind('127.0.0.1', 0))).toBe(stateError(SocketErrorCode.AlreadyBound));
      expect(thrown(() => s.connect(`127.0.0.1:${peer.port}`))).toBe(stateError(SocketErrorCode.WrongMode));
      expect(u.names(s)).toEqual(['socketSendResult', 'socketRecvFromResult']);
    });

    it('several sendTo calls before the bind completes all go out, in order, each with its send result', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('sender');
      const s = provider.createSocket(u);
      for (let i = 0; i < 5; i++) s.sendTo(Buffer.from(`m${i}`), undefined, '127.0.0.1', peer.port);
      await peer.waitFor(5);
      await u.waitFor('socketSendResult', 5, WAIT, s);
      expect(peer.messages.map((m) => String(m.data))).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      expect(new Set(peer.messages.map((m) => m.port)).size).toBe(1);
    });
  });

  describe('mode and argument rules', () => {
    it('listen() before bind() throws ERR_SOCKET_NOT_BOUND (a bound socket becomes a datagram listener: spec/datagram-listener); accept() outside socketListenResult ERR_SOCKET_ACCEPT_OUTSIDE_LISTEN_RESULT', async () => {
      const u = new RecordingUser('fresh');
      const s = provider.createSocket(u);
      expect(thrown(() => s.listen())).toBe(stateError(SocketErrorCode.NotBound));
      expect(thrown(() => s.accept(null))).toBe(stateError(SocketErrorCode.AcceptOutsideListenResult));
      const bu = new RecordingUser('bound');
      const { s: b } = await bound(bu);
      expect(thrown(() => b.accept(new RecordingUser('x')))).toBe(stateError(SocketErrorCode.AcceptOutsideListenResult));
      expect(s.mode).toBe('none');
      await settle(100);
      expect(u.events).toHaveLength(0);
      expect(bu.names(b)).toEqual(['socketBindResult']);
    });

    it('sendTo on a connected socket and send on a bound one throw ERR_SOCKET_WRONG_MODE', async () => {
      const peer = await plainUdp();
      const cu = new RecordingUser('client');
      const c = await connected(cu, `127.0.0.1:${peer.port}`);
      expect(thrown(() => c.sendTo(Buffer.from('x'), undefined, '127.0.0.1', peer.port))).toBe(stateError(SocketErrorCode.WrongMode));
      expect(thrown(() => c.bind('127.0.0.1', 0))).toBe(stateError(SocketErrorCode.WrongMode));
      expect(thrown(() => c.connect(`127.0.0.1:${peer.port}`))).toBe(stateError(SocketErrorCode.AlreadyConnected));
      const bu = new RecordingUser('server');
      const { s: b } = await bound(bu);
      expect(thrown(() => b.send(Buffer.from('x')))).toBe(stateError(SocketErrorCode.WrongMode));
      expect(thrown(() => b.connect(`127.0.0.1:${peer.port}`))).toBe(stateError(SocketErrorCode.WrongMode));
      expect(thrown(() => b.bind('127.0.0.1', 0))).toBe(stateError(SocketErrorCode.AlreadyBound));
      // The mode lock holds after shutdown() too.
      c.shutdown();
      b.shutdown();
      expect(thrown(() => c.sendTo(Buffer.from('x'), undefined, '127.0.0.1', peer.port))).toBe(stateError(SocketErrorCode.WrongMode));
      expect(thrown(() => b.send(Buffer.from('x')))).toBe(stateError(SocketErrorCode.WrongMode));
      expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
      expect(await bu.waitForShutdown(b, WAIT)).toBe(ShutdownReason.Normal);
      expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketShutdown']);
      expect(bu.names(b)).toEqual(['socketBindResult', 'socketShutdown']);
      expect(peer.messages).toHaveLength(0);
    });

    it('send and recv before bind, connect or sendTo throw ERR_SOCKET_NOT_CONNECTED', async () => {
      const u = new RecordingUser('fresh');
      const s = provider.createSocket(u);
      expect(thrown(() => s.send(Buffer.from('x')))).toBe(stateError(SocketErrorCode.NotConnected));
      expect(thrown(() => s.recv(new Uint8Array(8)))).toBe(stateError(SocketErrorCode.NotConnected));
      expect(s.mode).toBe('none');
      expect(s.getLocalAddress()).toBeNull();
      await settle(100);
      expect(u.events).toHaveLength(0);
    });

    it('sendTo to a host name or an address of the other family throws TypeError', async () => {
      const u4 = new RecordingUser('v4');
      const s4 = provider.createSocket(u4);
      const u6 = new RecordingUser('v6');
      const s6 = provider.createSocket(u6, { ipv6: true });
      const d = Buffer.from('x');
      expect(thrown(() => s4.sendTo(d, undefined, 'localhost', 4242))).toBe('TypeError');
      expect(thrown(() => s4.sendTo(d, undefined, '::1', 4242))).toBe('TypeError');
      expect(thrown(() => s4.sendTo(d, undefined, '[::1]', 4242))).toBe('TypeError');
      expect(thrown(() => s4.sendTo(d, undefined, '127.0.0.1:4242', 4242))).toBe('TypeError');
      expect(thrown(() => s4.sendTo(d, undefined, '999.1.1.1', 4242))).toBe('TypeError');
      expect(thrown(() => s4.sendTo(d, undefined, '', 4242))).toBe('TypeError');
      expect(thrown(() => s4.sendTo(d, undefined, null as unknown as string, 4242))).toBe('TypeError');
      expect(thrown(() => s6.sendTo(d, undefined, '127.0.0.1', 4242))).toBe('TypeError');
      expect(thrown(() => s6.sendTo(d, undefined, 'localhost', 4242))).toBe('TypeError');
      // Nothing changed: no implicit bind happened.
      expect([s4.mode, s6.mode]).toEqual(['none', 'none']);
      await settle(100);
      expect([...u4.events, ...u6.events]).toHaveLength(0);
    });

    it('a port of 0 or outside 0–65535 throws RangeError', async () => {
      const u = new RecordingUser('fresh');
      const s = provider.createSocket(u);
      const d = Buffer.from('x');
      expect(thrown(() => s.sendTo(d, undefined, '127.0.0.1', 0))).toBe('RangeError');
      expect(thrown(() => s.sendTo(d, undefined, '127.0.0.1', 70000))).toBe('RangeError');
      expect(thrown(() => s.sendTo(d, undefined, '127.0.0.1', -1))).toBe('RangeError');
      expect(thrown(() => s.sendTo(d, undefined, '127.0.0.1', 1.5))).toBe('RangeError');
      expect(thrown(() => s.bind('127.0.0.1', 70000))).toBe('RangeError');
      expect(thrown(() => s.bind('127.0.0.1', -1))).toBe('RangeError');
      expect(s.mode).toBe('none');
      await settle(100);
      expect(u.events).toHaveLength(0);
    });

    it('len 0, len beyond the buffer, an empty buffer or a non-buffer throw RangeError/TypeError', async () => {
      const peer = await plainUdp();
      const bu = new RecordingUser('server');
      const { s: b } = await bound(bu);
      const cu = new RecordingUser('client');
      const c = await connected(cu, `127.0.0.1:${peer.port}`);
      const d = Buffer.from('abc');
      expect(thrown(() => b.sendTo(d, 0, '127.0.0.1', peer.port))).toBe('RangeError');
      expect(thrown(() => b.sendTo(d, 4, '127.0.0.1', peer.port))).toBe('RangeError');
      expect(thrown(() => b.sendTo(Buffer.alloc(0), undefined, '127.0.0.1', peer.port))).toBe('RangeError');
      expect(thrown(() => b.sendTo('abc' as unknown as Uint8Array, undefined, '127.0.0.1', peer.port))).toBe('TypeError');
      expect(thrown(() => b.recv(new Uint8Array(8), 0))).toBe('RangeError');
      expect(thrown(() => b.recv(new Uint8Array(8), 9))).toBe('RangeError');
      expect(thrown(() => b.recv(new Uint8Array(0)))).toBe('RangeError');
      expect(thrown(() => c.send(d, 0))).toBe('RangeError');
      expect(thrown(() => c.send(d, 4))).toBe('RangeError');
      expect(thrown(() => c.send([1, 2] as unknown as Uint8Array))).toBe('TypeError');
      expect(thrown(() => c.recv(new Uint8Array(8), 0))).toBe('RangeError');
      await settle(100);
      expect(bu.names(b)).toEqual(['socketBindResult']);
      expect(cu.names(c)).toEqual(['socketConnectComplete']);
      expect(peer.messages).toHaveLength(0);
    });

    it('a second pending recv throws ERR_SOCKET_RECV_PENDING; the first still completes', async () => {
      const u = new RecordingUser('server');
      const { s, port } = await bound(u);
      const first = new Uint8Array(16);
      s.recv(first);
      expect(thrown(() => s.recv(new Uint8Array(16)))).toBe(stateError(SocketErrorCode.RecvPending));
      const peer = await plainUdp();
      await peer.send(Buffer.from('for the first'), port);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      expect(u.eventsOf('socketRecvFromResult', s)[0].args[0]).toBe(first);
    });

    it('after shutdown() send, sendTo, recv, recvCancel and shutdown are ignored: no throw, no callback', async () => {
      const peer = await plainUdp();
      const bu = new RecordingUser('server');
      const { s: b } = await bound(bu);
      const cu = new RecordingUser('client');
      const c = await connected(cu, `127.0.0.1:${peer.port}`);
      const fu = new RecordingUser('fresh');
      const f = provider.createSocket(fu);
      b.shutdown();
      c.shutdown();
      f.shutdown();
      const d = Buffer.from('late');
      const results = [
        thrown(() => b.sendTo(d, undefined, '127.0.0.1', peer.port)),
        thrown(() => b.recv(new Uint8Array(8))),
        thrown(() => b.recvCancel()),
        thrown(() => b.shutdown()),
        thrown(() => c.send(d)),
        thrown(() => c.recv(new Uint8Array(8))),
        thrown(() => c.shutdown()),
        thrown(() => f.sendTo(d, undefined, '127.0.0.1', peer.port)),
        thrown(() => f.send(d)),
        thrown(() => f.recv(new Uint8Array(8))),
      ];
      expect(results.every((r) => r === 'none')).toBe(true);
      expect(await bu.waitForShutdown(b, WAIT)).toBe(ShutdownReason.Normal);
      expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
      expect(await fu.waitForShutdown(f, WAIT)).toBe(ShutdownReason.Normal);
      // …and after socketShutdown too.
      expect(thrown(() => b.sendTo(d, undefined, '127.0.0.1', peer.port))).toBe('none');
      expect(thrown(() => c.send(d))).toBe('none');
      expect(thrown(() => c.recv(new Uint8Array(8)))).toBe('none');
      await settle();
      expect(bu.names(b)).toEqual(['socketBindResult', 'socketShutdown']);
      expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketShutdown']);
      expect(fu.names(f)).toEqual(['socketShutdown']);
      expect(f.mode).toBe('none');
      expect(peer.messages).toHaveLength(0);
    });

    it('shutdown() with a recv pending: socketRecvCanceled, then SOCKET_SHUTDOWN_NORMAL', async () => {
      const u = new RecordingUser('server');
      const { s } = await bound(u);
      const buffer = new Uint8Array(8);
      s.recv(buffer);
      s.shutdown();
      expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
      expect(u.names(s)).toEqual(['socketBindResult', 'socketRecvCanceled', 'socketShutdown']);
      expect(u.eventsOf('socketRecvCanceled', s)[0].args[0]).toBe(buffer);
    });

    it('shutdown() right after sendTo: the datagram goes out and its send result comes before the end', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('sender');
      const s = provider.createSocket(u);
      s.sendTo(Buffer.from('last words'), undefined, '127.0.0.1', peer.port);
      s.shutdown();
      expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
      expect(u.names(s)).toEqual(['socketSendResult', 'socketShutdown']);
      await peer.waitFor(1);
      expect(String(peer.messages[0].data)).toBe('last words');
    });

    it('a socket on which nothing was called reports SOCKET_SHUTDOWN_NORMAL on shutdown()', async () => {
      const u = new RecordingUser('fresh');
      const s = provider.createSocket(u);
      s.shutdown();
      expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
      expect(u.names(s)).toEqual(['socketShutdown']);
      expect(thrown(() => s.bind('127.0.0.1', 0))).toBe(stateError(SocketErrorCode.ShutDown));
      expect(thrown(() => s.connect('127.0.0.1:9'))).toBe(stateError(SocketErrorCode.ShutDown));
    });

    it('bind to a port in use without reuseAddr is SOCKET_ADDR_IN_USE', async () => {
      const u1 = new RecordingUser('first');
      const { port } = await bound(u1);
      const u2 = new RecordingUser('second');
      const s2 = provider.createSocket(u2);
      s2.bind('127.0.0.1', port);
      expect(await u2.waitForShutdown(s2, WAIT)).toBe(ShutdownReason.AddrInUse);
      expect(u2.names(s2)).toEqual(['socketShutdown']);
      // A plain dgram socket holding the port: the same.
      const plain = await plainUdp();
      const u3 = new RecordingUser('third');
      const s3 = provider.createSocket(u3);
      s3.bind('127.0.0.1', plain.port, false);
      expect(await u3.waitForShutdown(s3, WAIT)).toBe(ShutdownReason.AddrInUse);
    });

    it('with reuseAddr on both sockets, both bind the same port', async () => {
      const u1 = new RecordingUser('first');
      const s1 = provider.createSocket(u1);
      s1.bind('127.0.0.1', 0, true);
      await u1.waitFor('socketBindResult', 1, WAIT, s1);
      const [, port] = u1.eventsOf('socketBindResult', s1)[0].args as [string, number];
      const u2 = new RecordingUser('second');
      const s2 = provider.createSocket(u2);
      s2.bind('127.0.0.1', port, true);
      await u2.waitFor('socketBindResult', 1, WAIT, s2);
      expect(u2.eventsOf('socketBindResult', s2)[0].args).toEqual(['127.0.0.1', port]);
      expect(s2.getLocalAddress()).toEqual({ address: '127.0.0.1', port });
      // One of them receives a datagram sent to the shared port.
      s1.recv(new Uint8Array(16));
      s2.recv(new Uint8Array(16));
      const peer = await plainUdp();
      await peer.send(Buffer.from('shared'), port);
      await u1.waitUntil(() => u1.count('socketRecvFromResult') + u2.count('socketRecvFromResult') >= 1, 'the shared port to deliver', WAIT);
      expect([...datagrams(u1, s1), ...datagrams(u2, s2)]).toEqual([['shared', '127.0.0.1', peer.port]]);
    });

    it('bind to an address of no local interface is SOCKET_BIND_FAILED; a malformed one SOCKET_ADDRESS_INVALID', async () => {
      const u1 = new RecordingUser('foreign');
      const s1 = provider.createSocket(u1);
      s1.bind('203.0.113.1', 0);
      expect(await u1.waitForShutdown(s1, WAIT)).toBe(ShutdownReason.BindFailed);
      const u2 = new RecordingUser('malformed');
      const s2 = provider.createSocket(u2);
      s2.bind('999.1.1.1', 0);
      expect(await u2.waitForShutdown(s2, WAIT)).toBe(ShutdownReason.AddressInvalid);
      const u3 = new RecordingUser('wrong family');
      const s3 = provider.createSocket(u3);
      s3.bind('::1', 0);
      expect(await u3.waitForShutdown(s3, WAIT)).toBe(ShutdownReason.AddressInvalid);
      for (const [u, s] of [
        [u1, s1],
        [u2, s2],
        [u3, s3],
      ] as const)
        expect(u.names(s)).toEqual(['socketShutdown']);
    });

    it.each(MALFORMED_CONNECT_ADDRESSES)('connect(%j) with ipv6=%s → SOCKET_ADDRESS_INVALID', async (address, ipv6) => {
      const u = new RecordingUser('client');
      const s = provider.createSocket(u, { ipv6 });
      s.connect(address);
      expect(s.mode).toBe('client');
      expect(await u.waitForShutdown(s, WAIT)).toBe(ShutdownReason.AddressInvalid);
      expect(u.names(s)).toEqual(['socketShutdown']);
    });

    it('setQoS does not throw, makes no callback and leaves the socket working', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('client');
      const c = await connected(u, `127.0.0.1:${peer.port}`);
      const f = provider.createSocket(new RecordingUser('fresh'));
      const results = [QosTrafficType.Voice, QosTrafficType.AudioVideo, QosTrafficType.BestEffort].flatMap((q) => [
        thrown(() => c.setQoS(q)),
        thrown(() => f.setQoS(q)),
      ]);
      expect(results.every((r) => r === 'none')).toBe(true);
      expect(thrown(() => c.setQoS('QOS_NONSENSE' as QosTrafficType))).toBe('TypeError');
      c.send(Buffer.from('qos'));
      await peer.waitFor(1);
      await u.waitFor('socketSendResult', 1, WAIT, c);
      expect(u.names(c)).toEqual(['socketConnectComplete', 'socketSendResult']);
    });

    it('bad option values throw RangeError/TypeError at createSocket', () => {
      expect(thrown(() => provider.createSocket(new RecordingUser('a'), { datagramQueueLength: 0 }))).toBe('RangeError');
      expect(thrown(() => provider.createSocket(new RecordingUser('b'), { recvBufferSize: -1 }))).toBe('RangeError');
      expect(thrown(() => provider.createSocket(new RecordingUser('c'), { sendBufferSize: 1.5 }))).toBe('RangeError');
      expect(thrown(() => provider.createSocket(new RecordingUser('d'), { multicastGroups: '239.1.1.1' as unknown as string[] }))).toBe('TypeError');
    });
  });

  describe('errors of single datagrams, other transports, IoMux', () => {
    it('a datagram the OS refuses (70 000 bytes: EMSGSIZE) still gets its send result; the socket stays usable', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('server');
      const { s, port } = await bound(u);
      s.sendTo(Buffer.alloc(70000, 1), undefined, '127.0.0.1', peer.port);
      s.sendTo(Buffer.from('still here'), undefined, '127.0.0.1', peer.port);
      await u.waitFor('socketSendResult', 2, WAIT, s);
      await peer.waitFor(1);
      expect(peer.messages.map((m) => [String(m.data), m.port])).toEqual([['still here', port]]);
      expect(s.bytesSent).toBe(10);
      s.recv(new Uint8Array(16));
      await peer.send(Buffer.from('answer'), port);
      await u.waitFor('socketRecvFromResult', 1, WAIT, s);
      expect(u.names(s)).toEqual(['socketBindResult', 'socketSendResult', 'socketSendResult', 'socketRecvFromResult']);
    });

    it('sends made before the bind completed go out first, also when later ones are made from socketBindResult', async () => {
      // dgram holds the early ones until it is bound and sends them through its lookup a tick
      // later; a sendTo made meanwhile must queue behind them, and each send result and byte
      // count must belong to its own datagram.
      const peer = await plainUdp();
      const u = new RecordingUser('server');
      const s = provider.createSocket(u);
      u.on('socketBindResult', (sock: ISocket) => {
        sock.sendTo(Buffer.from('third'), undefined, '127.0.0.1', peer.port);
        sock.sendTo(Buffer.alloc(70000, 3), undefined, '127.0.0.1', peer.port); // refused: EMSGSIZE
        sock.sendTo(Buffer.from('fourth!'), undefined, '127.0.0.1', peer.port);
      });
      s.bind('127.0.0.1', 0);
      s.sendTo(Buffer.from('first'), undefined, '127.0.0.1', peer.port);
      s.sendTo(Buffer.from('second'), undefined, '127.0.0.1', peer.port);
      await u.waitFor('socketSendResult', 5, WAIT, s);
      await peer.waitFor(4);
      expect(peer.messages.map((m) => String(m.data))).toEqual(['first', 'second', 'third', 'fourth!']);
      expect(s.bytesSent).toBe(5 + 6 + 5 + 7); // the refused datagram counts nothing
      expect(u.names(s)).toEqual(['socketBindResult', ...Array(5).fill('socketSendResult')]);
    });

    it('an implicit bind (first sendTo) keeps the order of the sends made right after it', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('implicit');
      const s = provider.createSocket(u);
      const words = ['a', 'bb', 'ccc', 'dddd', 'eeeee'];
      for (const w of words) s.sendTo(Buffer.from(w), undefined, '127.0.0.1', peer.port);
      await u.waitFor('socketSendResult', words.length, WAIT, s);
      await pollUntil(() => s.getLocalAddress() !== null, 'the implicit bind');
      s.sendTo(Buffer.from('ffffff'), undefined, '127.0.0.1', peer.port);
      await u.waitFor('socketSendResult', words.length + 1, WAIT, s);
      await peer.waitFor(words.length + 1);
      expect(peer.messages.map((m) => String(m.data))).toEqual([...words, 'ffffff']);
      expect(s.bytesSent).toBe(1 + 2 + 3 + 4 + 5 + 6);
    });

    it('the same on a connected socket: send of 70 000 bytes gets its send result', async () => {
      const peer = await plainUdp();
      const u = new RecordingUser('client');
      const c = await connected(u, `127.0.0.1:${peer.port}`);
      c.send(Buffer.alloc(70000, 2));
      c.send(Buffer.from('after'));
      await u.waitFor('socketSendResult', 2, WAIT, c);
      await peer.waitFor(1);
      expect(String(peer.messages[0].data)).toBe('after');
      expect(u.count('socketShutdown')).toBe(0);
    });

    it('sendTo on a TCP socket does nothing: no throw, no callback', async () => {
      const tcp = guardProvider(createTcpSocketProvider());
      const fu = new RecordingUser('tcp-fresh');
      const f = tcp.createSocket(fu);
      expect(thrown(() => f.sendTo(Buffer.from('x'), undefined, '127.0.0.1', 9))).toBe('none');
      expect(f.mode).toBe('none');
      const srv = await rawServer(() => undefined);
      const cu = new RecordingUser('tcp-client');
      const c = tcp.createSocket(cu);
      c.connect(`127.0.0.1:${srv.port}`);
      await cu.waitFor('socketConnectComplete', 1, WAIT, c);
      expect(thrown(() => c.sendTo(Buffer.from('x'), undefined, '127.0.0.1', srv.port))).toBe('none');
      // Not even argument checks: it is not a UDP call at all.
      expect(thrown(() => c.sendTo(Buffer.alloc(0), 0, 'nonsense', 70000))).toBe('none');
      await settle();
      expect(fu.events).toHaveLength(0);
      expect(cu.names(c)).toEqual(['socketConnectComplete']);
      expect(c.bytesSent).toBe(0);
    });

    it('IoMux.terminate() closes UDP sockets with SOCKET_SHUTDOWN_NORMAL (a pending recv cancelled first)', async () => {
      const iomux = new IoMux();
      const peer = await plainUdp();
      const bu = new RecordingUser('bound');
      const { s: b } = await bound(bu, '127.0.0.1', { iomux });
      b.recv(new Uint8Array(8));
      const cu = new RecordingUser('connected');
      const c = await connected(cu, `127.0.0.1:${peer.port}`, { iomux });
      const fu = new RecordingUser('fresh');
      const f = provider.createSocket(fu, { iomux });
      iomux.terminate();
      expect(await bu.waitForShutdown(b, WAIT)).toBe(ShutdownReason.Normal);
      expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.Normal);
      expect(await fu.waitForShutdown(f, WAIT)).toBe(ShutdownReason.Normal);
      expect(bu.names(b)).toEqual(['socketBindResult', 'socketRecvCanceled', 'socketShutdown']);
      expect(cu.names(c)).toEqual(['socketConnectComplete', 'socketShutdown']);
      expect(thrown(() => provider.createSocket(new RecordingUser('late'), { iomux }))).toBe(stateError(SocketErrorCode.IoMuxTerminated));
      // The port was released.
      const [, port] = bu.eventsOf('socketBindResult', b)[0].args as [string, number];
      const again = new RecordingUser('again');
      const a = provider.createSocket(again);
      a.bind('127.0.0.1', port);
      await again.waitFor('socketBindResult', 1, WAIT, a);
    });
  });

  describe('real peers', () => {
    const itSocat = haveSocat ? it : it.skip; // CI installs socat (.ci/run)

    it('plain dgram both ways with a framework echo', async () => {
      const su = new RecordingUser('echo');
      const start = makeEcho(su);
      const { s, port } = await bound(su);
      start(s);
      const peer = await plainUdp();
      const texts = ['alpha', 'beta', 'gamma', 'delta'];
      for (const t of texts) await peer.send(Buffer.from(t), port);
      await peer.waitFor(texts.length);
      expect(peer.messages.map((m) => [String(m.data), m.address, m.port])).toEqual(texts.map((t) => [t, '127.0.0.1', port]));
      expect(datagrams(su, s)).toEqual(texts.map((t) => [t, '127.0.0.1', peer.port]));
      await su.waitFor('socketSendResult', texts.length, WAIT, s);
    });

    itSocat('socat UDP client ↔ framework UDP echo', async () => {
      const su = new RecordingUser('echo');
      const start = makeEcho(su);
      const { s, port } = await bound(su);
      start(s);
      const socat = spawnChild('socat', ['-', `UDP4:127.0.0.1:${port}`]);
      socat.proc.stdin.write('hello from socat\n');
      await socat.waitForOutput('hello from socat\n');
      socat.proc.stdin.write('second line\n');
      await socat.waitForOutput('second line\n');
      expect(socat.stdout()).toBe('hello from socat\nsecond line\n');
      const got = datagrams(su, s);
      expect(got.map((d) => d[0])).toEqual(['hello from socat\n', 'second line\n']);
      expect(got[0][1]).toBe('127.0.0.1');
      expect(got[1][2]).toBe(got[0][2]);
    });

    (haveSocat && haveProcNetUdp ? it : it.skip)('framework connected client ↔ socat UDP4-LISTEN server, both directions', async () => {
      const port = await freeUdpPort();
      const socat = spawnChild('socat', [`UDP4-LISTEN:${port},bind=127.0.0.1`, '-']);
      await pollUntil(() => udpPortBound(port) || socat.proc.exitCode !== null, `socat to bind UDP port ${port}`, WAIT);
      expect(socat.proc.exitCode).toBeNull();
      const cu = new RecordingUser('client');
      const c = await connected(cu, `127.0.0.1:${port}`);
      c.recv(new Uint8Array(256));
      c.send(Buffer.from('to socat\n'));
      await socat.waitForOutput('to socat\n');
      await cu.waitFor('socketSendResult', 1, WAIT, c);
      socat.proc.stdin.write('from socat\n');
      await cu.waitFor('socketRecvFromResult', 1, WAIT, c);
      expect(datagrams(cu, c)).toEqual([['from socat\n', '127.0.0.1', port]]);
    });

    it('1000 datagrams of 512 bytes round trip through a framework echo intact and in order (32 in flight)', async () => {
      const N = 1000;
      const SIZE = 512;
      const WINDOW = 32;
      const su = new RecordingUser('echo');
      const start = makeEcho(su, SIZE);
      const { s, port } = await bound(su);
      start(s);

      const payloads = Array.from({ length: N }, (_, i) => {
        const b = randomBytes(SIZE);
        b.writeUInt32BE(i, 0);
        return b;
      });
      let next = 0;
      const cu = new RecordingUser('client');
      const buffer = new Uint8Array(SIZE * 2);
      cu.on('socketRecvFromResult', (c) => {
        if (next < N) c.send(payloads[next++]);
        if (cu.count('socketRecvFromResult') < N) c.recv(buffer);
      });
      const c = await connected(cu, `127.0.0.1:${port}`);
      c.recv(buffer);
      for (; next < WINDOW; next++) c.send(payloads[next]);
      await cu.waitFor('socketRecvFromResult', N, WAIT, c);
      await cu.waitFor('socketSendResult', N, WAIT, c);

      const events = cu.eventsOf('socketRecvFromResult', c);
      expect(events.every((e) => e.args[1] === SIZE && e.args[2] === '127.0.0.1' && e.args[3] === port)).toBe(true);
      const order = events.map((e) => (e.data as Buffer).readUInt32BE(0));
      expect(order).toEqual(payloads.map((_, i) => i));
      expect(sha256(...events.map((e) => e.data as Buffer))).toBe(sha256(...payloads));
      expect(c.bytesSent).toBe(N * SIZE);
      expect(c.bytesReceived).toBe(N * SIZE);
      expect(s.droppedDatagrams).toBe(0);
      expect(c.droppedDatagrams).toBe(0);
    });
  });
});
