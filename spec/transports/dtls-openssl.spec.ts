/**
 * DTLS 1.2 against a real, independent peer: the `openssl` command line.
 *
 * - Our DTLS client (a connected UDP socket, upgraded) against `openssl s_server -dtls1_2`,
 *   with and without DTLS-SRTP (the keying material openssl prints must equal ours), with an
 *   RSA 2048 server certificate, and with a client certificate that s_server requires.
 * - Our DTLS server (a bound UDP socket, upgraded) against `openssl s_client -dtls1_2`, with
 *   and without DTLS-SRTP, and with a client certificate our server requires.
 *
 * Data goes both ways: a datagram we send shows on openssl's stdout; a line written to
 * openssl's stdin arrives as one datagram. PEM files live in a temp dir; every process is
 * killed after each test; every wait is bounded.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext, ISocketProvider, ShutdownReason } from '../../lib';
import { makeTestPki, TestPki } from '../../scripts/certs';
import { closePlainSockets, freeUdpPort, makeRsaPki, RsaPki } from '../helpers/dtls';
import { withTimeout } from '../helpers/net-helpers';
import { hasOpenssl, killAllOpenssl, OpensslProcess, PemDir, runOpenssl } from '../helpers/openssl';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';

const WAIT = 15000;
const describeOpenssl = hasOpenssl() ? describe : describe.skip;

const SRTP_ARGS = ['-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', '60'];
const KEYING_RE = /Keying material: ([0-9A-Fa-f]+)/;

describeOpenssl('DTLS against openssl', () => {
  let pki: TestPki;
  let rsa: RsaPki;
  let pem: PemDir;
  let files: {
    ca: string;
    rsaCa: string;
    server: { cert: string; key: string };
    rsaServer: { cert: string; key: string };
    client: { cert: string; key: string };
  };
  let udp: ISocketProvider;
  let tlsp: ISocketProvider;

  beforeAll(async () => {
    [pki, rsa] = await withTimeout(Promise.all([makeTestPki(), makeRsaPki()]), 25000, 'the EC and RSA test PKIs');
    pem = new PemDir();
    files = {
      ca: pem.write('ca.pem', `${pki.ca}\n`),
      rsaCa: pem.write('rsa-ca.pem', `${rsa.ca}\n`),
      server: pem.writePair('server', pki.server),
      rsaServer: pem.writePair('rsa-server', rsa.server),
      client: pem.writePair('client', pki.client),
    };
  }, 30000);

  afterAll(() => {
    pem?.remove();
  });

  beforeEach(() => {
    udp = guardProvider(createUdpSocketProvider());
    tlsp = guardProvider(createTlsSocketProvider());
  });

  afterEach(async () => {
    await killAllOpenssl();
    const violations = await cleanupAndCheck();
    closePlainSockets();
    expect(violations).toEqual([]);
  });

  /** Adds openssl's output to a failed wait's message. */
  function withOutput(proc: OpensslProcess): (e: Error) => never {
    return (e: Error) => {
      throw new Error(`${e.message}\n${proc.describe()}`);
    };
  }

  /** Keeps one recv pending on the DTLS socket of `u` from the upgrade on. */
  function receiving(u: RecordingUser): RecordingUser {
    u.on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(4096)));
    u.on('socketRecvFromResult', (s, buf: Uint8Array) => s.recv(buf));
    return u;
  }

  /** The text of every datagram `u` received on `s`, concatenated. */
  function text(u: RecordingUser, s: ISocket): string {
    return u
      .eventsOf('socketRecvFromResult', s)
      .map((e) => String(e.data))
      .join('');
  }

  // ---- our client, openssl s_server ---------------------------------------------------------

  /** Starts `openssl s_server -dtls1_2` on a free UDP port of 127.0.0.1; resolves once it is ready. */
  async function sServer(extra: string[], cert = files.server): Promise<{ server: OpensslProcess; port: number }> {
    const port = await freeUdpPort();
    const server = runOpenssl(['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`, '-cert', cert.cert, '-key', cert.key, '-naccept', '1', ...extra]);
    await server.waitForOutput(/ACCEPT/, WAIT);
    return { server, port };
  }

  /** Our DTLS client: a UDP socket connected to 127.0.0.1:`port`, upgraded with `ctx`. */
  async function ourClient(port: number, ctx: ISocketContext, server: OpensslProcess): Promise<{ s: ISocket; u: RecordingUser; localPort: number }> {
    const uu = new RecordingUser('client-udp');
    const plain = udp.createSocket(uu);
    plain.connect(`127.0.0.1:${port}`);
    await uu.waitFor('socketConnectComplete', 1, WAIT, plain);
    const u = receiving(new RecordingUser('dtls-client'));
    const s = tlsp.upgradeToTls(plain, u, { context: ctx, serverName: 'localhost' });
    await u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, s).catch(withOutput(server));
    return { s, u, localPort: plain.getLocalAddress()?.port ?? -1 };
  }

  function clientContext(srtp: boolean, ca = pki.ca): ISocketContext {
    const ctx = tlsp.createSocketContext();
    ctx.enableDtls(srtp);
    ctx.setCertificateAuthority(ca);
    return ctx;
  }

  /** Data both ways between our client `c` and s_server. */
  async function exchangeWithServer(c: { s: ISocket; u: RecordingUser }, server: OpensslProcess, port: number): Promise<void> {
    c.s.send(Buffer.from('hello s_server from socket-provider\n'));
    await server.waitForOutput(/hello s_server from socket-provider/, WAIT);
    await c.u.waitFor('socketSendResult', 1, WAIT, c.s);
    server.write('line from s_server\n');
    await c.u.waitUntil(() => text(c.u, c.s).includes('line from s_server\n'), 'the line from s_server', WAIT).catch(withOutput(server));
    const first = c.u.eventsOf('socketRecvFromResult', c.s)[0];
    expect(first.args.slice(2)).toEqual(['127.0.0.1', port]);
  }

  it('our client against openssl s_server -dtls1_2: verified, data both ways, close_notify understood', async () => {
    const { server, port } = await sServer([]);
    const c = await ourClient(port, clientContext(false), server);
    expect(c.s.getPeerCertificate()?.subject?.CN).toBe('localhost');
    expect(c.s.getSrtpKeyingMaterial()).toBeNull();
    await exchangeWithServer(c, server, port);
    c.s.shutdown();
    expect(await c.u.waitForShutdown(c.s, WAIT)).toBe(ShutdownReason.Normal);
    // s_server saw the close_notify and closed the connection (-naccept 1: it then exits).
    await server.waitForOutput(/CONNECTION CLOSED/, WAIT);
    await server.waitForExit(WAIT);
  });

  it('our client against openssl s_server -use_srtp: SRTP_AES128_CM_SHA1_80, our keying material equals openssl’s', async () => {
    const { server, port } = await sServer(SRTP_ARGS);
    const c = await ourClient(port, clientContext(true), server);
    await server.waitForOutput(KEYING_RE, WAIT);
    expect(server.stdout).toMatch(/SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80/);
    const theirs = (server.stdout.match(KEYING_RE) as RegExpMatchArray)[1].toLowerCase();
    const ours = c.s.getSrtpKeyingMaterial();
    expect(ours?.profile).toBe('SRTP_AES128_CM_SHA1_80');
    expect(ours?.material.byteLength).toBe(60);
    expect(Buffer.from(ours!.material).toString('hex')).toBe(theirs);
    await exchangeWithServer(c, server, port);
  });

  it('our client against openssl s_server with an RSA 2048 certificate', async () => {
    const { server, port } = await sServer([], files.rsaServer);
    const c = await ourClient(port, clientContext(false, rsa.ca), server);
    const cert = c.s.getPeerCertificate();
    expect(cert?.subject?.CN).toBe('localhost');
    expect(cert?.fingerprint256).toBeDefined();
    await exchangeWithServer(c, server, port);
  });

  it('our client with a client certificate against openssl s_server -Verify 1: s_server verifies it (CN=client)', async () => {
    const { server, port } = await sServer(['-Verify', '1', '-CAfile', files.ca, '-verify_return_error']);
    const ctx = clientContext(false);
    ctx.setClientCertificate(pki.client);
    const c = await ourClient(port, ctx, server);
    await exchangeWithServer(c, server, port);
    expect(server.stdout + server.stderr).toMatch(/subject=.*CN\s*=\s*client/);
  });

  // ---- our server, openssl s_client ---------------------------------------------------------

  /** Our DTLS server on a bound UDP socket of 127.0.0.1 with `ctx`; resolves with its port. */
  async function ourServer(ctx: ISocketContext): Promise<{ s: ISocket; u: RecordingUser; port: number }> {
    const uu = new RecordingUser('server-udp');
    const plain = udp.createSocket(uu);
    plain.bind('127.0.0.1', 0);
    await uu.waitFor('socketBindResult', 1, WAIT, plain);
    const port = uu.eventsOf('socketBindResult', plain)[0].args[1] as number;
    const u = receiving(new RecordingUser('dtls-server'));
    const s = tlsp.upgradeToTls(plain, u, { serverSide: true, context: ctx });
    return { s, u, port };
  }

  function serverContext(srtp: boolean): ISocketContext {
    const ctx = tlsp.createSocketContext();
    ctx.enableDtls(srtp);
    ctx.setServerCertificate(pki.server);
    return ctx;
  }

  function sClient(port: number, extra: string[]): OpensslProcess {
    return runOpenssl([
      's_client',
      '-dtls1_2',
      '-connect',
      `127.0.0.1:${port}`,
      '-CAfile',
      files.ca,
      '-verify_return_error',
      '-servername',
      'localhost',
      ...extra,
    ]);
  }

  /** Data both ways between s_client and our server `srv`. */
  async function exchangeWithClient(srv: { s: ISocket; u: RecordingUser }, client: OpensslProcess): Promise<void> {
    client.write('hello from s_client\n');
    await srv.u.waitUntil(() => text(srv.u, srv.s).includes('hello from s_client\n'), 'the line from s_client', WAIT).catch(withOutput(client));
    const first = srv.u.eventsOf('socketRecvFromResult', srv.s)[0];
    expect(first.args[2]).toBe('127.0.0.1');
    expect(first.args[3]).toBe(srv.s.remotePort);
    srv.s.send(Buffer.from('hello s_client from socket-provider\n'));
    await client.waitForOutput(/hello s_client from socket-provider/, WAIT);
  }

  it('openssl s_client -dtls1_2 against our server on a bound UDP socket: verified, data both ways', async () => {
    const srv = await ourServer(serverContext(false));
    const client = sClient(srv.port, []);
    await srv.u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, srv.s).catch(withOutput(client));
    await client.waitForOutput(/Verify return code: \d+/, WAIT);
    expect(client.stdout).toContain('Verify return code: 0 (ok)');
    expect(client.stdout).toMatch(/Protocol\s*: DTLSv1\.2/);
    expect(srv.s.getSrtpKeyingMaterial()).toBeNull();
    expect(srv.s.getPeerCertificate()).toBeNull();
    await exchangeWithClient(srv, client);
    // s_client ends its session with a close_notify when its input ends.
    client.endInput();
    expect(await srv.u.waitForShutdown(srv.s, WAIT).catch(withOutput(client))).toBe(ShutdownReason.ByPeer);
  });

  it('openssl s_client -use_srtp against our server with enableDtls(true): keying material equal', async () => {
    const srv = await ourServer(serverContext(true));
    const client = sClient(srv.port, SRTP_ARGS);
    await srv.u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, srv.s).catch(withOutput(client));
    await client.waitForOutput(KEYING_RE, WAIT);
    expect(client.stdout).toContain('Verify return code: 0 (ok)');
    expect(client.stdout).toMatch(/SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80/);
    const theirs = (client.stdout.match(KEYING_RE) as RegExpMatchArray)[1].toLowerCase();
    const ours = srv.s.getSrtpKeyingMaterial();
    expect(ours?.profile).toBe('SRTP_AES128_CM_SHA1_80');
    expect(ours?.material.byteLength).toBe(60);
    expect(Buffer.from(ours!.material).toString('hex')).toBe(theirs);
    await exchangeWithClient(srv, client);
  });

  it('openssl s_client with a client certificate against our server with requireClientCertificate(): CN=client', async () => {
    const ctx = serverContext(false);
    ctx.setCertificateAuthority(pki.ca);
    ctx.requireClientCertificate();
    const srv = await ourServer(ctx);
    const client = sClient(srv.port, ['-cert', files.client.cert, '-key', files.client.key]);
    await srv.u.waitFor('socketUpgradeToTlsComplete', 1, WAIT, srv.s).catch(withOutput(client));
    const cert = srv.s.getPeerCertificate();
    expect(cert?.subject?.CN).toBe('client');
    expect(cert?.subject?.L).toBe('Springfield');
    await exchangeWithClient(srv, client);
  });
});
