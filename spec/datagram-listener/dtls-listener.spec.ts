/**
 * The DTLS listener (issue #19 part 2): `listen()` on a bound UDP socket, then
 * `upgradeToTls(it, user, { serverSide: true, context })`. Each peer runs its own handshake and
 * is offered in `socketListenResult` once it is done; `accept(user)` hands over its DTLS socket.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, ShutdownReason, UpgradeOptions } from '../../lib';
import * as dgram from 'node:dgram';
import { loadPki } from '../helpers/tls-fixture';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { dtlsListener as startListener, echoPeers, returnCookieOnce } from './fixtures/dtls-listener';

const WAIT = 30000;
const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider());

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

function contexts(): { server: ISocketContext; client: ISocketContext } {
  const server = tls.createSocketContext();
  server.setServerCertificate(pki.server);
  server.enableDtls(true);
  const client = tls.createSocketContext();
  client.setCertificateAuthority(pki.ca);
  client.enableDtls(true);
  return { server, client };
}

/** A DTLS listener of this file's providers. */
function dtlsListener(lu: RecordingUser, server: ISocketContext, extra: UpgradeOptions = {}): Promise<{ l: ISocket; port: number }> {
  return startListener({ udp, tls }, lu, { context: server, ...extra }, WAIT);
}

function connectClients(n: number, port: number, client: ISocketContext, cu: RecordingUser): void {
  const udpUser = new RecordingUser('client-udp').on('socketConnectComplete', (s) => tls.upgradeToTls(s, cu, { context: client }));
  for (let i = 0; i < n; i++) udp.createSocket(udpUser).connect(`127.0.0.1:${port}`);
}

function payload(port: number, i: number): Buffer {
  const b = Buffer.alloc(100 + i * 37);
  for (let k = 0; k < b.length; k++) b[k] = (port + i * 7 + k) & 0xff;
  return b;
}

it('20 DTLS clients on one listener port: each offered after its handshake, 20 datagrams each byte-checked, SRTP keying per peer', async () => {
  const { server, client } = contexts();
  const peers = echoPeers();
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu, server);
  expect(() => l.listen()).toThrow(/DTLS listener already/);
  const N = 20;
  const M = 20;
  const cu = new RecordingUser('clients')
    .on('socketUpgradeToTlsComplete', (s) => {
      s.recv(new Uint8Array(4096));
      for (let i = 0; i < M; i++) s.send(payload(s.localPort as number, i));
    })
    .on('socketRecvFromResult', (s, buf: Uint8Array) => s.recv(buf));
  connectClients(N, port, client, cu);
  await cu.waitFor('socketRecvFromResult', N * M, WAIT);
  const clients = [...new Set(cu.eventsOf('socketUpgradeToTlsComplete').map((e) => e.socket))];
  expect(clients).toHaveLength(N);
  for (const c of clients) {
    const got = cu.eventsOf('socketRecvFromResult', c).map((e) => Buffer.from(e.data as Buffer));
    expect(got.length).toBe(M);
    // Datagrams may be reordered on the wire in principle; on loopback they come in order.
    expect(got.map((b) => b.toString('hex')).sort()).toEqual(Array.from({ length: M }, (_, i) => payload(c.localPort as number, i).toString('hex')).sort());
    const s = peers.eventsOf('socketAcceptComplete').find((e) => e.socket.remotePort === c.localPort)!.socket;
    expect(s).toBeDefined();
    expect(s.getSrtpKeyingMaterial()).toEqual(c.getSrtpKeyingMaterial());
    expect(s.getPeerCertificate()).toBeNull(); // no client certificate asked
    expect(c.getPeerCertificate()).not.toBeNull();
  }
  expect(new Set(clients.map((c) => Buffer.from(c.getSrtpKeyingMaterial()!.material).toString('hex'))).size).toBe(N);
  expect(lu.count('socketListenResult')).toBe(N);
  expect(l.connectionCount).toBe(N);
  expect(l.stats().listener?.accepted).toBe(N);
  for (const c of clients) c.shutdown();
  l.shutdown();
}, 90000);

