/**
 * ALPN per peer on the DTLS listener (issue #19 item 4): each peer's handshake makes its own
 * choice by the listener's preference; the accepted socket's user approves it in
 * `socketAcceptSelectedAlpnProtocol` just before `socketAcceptComplete`; a peer with no protocol
 * in common is refused (no_application_protocol) and never offered, without disturbing the
 * others; a veto ends that accepted socket only. Framework clients and an `openssl s_client`.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ShutdownReason } from '../../lib';
import { alpnDtlsContext } from '../helpers/dtls-alpn';
import { hasOpenssl, killAllOpenssl, PemDir, runOpenssl } from '../helpers/openssl';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { loadPki } from '../helpers/tls-fixture';

const WAIT = 20000;
const R = ShutdownReason;
const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider());

afterEach(async () => {
  await killAllOpenssl();
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

/** A DTLS listener with this ALPN list on a bound, listening UDP socket of 127.0.0.1. */
async function dtlsListener(lu: RecordingUser, alpn: string[]): Promise<{ l: ISocket; port: number }> {
  const bu = new RecordingUser('udp-listener');
  const u = udp.createSocket(bu);
  u.bind('127.0.0.1', 0);
  u.listen();
  await bu.waitFor('socketBindResult', 1, WAIT, u);
  const l = tls.upgradeToTls(u, lu, { serverSide: true, context: alpnDtlsContext(tls, pki, 'server', alpn) });
  return { l, port: u.localPort as number };
}

/** A framework DTLS client to `port` offering `alpn`; resolves with the DTLS socket once upgraded (not handshaken). */
async function client(port: number, alpn: string[] | null, cu: RecordingUser, handshakeTimeoutMs?: number): Promise<ISocket> {
  const pu = new RecordingUser('client-udp');
  const c = udp.createSocket(pu);
  c.connect(`127.0.0.1:${port}`);
  await pu.waitFor('socketConnectComplete', 1, WAIT, c);
  return tls.upgradeToTls(c, cu, { context: alpnDtlsContext(tls, pki, 'client', alpn), handshakeTimeoutMs });
}

/** Accepted sockets echo what they receive. */
function echoUser(label: string): RecordingUser {
  return new RecordingUser(label)
    .on('socketAcceptComplete', (s) => s.recv(new Uint8Array(2048)))
    .on('socketRecvFromResult', (s, buf: Uint8Array, len: number) => {
      s.send(Buffer.from(buf.subarray(0, len)));
      s.recv(buf);
    });
}

/** The accepted socket of the peer whose local port is `port`. */
function acceptedOf(peers: RecordingUser, port: number): ISocket {
  const e = peers.eventsOf('socketAcceptComplete').find((x) => x.socket.remotePort === port);
  if (!e) throw new Error(`no accepted socket for the peer on port ${port}\n${peers.describe()}`);
  return e.socket;
}

it('four clients with different lists on one listener port: each gets its own choice, by the listener’s preference', async () => {
  const peers = echoUser('dtls-peers');
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu, ['h2', 'coap', 'mqtt']);
  const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => {
    s.recv(new Uint8Array(256));
    s.send(Buffer.from(`from ${s.localPort}`));
  });
  const lists: Array<[string[] | null, string | null]> = [
    [['mqtt', 'coap'], 'coap'],
    [['mqtt'], 'mqtt'],
    [['x', 'h2', 'mqtt'], 'h2'],
    [null, null],
  ];
  const clients = await Promise.all(lists.map(([alpn]) => client(port, alpn, cu)));
  await cu.waitFor('socketRecvFromResult', clients.length, WAIT);
  for (const [i, c] of clients.entries()) {
    const expected = lists[i][1];
    const s = acceptedOf(peers, c.localPort as number);
    expect([c.alpnProtocol, s.alpnProtocol]).toEqual([expected, expected]);
    // The accepted socket's user approves just before socketAcceptComplete; the client's user too.
    expect(peers.names(s).slice(0, expected ? 2 : 1)).toEqual(
      expected ? ['socketAcceptSelectedAlpnProtocol', 'socketAcceptComplete'] : ['socketAcceptComplete'],
    );
    if (expected) expect(peers.eventsOf('socketAcceptSelectedAlpnProtocol', s)[0].args).toEqual([expected]);
    expect(cu.eventsOf('socketAcceptSelectedAlpnProtocol', c).map((e) => e.args[0])).toEqual(expected ? [expected] : []);
    expect(String(cu.eventsOf('socketRecvFromResult', c)[0].data)).toBe(`from ${c.localPort}`);
  }
  for (const c of clients) c.shutdown();
  l.shutdown();
});

