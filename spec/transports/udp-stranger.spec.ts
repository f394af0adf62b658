/**
 * A connected UDP socket hears only its peer (CONTRACT §7), also for datagrams that reached
 * its port before the connect (issue #15, defect 4).
 *
 * `connect()` makes the dgram socket bind an ephemeral port first and connect it a moment
 * later. A datagram that reaches the port in between is queued (in the kernel, or already in
 * the socket's own queue), and the kernel's filter of a connected socket never looks at it
 * again. The contract's mode lock keeps `bind()`/`sendTo()` and `connect()` apart, so that
 * window is the only way in; these tests make it wide and deterministic by patching
 * `dgram.Socket.prototype.connect` for one call: bind, let a stranger send to the port (and,
 * for some tests, wait until the socket read the datagram), then connect.
 *
 * Such datagrams are dropped and counted in `stats().strangerDatagrams` (DTLS counts the
 * same way). Loopback only, port 0, every wait bounded.
 */
import * as dgram from 'node:dgram';
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketProvider, SocketOptions } from '../../lib';
import { makeTestPki, TestPki } from '../../scripts/certs';
import { hasIpv6Loopback, pollUntil, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { closePlainSockets, plainUdp, PlainUdp } from '../helpers/udp-peers';

const WAIT = 15000;

const originalConnect = dgram.Socket.prototype.connect;

/**
 * Makes the next `dgram` connect of this process bind first (as dgram does itself) and run
 * `between(sock, port)` before the real connect: the window between dgram's implicit bind and
 * its connect, held open until `between` resolves.
 */
function holdConnectWindow(between: (sock: dgram.Socket, port: number) => Promise<void>): void {
  dgram.Socket.prototype.connect = function patched(this: dgram.Socket, ...args: unknown[]): void {
    dgram.Socket.prototype.connect = originalConnect; // once
    this.bind({ port: 0, exclusive: true }, () => {
      between(this, this.address().port).then(
        () => (originalConnect as (...a: unknown[]) => void).apply(this, args),
        (err: Error) => this.emit('error', err),
      );
    });
  } as typeof originalConnect;
}

/** The stranger's datagram is read by the socket before the connect (it waits in the socket's queue). */
function readBeforeConnect(stranger: PlainUdp, text = 'from a stranger'): (sock: dgram.Socket, port: number) => Promise<void> {
  return async (sock, port) => {
    const read = new Promise<void>((resolve) => sock.once('message', () => resolve()));
    await stranger.send(Buffer.from(text), port);
    await withTimeout(read, WAIT, 'the socket to read the stranger’s datagram before its connect');
  };
}

/** The stranger's datagram is handed to the kernel and the connect follows at once (it waits in the kernel's queue). */
function inKernelAtConnect(stranger: PlainUdp, text = 'from a stranger', host = '127.0.0.1'): (sock: dgram.Socket, port: number) => Promise<void> {
  return (_sock, port) => stranger.send(Buffer.from(text), port, host);
}

/** The datagrams `u` received on `s`, as [text, srcAddr, srcPort]. */
function datagrams(u: RecordingUser, s: ISocket): Array<[string, string, number]> {
  return u.eventsOf('socketRecvFromResult', s).map((e) => [String(e.data), e.args[2] as string, e.args[3] as number]);
}

describe('a connected UDP socket and datagrams from strangers', () => {
  let udp: ISocketProvider;

  beforeEach(() => {
    udp = guardProvider(createUdpSocketProvider());
  });

  afterEach(async () => {
    dgram.Socket.prototype.connect = originalConnect;
    const violations = await cleanupAndCheck();
    closePlainSockets();
    expect(violations).toEqual([]);
  });

  /**
   * Connects a socket to `peer` through a held-open window, then has the peer send one datagram
   * and returns once a recv delivered something (the first recv is pending from the start when
   * `recvFirst`, else made after the connect).
   */
  async function connectThroughWindow(
    peer: PlainUdp,
    between: (sock: dgram.Socket, port: number) => Promise<void>,
    o: { recvFirst: boolean; address?: string; options?: SocketOptions; peerHost?: string },
  ): Promise<{ u: RecordingUser; s: ISocket }> {
    holdConnectWindow(between);
    const u = new RecordingUser('client');
    const s = udp.createSocket(u, o.options);
    s.connect(o.address ?? `127.0.0.1:${peer.port}`);
    if (o.recvFirst) s.recv(new Uint8Array(64)); // pending while the connect is on its way
    await u.waitFor('socketConnectComplete', 1, WAIT, s);
    const local = s.getLocalAddress();
    expect(local?.port).toBeGreaterThan(0);
    if (!o.recvFirst) s.recv(new Uint8Array(64));
    await peer.send(Buffer.from('from the peer'), local!.port, o.peerHost);
    await u.waitFor('socketRecvFromResult', 1, WAIT, s);
    return { u, s };
  }

  it('a datagram read before the connect completes does not complete a recv pending since connect(): dropped, counted', async () => {
    const peer = await plainUdp();
    const stranger = await plainUdp();
    const { u, s } = await connectThroughWindow(peer, readBeforeConnect(stranger), { recvFirst: true });
    expect(datagrams(u, s)).toEqual([['from the peer', '127.0.0.1', peer.port]]);
    expect(s.stats()).toMatchObject({ strangerDatagrams: 1, readAheadBytes: 0, droppedDatagrams: 0, messagesReceived: 1, bytesReceived: 13 });
    expect(u.names(s)).toEqual(['socketConnectComplete', 'socketRecvFromResult']);
  });

  it('a datagram queued before the connect is not served to the first recv after it: dropped, counted', async () => {
    const peer = await plainUdp();
    const stranger = await plainUdp();
    const { u, s } = await connectThroughWindow(peer, readBeforeConnect(stranger), { recvFirst: false });
    expect(datagrams(u, s)).toEqual([['from the peer', '127.0.0.1', peer.port]]);
    expect(s.stats()).toMatchObject({ strangerDatagrams: 1, readAheadBytes: 0 });
  });

  it('a datagram still in the kernel’s queue at the connect is read after it and dropped, counted', async () => {
    const peer = await plainUdp();
    const stranger = await plainUdp();
    const { u, s } = await connectThroughWindow(peer, inKernelAtConnect(stranger), { recvFirst: true });
    expect(datagrams(u, s)).toEqual([['from the peer', '127.0.0.1', peer.port]]);
    expect(s.stats()).toMatchObject({ strangerDatagrams: 1, readAheadBytes: 0 });
  });

  it('the peer’s own datagram that arrived before the connect is kept, the stranger’s around it dropped', async () => {
    const peer = await plainUdp();
    const stranger = await plainUdp();
    const between = async (sock: dgram.Socket, port: number): Promise<void> => {
      let n = 0;
      const read = new Promise<void>((resolve) => sock.on('message', () => ++n === 3 && resolve()));
      await stranger.send(Buffer.from('stranger 1'), port);
      await peer.send(Buffer.from('early from the peer'), port);
      await stranger.send(Buffer.from('stranger 2'), port);
      await withTimeout(read, WAIT, 'the three datagrams to be read before the connect');
    };
    const { u, s } = await connectThroughWindow(peer, between, { recvFirst: true });
    s.recv(new Uint8Array(64));
    await u.waitFor('socketRecvFromResult', 2, WAIT, s);
    expect(datagrams(u, s)).toEqual([
      ['early from the peer', '127.0.0.1', peer.port],
      ['from the peer', '127.0.0.1', peer.port],
    ]);
    expect(s.stats()).toMatchObject({ strangerDatagrams: 2, readAheadBytes: 0, messagesReceived: 2 });
  });

  it('connect to a host name (resolved after connect() returns): the stranger is dropped all the same', async () => {
    const peer = await plainUdp();
    const stranger = await plainUdp();
    const { u, s } = await connectThroughWindow(peer, inKernelAtConnect(stranger), { recvFirst: true, address: `localhost:${peer.port}` });
    expect(datagrams(u, s)).toEqual([['from the peer', '127.0.0.1', peer.port]]);
    expect(s.stats().strangerDatagrams).toBe(1);
  });

  (hasIpv6Loopback() ? it : it.skip)('an IPv6 socket connected to an IPv4-mapped address keeps its IPv4 peer and drops the IPv4 stranger', async () => {
    const peer = await plainUdp();
    const stranger = await plainUdp();
    const { u, s } = await connectThroughWindow(peer, readBeforeConnect(stranger), {
      recvFirst: true,
      address: `[::ffff:127.0.0.1]:${peer.port}`,
      options: { ipv6: true },
    });
    expect(datagrams(u, s)).toEqual([['from the peer', '::ffff:127.0.0.1', peer.port]]);
    expect(s.stats().strangerDatagrams).toBe(1);
  });

  it('a bound socket hears everyone and counts no strangers; a fresh socket reports 0', async () => {
    const u = new RecordingUser('server');
    const s = udp.createSocket(u);
    expect(s.stats().strangerDatagrams).toBe(0);
    s.bind('127.0.0.1', 0);
    await u.waitFor('socketBindResult', 1, WAIT, s);
    const a = await plainUdp();
    const b = await plainUdp();
    const port = s.getLocalAddress()!.port;
    s.recv(new Uint8Array(16));
    await a.send(Buffer.from('a'), port);
    await u.waitFor('socketRecvFromResult', 1, WAIT, s);
    s.recv(new Uint8Array(16));
    await b.send(Buffer.from('b'), port);
    await u.waitFor('socketRecvFromResult', 2, WAIT, s);
    expect(datagrams(u, s).map((d) => d[0])).toEqual(['a', 'b']);
    expect(s.stats().strangerDatagrams).toBe(0);
  });
});

describe('DTLS: strangerDatagrams is a stats() field', () => {
  let pki: TestPki;
  let udp: ISocketProvider;
  let tlsp: ISocketProvider;

  beforeAll(async () => {
    pki = await withTimeout(makeTestPki(), 25000, 'the test PKI');
  }, 30000);

  beforeEach(() => {
    udp = guardProvider(createUdpSocketProvider());
    tlsp = guardProvider(createTlsSocketProvider());
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck();
    closePlainSockets();
    expect(violations).toEqual([]);
  });

  it('a bound DTLS server that serves its peer counts the stranger’s datagram in stats()', async () => {
    const serverCtx = tlsp.createSocketContext();
    serverCtx.enableDtls();
    serverCtx.setServerCertificate(pki.server);
    const clientCtx = tlsp.createSocketContext();
    clientCtx.enableDtls();
    clientCtx.setCertificateAuthority(pki.ca);

    const su = new RecordingUser('server-udp');
    const sUdp = udp.createSocket(su);
    sUdp.bind('127.0.0.1', 0);
    await su.waitFor('socketBindResult', 1, WAIT, sUdp);
    const port = sUdp.getLocalAddress()!.port;
    const sd = new RecordingUser('dtls-server');
    const server = tlsp.upgradeToTls(sUdp, sd, { serverSide: true, context: serverCtx });

    const cu = new RecordingUser('client-udp');
    const cUdp = udp.createSocket(cu);
    cUdp.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, cUdp);
    const cd = new RecordingUser('dtls-client');
    const client = tlsp.upgradeToTls(cUdp, cd, { context: clientCtx, serverName: 'localhost' });
    await sd.waitFor('socketUpgradeToTlsComplete', 1, WAIT, server);
    await cd.waitFor('socketUpgradeToTlsComplete', 1, WAIT, client);

    expect(server.stats().strangerDatagrams).toBe(0);
    const stranger = await plainUdp();
    await stranger.send(Buffer.from('not the peer'), port);
    await pollUntil(() => server.stats().strangerDatagrams === 1, 'the stranger to be counted', WAIT);
    expect(client.stats().strangerDatagrams).toBe(0);
  });
});
