/**
 * The DTLS listener's shutdown (issue #19): `listener.shutdown()` ends handshakes in progress
 * and peers not offered yet at once, so the shared UDP port closes as soon as no accepted DTLS
 * socket lives, not after the handshakes' time-out; accepted sockets live on until their own end.
 */
import * as dgram from 'node:dgram';
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, ShutdownReason } from '../../lib';
import { withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { loadPki } from '../helpers/tls-fixture';
import { dtlsListener as startListener, echoPeers, returnCookieOnce } from './fixtures/dtls-listener';

const WAIT = 10000;
/** Far beyond every wait of this file: a handshake that ends did not end by its time-out. */
const HANDSHAKE_TIMEOUT_MS = 120000;
const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider());
const raw: dgram.Socket[] = [];

afterEach(async () => {
  for (const s of raw.splice(0)) s.close();
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

function serverContext(): ISocketContext {
  const server = tls.createSocketContext();
  server.setServerCertificate(pki.server);
  server.enableDtls(true);
  return server;
}

function dtlsListener(lu: RecordingUser): Promise<{ l: ISocket; port: number }> {
  return startListener({ udp, tls }, lu, { context: serverContext(), handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS }, WAIT);
}

/** A raw peer that returns the cookie once (its session starts) and never answers the ServerHello flight; resolves once that flight came. */
function stuckPeer(port: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  raw.push(s);
  const flight = new Promise<void>((resolve) => s.on('message', (m: Buffer) => m[0] === 22 && m[13] === 2 && resolve())); // server_hello
  returnCookieOnce(s, port);
  return withTimeout(flight, WAIT, 'the ServerHello flight to a stuck peer');
}

/** Resolves once a UDP socket can bind `port` again (the listener's handle is closed); bounded. */
async function portFreed(port: number, ms: number): Promise<void> {
  const tryBind = (): Promise<boolean> =>
    new Promise((resolve) => {
      const probe = dgram.createSocket('udp4');
      probe.once('error', () => {
        probe.close();
        resolve(false);
      });
      probe.bind(port, '127.0.0.1', () => {
        probe.close();
        resolve(true);
      });
    });
  const deadline = Date.now() + ms;
  while (!(await tryBind())) {
    if (Date.now() > deadline) throw new Error(`port ${port} still bound after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

it('shutdown() with handshakes in progress and no accepted socket: the handshakes end at once and the port closes', async () => {
  const lu = new RecordingUser('dtls-listener', { accept: () => new RecordingUser('peers') });
  const { l, port } = await dtlsListener(lu);
  await Promise.all([stuckPeer(port), stuckPeer(port), stuckPeer(port)]);
  expect(l.stats().listener).toMatchObject({ handshaking: 3, live: 0 });
  l.shutdown();
  expect(await lu.waitForShutdown(l, WAIT)).toBe(ShutdownReason.Normal);
  expect(l.stats().listener).toMatchObject({ handshaking: 0, live: 0 });
  await portFreed(port, WAIT);
  expect(lu.count('socketListenResult')).toBe(0);
});

it('shutdown() with an accepted socket and a handshake in progress: the handshake ends at once, the accepted socket works on, the port closes when it ends', async () => {
  const peers = echoPeers();
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu);
  const clientContext = tls.createSocketContext();
  clientContext.setCertificateAuthority(pki.ca);
  clientContext.enableDtls(true);
  const cu = new RecordingUser('client').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(256)));
  const cuUdp = new RecordingUser('client-udp').on('socketConnectComplete', (s) => tls.upgradeToTls(s, cu, { context: clientContext }));
  udp.createSocket(cuUdp).connect(`127.0.0.1:${port}`);
  await peers.waitFor('socketAcceptComplete', 1, WAIT);
  await stuckPeer(port);
  expect(l.stats().listener).toMatchObject({ handshaking: 1, live: 1 });

  l.shutdown();
  expect(await lu.waitForShutdown(l, WAIT)).toBe(ShutdownReason.Normal);
  expect(l.stats().listener).toMatchObject({ handshaking: 0, live: 1 });
  // The accepted socket still echoes.
  const client = cu.eventsOf('socketUpgradeToTlsComplete')[0].socket;
  client.send(Buffer.from('after the listener'));
  await cu.waitFor('socketRecvFromResult', 1, WAIT);
  expect(Buffer.from(cu.eventsOf('socketRecvFromResult')[0].data as Buffer).toString()).toBe('after the listener');
  // Its end (the client's close_notify) releases the port.
  client.shutdown();
  await peers.waitFor('socketShutdown', 1, WAIT);
  await portFreed(port, WAIT);
});

it('shutdown() while 40 admitted peers wait for their session to start (a burst): none starts, the port closes at once', async () => {
  const lu = new RecordingUser('dtls-listener', { accept: () => new RecordingUser('peers') });
  const { l, port } = await dtlsListener(lu);
  const peers = Array.from({ length: 40 }, () => dgram.createSocket('udp4'));
  raw.push(...peers);
  for (const s of peers) returnCookieOnce(s, port);
  for (let t = 0; t < 5000 && (l.stats().listener?.handshaking ?? 0) < 10; t++) await new Promise((r) => setImmediate(r));
  expect(l.stats().listener?.handshaking).toBeGreaterThanOrEqual(10);
  l.shutdown();
  expect(l.stats().listener).toMatchObject({ handshaking: 0, live: 0 });
  await portFreed(port, WAIT);
  expect(await lu.waitForShutdown(l, WAIT)).toBe(ShutdownReason.Normal);
  expect(lu.count('socketListenResult')).toBe(0);
});

it('shutdown() inside socketListenResult, with handshakes in progress: the offered peer denied (its client ends BY_PEER), the others end, the port closes', async () => {
  const lu = new RecordingUser('dtls-listener').on('socketListenResult', (listener) => {
    listener.accept(null);
    listener.shutdown();
  });
  const { l, port } = await dtlsListener(lu);
  await Promise.all([stuckPeer(port), stuckPeer(port)]);
  const clientContext = tls.createSocketContext();
  clientContext.setCertificateAuthority(pki.ca);
  clientContext.enableDtls(true);
  const cu = new RecordingUser('client');
  const cuUdp = new RecordingUser('client-udp').on('socketConnectComplete', (s) => tls.upgradeToTls(s, cu, { context: clientContext }));
  udp.createSocket(cuUdp).connect(`127.0.0.1:${port}`);
  expect(await lu.waitForShutdown(l, WAIT)).toBe(ShutdownReason.Normal);
  expect(l.stats().listener?.handshaking).toBe(0);
  // The denied peer's socket sends its close_notify, then ends: the port closes after it.
  await portFreed(port, WAIT);
  expect(l.stats().listener).toMatchObject({ handshaking: 0, live: 0 });
  expect(await cu.waitForShutdown(undefined, WAIT)).toBe(ShutdownReason.ByPeer);
});