it('accept(null) ends that client BY_PEER; a client that sends close_notify ends its server socket BY_PEER', async () => {
  const { server, client } = contexts();
  const peers = echoPeers();
  let n = 0;
  const lu = new RecordingUser('dtls-listener', { accept: () => (n++ === 0 ? null : peers) });
  const { l, port } = await dtlsListener(lu, server);
  const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(2048)));
  connectClients(1, port, client, cu);
  await cu.waitFor('socketShutdown', 1, WAIT);
  expect(cu.shutdownReason()).toBe(ShutdownReason.ByPeer);
  connectClients(1, port, client, cu);
  await peers.waitFor('socketAcceptComplete', 1, WAIT);
  await cu.waitFor('socketUpgradeToTlsComplete', 2, WAIT);
  const second = cu.eventsOf('socketUpgradeToTlsComplete')[1].socket;
  second.shutdown();
  const s = peers.eventsOf('socketAcceptComplete')[0].socket;
  await peers.waitFor('socketShutdown', 1, WAIT, s);
  expect(peers.shutdownReason(s)).toBe(ShutdownReason.ByPeer);
  l.shutdown();
}, 60000);

it('listener shutdown leaves accepted DTLS sockets working; upgradeToTls order is listen() first', async () => {
  const { server, client } = contexts();
  const peers = echoPeers();
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu, server);
  const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(2048)));
  connectClients(1, port, client, cu);
  await peers.waitFor('socketAcceptComplete', 1, WAIT);
  await cu.waitFor('socketUpgradeToTlsComplete', 1, WAIT);
  l.shutdown();
  await lu.waitFor('socketShutdown', 1, WAIT, l);
  const c = cu.eventsOf('socketUpgradeToTlsComplete')[0].socket;
  c.send(Buffer.from('after the listener'));
  await cu.waitFor('socketRecvFromResult', 1, WAIT, c);
  expect(String(cu.eventsOf('socketRecvFromResult', c)[0].data)).toBe('after the listener');
  c.shutdown();
  const s = peers.eventsOf('socketAcceptComplete')[0].socket;
  await peers.waitFor('socketShutdown', 1, WAIT, s);

  // A single-peer DTLS server (bound, no listen()) refuses listen(): listen before upgrading.
  const bu = new RecordingUser('bound');
  const u = udp.createSocket(bu);
  u.bind('127.0.0.1', 0);
  await bu.waitFor('socketBindResult', 1, WAIT, u);
  const single = tls.upgradeToTls(u, new RecordingUser('single'), { serverSide: true, context: server });
  expect(() => single.listen()).toThrow(/call listen\(\) on the bound UDP socket first/);
  single.shutdown();
}, 60000);

it('bounds: at most maxHandshakes handshakes at once (more new peers dropped, no state), a stuck handshake freed after handshakeTimeoutMs', async () => {
  const { server, client } = contexts();
  const peers = echoPeers();
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu, server, { maxHandshakes: 2, handshakeTimeoutMs: 300 });
  // Garbage from a new peer makes no state: dropped and counted.
  const junk = dgram.createSocket('udp4');
  junk.send(Buffer.from('not a ClientHello'), port, '127.0.0.1');
  for (let t = 0; t < 100 && (l.stats().listener?.garbageDatagrams ?? 0) < 1; t++) await new Promise((r) => setTimeout(r, 20));
  expect(l.stats().listener).toMatchObject({ garbageDatagrams: 1, handshaking: 0 });
  // Five silent "peers" that answer the cookie once and never finish a handshake.
  const stuck = Array.from({ length: 5 }, () => dgram.createSocket('udp4'));
  for (const s of stuck) returnCookieOnce(s, port);
  for (let t = 0; t < 100 && (l.stats().listener?.refusedDatagrams ?? 0) < 3; t++) await new Promise((r) => setTimeout(r, 20));
  expect(l.stats().listener).toMatchObject({ refusedDatagrams: 3, handshaking: 2 });
  // Once the two stuck handshakes timed out, a real client gets through.
  await new Promise((r) => setTimeout(r, 500));
  const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => s.send(Buffer.from('hi')));
  connectClients(1, port, client, cu);
  await peers.waitFor('socketRecvFromResult', 1, WAIT);
  expect(l.connectionCount).toBe(1);
  cu.eventsOf('socketUpgradeToTlsComplete')[0].socket.shutdown();
  for (const s of [...stuck, junk]) s.close();
  l.shutdown();
}, 30000);
