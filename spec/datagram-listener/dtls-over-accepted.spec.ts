/**
 * A step towards the DTLS listener (issue #19 part 2): a per-peer socket accepted by a UDP
 * datagram listener can be upgraded to the DTLS server side on its own (its PeerPath is handed
 * to the DTLS socket; the ClientHello that made the offer goes to the session). Several DTLS
 * clients on one port, each with its own SRTP keying material equal to its peer's.
 * Not yet the stateless-cookie DTLS listener: werift runs its own HelloVerifyRequest per session.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext } from '../../lib';
import { loadPki } from '../helpers/tls-fixture';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';

const WAIT = 30000;
const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider()); // guarded: the registry knows which sockets were taken over

afterEach(async () => {
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

it('5 DTLS clients on one listener port: each accepted socket upgraded server-side, data and SRTP keying per peer', async () => {
  const serverCtx: ISocketContext = tls.createSocketContext();
  serverCtx.setServerCertificate(pki.server);
  serverCtx.enableDtls(true);
  const clientCtx: ISocketContext = tls.createSocketContext();
  clientCtx.setCertificateAuthority(pki.ca);
  clientCtx.enableDtls(true);
  const servers: ISocket[] = [];
  const su = new RecordingUser('dtls-servers')
    .on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(2048)))
    .on('socketRecvFromResult', (s, buf: Uint8Array, len: number) => {
      s.send(Buffer.concat([Buffer.from('echo:'), Buffer.from(buf.subarray(0, len))]));
      s.recv(buf);
    });
  const upgrader = new RecordingUser('accepted-udp').on('socketAcceptComplete', (s) => {
    servers.push(tls.upgradeToTls(s, su, { serverSide: true, context: serverCtx }));
  });
  const lu = new RecordingUser('listener', { accept: () => upgrader });
  const l = udp.createSocket(lu);
  l.bind('127.0.0.1', 0);
  l.listen();
  await lu.waitFor('socketBindResult', 1, WAIT, l);
  const port = l.localPort as number;
  const N = 5;
  const cu = new RecordingUser('clients')
    .on('socketUpgradeToTlsComplete', (s) => {
      s.recv(new Uint8Array(2048));
      s.send(Buffer.from(`hello ${s.localPort}`));
    })
    .on('socketRecvFromResult', (s, buf: Uint8Array) => s.recv(buf));
  const udpUser = new RecordingUser('client-udp').on('socketConnectComplete', (s) => tls.upgradeToTls(s, cu, { context: clientCtx }));
  for (let i = 0; i < N; i++) udp.createSocket(udpUser).connect(`127.0.0.1:${port}`);
  await cu.waitFor('socketRecvFromResult', N, WAIT);
  const clients = cu.eventsOf('socketRecvFromResult').map((e) => e.socket);
  for (const c of clients) {
    const answer = cu.eventsOf('socketRecvFromResult', c).map((e) => String(e.data));
    expect(answer).toEqual([`echo:hello ${c.localPort}`]);
    const server = servers.find((s) => s.remotePort === c.localPort)!;
    expect(server.getSrtpKeyingMaterial()).toEqual(c.getSrtpKeyingMaterial());
  }
  expect(new Set(clients.map((c) => Buffer.from(c.getSrtpKeyingMaterial()!.material).toString('hex'))).size).toBe(N);
  expect(l.connectionCount).toBe(N);
  for (const c of clients) c.shutdown();
  l.shutdown();
}, 60000);
