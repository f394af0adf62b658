/**
 * ALPN over DTLS against a real, independent peer: the `openssl` command line.
 *
 * - `openssl s_client -dtls1_2 -alpn …` against our DTLS server (a bound UDP socket upgraded):
 *   our server picks by its own preference and s_client reports it; a client without `-alpn`
 *   leaves `alpnProtocol` null; nothing in common: s_client reports our no_application_protocol
 *   alert and our server ends SOCKET_ALPN_SELECTION_FAILED.
 * - Our DTLS client against `openssl s_server -dtls1_2 -alpn …`: s_server sees our list and picks
 *   by its preference; an s_server without `-alpn` leaves it null; nothing in common: s_server
 *   sends no_application_protocol and our client ends SOCKET_ALPN_SELECTION_FAILED (at its
 *   handshake time-out: alerts during the handshake are unauthenticated, docs/dtls.md).
 *
 * Data goes both ways after each successful handshake. PEM files live in a temp dir; every
 * process is killed after each test; every wait is bounded.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ShutdownReason } from '../../lib';
import { closePlainSockets, freeUdpPort } from '../helpers/dtls';
import { alpnDtlsContext, receivedText, receivingUser, withOpensslOutput } from '../helpers/dtls-alpn';
import { hasOpenssl, killAllOpenssl, OpensslProcess, PemDir, runOpenssl } from '../helpers/openssl';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { loadPki } from '../helpers/tls-fixture';

const WAIT = 15000;
const R = ShutdownReason;
const describeOpenssl = hasOpenssl() ? describe : describe.skip;
const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider());

describeOpenssl('ALPN over DTLS against openssl', () => {
  let pem: PemDir;
  let files: { ca: string; server: { cert: string; key: string } };

  beforeAll(() => {
    pem = new PemDir();
    files = { ca: pem.write('ca.pem', `${pki.ca}\n`), server: pem.writePair('server', pki.server) };
  });

  afterAll(() => pem?.remove());

  afterEach(async () => {
    await killAllOpenssl();
    const violations = await cleanupAndCheck();
    closePlainSockets();
    expect(violations).toEqual([]);
  });

  // ---- openssl s_client, our server -----------------------------------------------------------

  async function ourServer(alpn: string[] | null): Promise<{ s: ISocket; u: RecordingUser; port: number }> {
    const uu = new RecordingUser('server-udp');
    const plain = udp.createSocket(uu);
    plain.bind('127.0.0.1', 0);
    await uu.waitFor('socketBindResult', 1, WAIT, plain);
    const u = receivingUser('dtls-server');
    const s = tls.upgradeToTls(plain, u, { serverSide: true, context: alpnDtlsContext(tls, pki, 'server', alpn) });
    return { s, u, port: plain.localPort as number };
  }

  function sClient(port: number, alpn: string | null): OpensslProcess {
    const args = ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-CAfile', files.ca, '-verify_return_error', '-servername', 'localhost'];
    return runOpenssl(alpn === null ? args : [...args, '-alpn', alpn]);
  }

  async function exchangeWithClient(srv: { s: ISocket; u: RecordingUser }, client: OpensslProcess): Promise<void> {
    client.write('hello from s_client\n');
    await srv.u.waitUntil(() => receivedText(srv.u, srv.s).includes('hello from s_client\n'), 'the line from s_client', WAIT).catch(withOpensslOutput(client));
    srv.s.send(Buffer.from('hello s_client from socket-provider\n'));
    await client.waitForOutput(/hello s_client from socket-provider/, WAIT);
  }

  it('s_client -alpn coap,h2 against our server [h2, coap]: our preference, h2, on both sides; data both ways', async () => {
    const srv = await ourServer(['h2', 'coap']);
    const client = sClient(srv.port, 'coap,h2');
    await srv.u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, srv.s).catch(withOpensslOutput(client));
    expect(srv.u.names(srv.s).slice(0, 2)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketUpgradeToTlsComplete']);
    expect(srv.u.eventsOf('socketAcceptSelectedAlpnProtocol', srv.s)[0].args).toEqual(['h2']);
    expect(srv.s.alpnProtocol).toBe('h2');
    await client.waitForOutput(/Verify return code: \d+/, WAIT);
    expect(client.stdout).toContain('Verify return code: 0 (ok)');
    expect(client.stdout).toMatch(/^ALPN protocol: h2$/m);
    await exchangeWithClient(srv, client);
    client.endInput();
    expect(await srv.u.waitForShutdown(srv.s, WAIT).catch(withOpensslOutput(client))).toBe(R.ByPeer);
  });

  it('s_client without -alpn against our server with a list: alpnProtocol null, no callback, the connection proceeds', async () => {
    const srv = await ourServer(['h2']);
    const client = sClient(srv.port, null);
    await srv.u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, srv.s).catch(withOpensslOutput(client));
    expect(srv.u.count('socketAcceptSelectedAlpnProtocol')).toBe(0);
    expect(srv.s.alpnProtocol).toBeNull();
    await client.waitForOutput(/No ALPN negotiated/, WAIT);
    await exchangeWithClient(srv, client);
  });

  it('s_client -alpn zz against our server [h2, coap]: s_client reports alert 120 (no application protocol); our server ends SOCKET_ALPN_SELECTION_FAILED', async () => {
    const srv = await ourServer(['h2', 'coap']);
    const client = sClient(srv.port, 'zz');
    expect(await srv.u.waitForShutdown(srv.s, WAIT).catch(withOpensslOutput(client))).toBe(R.AlpnSelectionFailed);
    expect(srv.u.names(srv.s)).toEqual(['socketShutdown']);
    await client.waitForOutput(/alert no application protocol[\s\S]*SSL alert number 120/, WAIT, 'any');
    await client.waitForExit(WAIT);
  });

  // ---- our client, openssl s_server -----------------------------------------------------------

  async function sServer(alpn: string | null): Promise<{ server: OpensslProcess; port: number }> {
    const port = await freeUdpPort();
    const args = ['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-cert', files.server.cert, '-key', files.server.key, '-naccept', '1'];
    const server = runOpenssl(alpn === null ? args : [...args, '-alpn', alpn]);
    await server.waitForOutput(/ACCEPT/, WAIT);
    return { server, port };
  }

  async function ourClient(port: number, alpn: string[] | null, handshakeTimeoutMs?: number): Promise<{ s: ISocket; u: RecordingUser }> {
    const uu = new RecordingUser('client-udp');
    const plain = udp.createSocket(uu);
    plain.connect(`127.0.0.1:${port}`);
    await uu.waitFor('socketConnectComplete', 1, WAIT, plain);
    const u = receivingUser('dtls-client');
    const s = tls.upgradeToTls(plain, u, { context: alpnDtlsContext(tls, pki, 'client', alpn), serverName: 'localhost', handshakeTimeoutMs });
    return { s, u };
  }

  async function exchangeWithServer(c: { s: ISocket; u: RecordingUser }, server: OpensslProcess): Promise<void> {
    c.s.send(Buffer.from('hello s_server from socket-provider\n'));
    await server.waitForOutput(/hello s_server from socket-provider/, WAIT);
    server.write('line from s_server\n');
    await c.u.waitUntil(() => receivedText(c.u, c.s).includes('line from s_server\n'), 'the line from s_server', WAIT).catch(withOpensslOutput(server));
  }

  it('our client [coap, h2] against s_server -alpn h2,coap: s_server sees our list and picks h2 (its preference); we approve it', async () => {
    const { server, port } = await sServer('h2,coap');
    const c = await ourClient(port, ['coap', 'h2']);
    await c.u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, c.s).catch(withOpensslOutput(server));
    expect(c.u.names(c.s).slice(0, 2)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketUpgradeToTlsComplete']);
    expect(c.u.eventsOf('socketAcceptSelectedAlpnProtocol', c.s)[0].args).toEqual(['h2']);
    expect(c.s.alpnProtocol).toBe('h2');
    await server.waitForOutput(/ALPN protocols selected: h2/, WAIT);
    expect(server.stdout).toMatch(/ALPN protocols advertised by the client: coap, h2/);
    await exchangeWithServer(c, server);
    c.s.shutdown();
    expect(await c.u.waitForShutdown(c.s, WAIT)).toBe(R.Normal);
    await server.waitForOutput(/CONNECTION CLOSED/, WAIT);
  });

  it('our client [h2] against s_server -alpn zz: s_server refuses (no application protocol); our client ends SOCKET_ALPN_SELECTION_FAILED', async () => {
    const { server, port } = await sServer('zz');
    const c = await ourClient(port, ['h2'], 2000);
    expect(await c.u.waitForShutdown(c.s, WAIT).catch(withOpensslOutput(server))).toBe(R.AlpnSelectionFailed);
    expect(c.u.names(c.s)).toEqual(['socketShutdown']);
    expect(server.stdout + server.stderr).toMatch(/ALPN protocols advertised by the client: h2/);
    expect(server.stdout + server.stderr).toMatch(/no application protocol/);
  });

  it('our client with a list against s_server without -alpn: alpnProtocol null, no callback, the connection proceeds', async () => {
    const { server, port } = await sServer(null);
    const c = await ourClient(port, ['h2']);
    await c.u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, c.s).catch(withOpensslOutput(server));
    expect(c.u.count('socketAcceptSelectedAlpnProtocol')).toBe(0);
    expect(c.s.alpnProtocol).toBeNull();
    await exchangeWithServer(c, server);
  });
});