it('a client with nothing in common is refused and never offered (SOCKET_ALPN_SELECTION_FAILED at its time-out); the others on the port are served', async () => {
  const peers = echoUser('dtls-peers');
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu, ['coap']);
  const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(64)));
  const refused = await client(port, ['http/1.1'], cu, 1500);
  const good = await client(port, ['coap'], cu);
  await cu.waitFor('socketUpgradeToTlsComplete', 1, WAIT, good);
  expect(good.alpnProtocol).toBe('coap');
  expect(await cu.waitForShutdown(refused, WAIT)).toBe(R.AlpnSelectionFailed);
  expect(cu.names(refused)).toEqual(['socketShutdown']);
  expect(lu.count('socketListenResult')).toBe(1);
  expect(l.stats().listener?.handshaking).toBe(0);
  good.send(Buffer.from('still served'));
  await cu.waitFor('socketRecvFromResult', 1, WAIT, good);
  good.shutdown();
  l.shutdown();
});

it('the accepted socket’s veto ends that socket (SOCKET_ALPN_SELECTION_FAILED, no socketAcceptComplete) and its client BY_PEER; the next peer is accepted', async () => {
  let n = 0;
  const vetoing = new RecordingUser('vetoing').on('socketAcceptSelectedAlpnProtocol', () => false);
  const peers = echoUser('dtls-peers');
  const lu = new RecordingUser('dtls-listener', { accept: () => (n++ === 0 ? vetoing : peers) });
  const { l, port } = await dtlsListener(lu, ['coap']);
  const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(64)));
  const first = await client(port, ['coap'], cu);
  expect(await cu.waitForShutdown(first, WAIT)).toBe(R.ByPeer);
  await vetoing.waitFor('socketShutdown', 1, WAIT);
  expect(vetoing.names()).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketShutdown']);
  expect(vetoing.shutdownReason()).toBe(R.AlpnSelectionFailed);
  const second = await client(port, ['coap'], cu);
  await peers.waitFor('socketAcceptComplete', 1, WAIT);
  expect(acceptedOf(peers, second.localPort as number).alpnProtocol).toBe('coap');
  second.shutdown();
  l.shutdown();
});

(hasOpenssl() ? it : it.skip)('openssl s_client -alpn mqtt,h2 and a framework client [coap] on one listener: h2 and coap', async () => {
  const pem = new PemDir();
  try {
    const ca = pem.write('ca.pem', `${pki.ca}\n`);
    const peers = echoUser('dtls-peers');
    const lu = new RecordingUser('dtls-listener', { accept: () => peers });
    const { l, port } = await dtlsListener(lu, ['h2', 'coap', 'mqtt']);
    const s = runOpenssl(['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-CAfile', ca, '-verify_return_error', '-alpn', 'mqtt,h2']);
    const cu = new RecordingUser('clients');
    const c = await client(port, ['coap'], cu);
    await s.waitForOutput(/^ALPN protocol: h2$/m, WAIT);
    await cu.waitFor('socketUpgradeToTlsComplete', 1, WAIT, c);
    await peers.waitFor('socketAcceptComplete', 2, WAIT);
    expect(acceptedOf(peers, c.localPort as number).alpnProtocol).toBe('coap');
    const theirs = peers.eventsOf('socketAcceptComplete').find((e) => e.socket.remotePort !== c.localPort)!.socket;
    expect(theirs.alpnProtocol).toBe('h2');
    s.write('echo me\n');
    await s.waitForOutput(/Verify return code: 0 \(ok\)[\s\S]*\necho me\n/, WAIT); // our echo (s_client does not print its input)
    c.shutdown();
    l.shutdown();
  } finally {
    pem.remove();
  }
});
