/**
 * Datagram time-outs where 0 disables (issue #16): `shutdownTimeoutMs` of UDP and DTLS sockets
 * and `handshakeTimeoutMs` of DTLS. Each 0 case is compared with a sibling that has a small
 * non-zero time-out and does end: the 0 socket is watched for 1.5x the time the sibling took,
 * then released or shut down. A delay beyond Node's timer limit (2^31 - 1 ms) must not fire
 * early either. Loopback only; every wait bounded.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketProvider, ShutdownReason } from '../../lib';
import { DatagramSocket } from '../../lib/core/datagram-socket';
import { makeTestPki, TestPki } from '../../scripts/certs';
import { fakeTransport } from '../helpers/fake-datagram';
import { pollUntil, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guard, guardProvider, RecordingUser } from '../helpers/recording-user';
import { closePlainSockets, plainUdp } from '../helpers/udp-peers';

const WAIT = 15000;

/** Resolves at `performance.now()` >= `at`. */
function until(at: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));
}

afterEach(async () => {
  const violations = await cleanupAndCheck();
  closePlainSockets();
  expect(violations).toEqual([]);
});

describe('UDP shutdownTimeoutMs', () => {
  /** A connected UDP socket over a handle that keeps its sends until told: three sends held, then shutdown(). */
  async function shutDownWithSendsStuck(shutdownTimeoutMs: number) {
    const transport = fakeTransport();
    const user = new RecordingUser(`udp-${shutdownTimeoutMs}`);
    const s = guard(new DatagramSocket(transport, user, { shutdownTimeoutMs })); // checks the always-rules
    s.connect('127.0.0.1:40001');
    for (let i = 0; i < 3; i++) s.send(Buffer.from(`held ${i}`)); // held until the connect completes
    const start = performance.now();
    s.shutdown(); // the sends go out once connected; the handle does not complete them
    await pollUntil(() => transport.handles[0]?.inFlight.length === 3, 'the three sends handed to the handle', WAIT);
    return { s, user, handle: transport.handles[0], start };
  }

  it('0 disables the bound: shutdown() with sends in flight waits for them, however long (a 50 ms sibling closes anyway)', async () => {
    const sibling = await shutDownWithSendsStuck(50);
    const unbounded = await shutDownWithSendsStuck(0);
    expect(await sibling.user.waitForShutdown(sibling.s, WAIT)).toBe(ShutdownReason.Normal);
    const took = performance.now() - sibling.start;
    expect(sibling.user.count('socketSendResult')).toBe(0); // closed before the OS took them

    await until(unbounded.start + 1.5 * took);
    expect(unbounded.user.names(unbounded.s)).toEqual([]); // not even socketConnectComplete (shutdown came first)
    expect(unbounded.handle.closed).toBe(false);

    unbounded.handle.complete();
    expect(await unbounded.user.waitForShutdown(unbounded.s, WAIT)).toBe(ShutdownReason.Normal);
    expect(unbounded.user.names(unbounded.s)).toEqual(['socketSendResult', 'socketSendResult', 'socketSendResult', 'socketShutdown']);
    expect(unbounded.handle.closed).toBe(true);
    expect(unbounded.handle.inFlight.map((x) => x.data.toString())).toEqual([]);
    sibling.handle.complete(); // late completions of a closed socket are dropped
  });

  it('0 over real dgram: every send goes out and gets its result, then SOCKET_SHUTDOWN_NORMAL', async () => {
    const peer = await plainUdp();
    const udp = guardProvider(createUdpSocketProvider());
    const user = new RecordingUser('udp-0-real');
    const s = udp.createSocket(user, { shutdownTimeoutMs: 0 });
    s.connect(`127.0.0.1:${peer.port}`);
    for (let i = 0; i < 20; i++) s.send(Buffer.from(`datagram ${i}`));
    s.shutdown();
    expect(await user.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
    expect(user.count('socketSendResult', s)).toBe(20);
    await peer.waitFor(20);
    expect(peer.messages.map((m) => m.data.toString())).toEqual(Array.from({ length: 20 }, (_, i) => `datagram ${i}`));
  });
});

describe('DTLS handshakeTimeoutMs', () => {
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

  /** A DTLS client upgraded from a UDP socket connected to a plain peer that never answers. */
  async function silentHandshake(handshakeTimeoutMs: number): Promise<{ socket: ISocket; user: RecordingUser; start: number }> {
    const sink = await plainUdp();
    const udpUser = new RecordingUser(`udp-for-${handshakeTimeoutMs}`);
    const s = udp.createSocket(udpUser);
    s.connect(`127.0.0.1:${sink.port}`);
    await udpUser.waitFor('socketConnectComplete', 1, WAIT, s);
    const ctx = tlsp.createSocketContext();
    ctx.enableDtls();
    ctx.setCertificateAuthority(pki.ca);
    const user = new RecordingUser(`dtls-${handshakeTimeoutMs}`);
    const start = performance.now();
    const socket = tlsp.upgradeToTls(s, user, { context: ctx, handshakeTimeoutMs });
    await sink.waitFor(1); // the ClientHello went out: the handshake runs
    return { socket, user, start };
  }

  it('0 disables the bound: against a silent peer the handshake does not end by itself (a 300 ms sibling fails), shutdown() ends it NORMAL', async () => {
    const sibling = await silentHandshake(300);
    const unbounded = await silentHandshake(0);
    // Beyond Node's timer limit: Node would run a plain setTimeout after 1 ms; armed in steps instead.
    const huge = await silentHandshake(2 ** 31);
    expect(await sibling.user.waitForShutdown(sibling.socket, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
    const took = performance.now() - sibling.start;

    await until(Math.max(unbounded.start, huge.start) + 1.5 * took);
    expect(unbounded.user.names(unbounded.socket)).toEqual([]);
    expect(huge.user.names(huge.socket)).toEqual([]);

    unbounded.socket.shutdown();
    huge.socket.shutdown();
    expect(await unbounded.user.waitForShutdown(unbounded.socket, WAIT)).toBe(ShutdownReason.Normal);
    expect(await huge.user.waitForShutdown(huge.socket, WAIT)).toBe(ShutdownReason.Normal);
    expect(unbounded.user.names(unbounded.socket)).toEqual(['socketShutdown']);
    expect(huge.user.names(huge.socket)).toEqual(['socketShutdown']);
  });
});

describe('time-out options', () => {
  it('shutdownTimeoutMs is checked like every time-out option: a whole number >= 0, 0 allowed', async () => {
    const udp = createUdpSocketProvider();
    const user = new RecordingUser('udp-options');
    expect(() => udp.createSocket(user, { shutdownTimeoutMs: -1 })).toThrow(RangeError);
    const s = udp.createSocket(user, { shutdownTimeoutMs: 0 });
    s.shutdown();
    expect(await user.waitForShutdown(s, WAIT)).toBe(ShutdownReason.Normal);
    await pollUntil(() => user.count('socketShutdown') === 1, 'one shutdown');
  });
});
