/**
 * TLS and STARTTLS against a real, independent peer: the `openssl` command line.
 *
 * - `openssl s_client -starttls smtp` against an SMTP-like STARTTLS server built on the
 *   framework (TCP listener, `upgradeToTls(…, { serverSide: true })` after "STARTTLS").
 * - Our TLS client with ALPN against `openssl s_server -alpn`.
 * - `openssl s_client` with and without a client certificate against our two-way-auth server.
 *
 * PEM files live in a temp dir for this file; every process is killed after each test and
 * every wait is bounded.
 */
import { createTcpSocketProvider, createTlsSocketProvider, ISocket, ISocketContext, ISocketProvider, ShutdownReason } from '../../lib';
import { makeTestPki, TestPki } from '../../scripts/certs';
import { closeAllRaw, withTimeout } from '../helpers/net-helpers';
import { freePort, hasOpenssl, killAllOpenssl, PemDir, runOpenssl } from '../helpers/openssl';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';

const WAIT_MS = 15000;
const describeOpenssl = hasOpenssl() ? describe : describe.skip;

describeOpenssl('TLS against openssl', () => {
  let pki: TestPki;
  let pem: PemDir;
  let files: { ca: string; server: { cert: string; key: string }; client: { cert: string; key: string } };
  let tcp: ISocketProvider;
  let tlsp: ISocketProvider;

  beforeAll(async () => {
    pki = await withTimeout(makeTestPki(), 20000, 'the test PKI (makeTestPki)');
    pem = new PemDir();
    files = {
      ca: pem.write('ca.pem', `${pki.ca}\n`),
      server: pem.writePair('server', pki.server),
      client: pem.writePair('client', pki.client),
    };
  }, 30000);

  afterAll(() => {
    pem?.remove();
  });

  beforeEach(() => {
    tcp = guardProvider(createTcpSocketProvider());
    tlsp = guardProvider(createTlsSocketProvider());
  });

  afterEach(async () => {
    await killAllOpenssl();
    const violations = await cleanupAndCheck();
    await closeAllRaw();
    expect(violations).toEqual([]);
  });

  function serverContext(): ISocketContext {
    const ctx = tlsp.createSocketContext();
    ctx.setServerCertificate(pki.server);
    return ctx;
  }

  /** Binds and listens on 127.0.0.1:0 with `provider`, accepting for `conn()`; resolves with the port. */
  async function listen(provider: ISocketProvider, conn: () => RecordingUser, context?: ISocketContext): Promise<{ listener: ISocket; port: number }> {
    const lu = new RecordingUser('listener', { accept: conn });
    const listener = provider.createSocket(lu, context ? { context } : {});
    listener.bind('127.0.0.1', 0);
    await lu.waitFor('socketBindResult', 1, WAIT_MS, listener);
    const port = lu.eventsOf('socketBindResult', listener)[0].args[1] as number;
    listener.listen();
    return { listener, port };
  }

  /** Keeps a partial recv pending on every socket of `u` once `start` happened; collects the bytes. */
  function collecting(u: RecordingUser, start: 'socketAcceptComplete' | 'socketConnectComplete' | 'socketUpgradeToTlsComplete'): RecordingUser {
    u.on(start, (s) => s.recv(new Uint8Array(4096), 4096, true));
    u.on('socketRecvResult', (s, buf: Uint8Array) => s.recv(buf, 4096, true));
    return u;
  }

  /**
   * An SMTP-like server on the framework, enough for `openssl s_client -starttls smtp`:
   * greeting, EHLO → "250 STARTTLS", STARTTLS → "220" and the upgrade. After the upgrade
   * every decrypted byte is collected by the returned TLS user.
   */
  function smtpConnection(): { tcpUser: RecordingUser; tlsUser: RecordingUser; commands: string[]; secure: () => ISocket | null } {
    const tlsUser = collecting(new RecordingUser('smtp-tls'), 'socketUpgradeToTlsComplete');
    const commands: string[] = [];
    let pending = '';
    let secure: ISocket | null = null;
    const tcpUser = new RecordingUser('smtp-tcp');
    tcpUser.on('socketAcceptComplete', (s) => {
      s.send(Buffer.from('220 localhost ESMTP socket-provider test\r\n'));
      s.recv(new Uint8Array(1024), 1024, true);
    });
    tcpUser.on('socketRecvResult', (s, buf: Uint8Array, len: number) => {
      pending += Buffer.from(buf.subarray(0, len)).toString('latin1');
      let eol: number;
      while ((eol = pending.indexOf('\r\n')) >= 0) {
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 2);
        commands.push(line);
        const verb = line.split(' ')[0].toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') {
          s.send(Buffer.from('250-localhost greets you\r\n250-PIPELINING\r\n250 STARTTLS\r\n'));
        } else if (verb === 'STARTTLS') {
          if (pending.length > 0) throw new Error(`plaintext after STARTTLS: ${JSON.stringify(pending)}`);
          s.send(Buffer.from('220 2.0.0 Ready to start TLS\r\n'));
          secure = tlsp.upgradeToTls(s, tlsUser, { serverSide: true, context: serverContext() });
          return; // no recv on the old socket: it is taken over
        } else if (verb === 'QUIT') {
          s.send(Buffer.from('221 bye\r\n'));
        } else {
          s.send(Buffer.from('502 5.5.2 command not recognized\r\n'));
        }
      }
      s.recv(buf, 1024, true);
    });
    return { tcpUser, tlsUser, commands, secure: () => secure };
  }

  it('openssl s_client -starttls smtp: verifies our certificate, and what it sends arrives decrypted', async () => {
    const smtp = smtpConnection();
    const { port } = await listen(tcp, () => smtp.tcpUser);
    const client = runOpenssl([
      's_client',
      '-starttls',
      'smtp',
      '-connect',
      `127.0.0.1:${port}`,
      '-CAfile',
      files.ca,
      '-verify_return_error',
      '-servername',
      'localhost',
      '-verify_hostname',
      'localhost',
    ]);
    await smtp.tlsUser.waitFor('socketUpgradeToTlsComplete', 1, WAIT_MS).catch((e: Error) => {
      throw new Error(`${e.message}\n${client.describe()}`);
    });
    await client.waitForOutput(/Verify return code: \d+/, WAIT_MS);
    expect(client.stdout).toContain('Verify return code: 0 (ok)');
    expect(smtp.commands.map((c) => c.split(' ')[0].toUpperCase())).toEqual(['EHLO', 'STARTTLS']);
    const secure = smtp.secure() as ISocket | null;
    expect(secure).not.toBeNull();
    expect((secure as ISocket).type).toBe('tls');

    client.write('hello over tls\n');
    await smtp.tlsUser
      .waitUntil(() => smtp.tlsUser.received().toString('latin1').includes('hello over tls\n'), 'the line from s_client', WAIT_MS)
      .catch((e: Error) => {
        throw new Error(`${e.message}\n${client.describe()}`);
      });
    // Nothing of the TLS session reached the app as plaintext on the old socket.
    expect(smtp.tcpUser.received().toString('latin1')).toBe('EHLO mail.example.com\r\nSTARTTLS\r\n');

    client.endInput();
    await client.waitForExit(WAIT_MS);
    const reason = await smtp.tlsUser.waitForShutdown(secure as ISocket, WAIT_MS);
    expect([ShutdownReason.ByPeer, ShutdownReason.Lost]).toContain(reason);
  });

  it('our client with ALPN against openssl s_server -alpn h2,http/1.1: http/1.1 is selected, our line arrives', async () => {
    const port = await freePort();
    const server = runOpenssl([
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      files.server.cert,
      '-key',
      files.server.key,
      '-alpn',
      'h2,http/1.1',
      '-naccept',
      '1',
    ]);
    await server.waitForOutput(/ACCEPT/, WAIT_MS);
    const ctx = tlsp.createSocketContext();
    ctx.setCertificateAuthority(pki.ca);
    ctx.setAlpnProtocols(['http/1.1']);
    const cu = new RecordingUser('client');
    const c = tlsp.createSocket(cu, { context: ctx });
    c.connect(`127.0.0.1:${port}`, 'localhost');
    await cu.waitFor('socketConnectComplete', 1, WAIT_MS, c).catch((e: Error) => {
      throw new Error(`${e.message}\n${server.describe()}`);
    });
    expect(cu.names(c)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketConnectComplete']);
    expect(cu.eventsOf('socketAcceptSelectedAlpnProtocol', c)[0].args).toEqual(['http/1.1']);
    expect(c.alpnProtocol).toBe('http/1.1');
    expect(c.getPeerCertificate()?.subject?.CN).toBe('localhost');

    c.send(Buffer.from('hello s_server from socket-provider\n'));
    await server.waitForOutput(/hello s_server from socket-provider/, WAIT_MS);
    await cu.waitFor('socketSendResult', 1, WAIT_MS, c);
    c.shutdown();
    expect(await cu.waitForShutdown(c, WAIT_MS)).toBe(ShutdownReason.Normal);
  });

  describe('our two-way-auth server (requireClientCertificate, ALPN h2, http/1.1)', () => {
    function twoWayContext(): ISocketContext {
      const ctx = serverContext();
      ctx.setCertificateAuthority(pki.ca);
      ctx.requireClientCertificate();
      ctx.setAlpnProtocols(['h2', 'http/1.1']);
      return ctx;
    }

    it('openssl s_client with a client certificate and -alpn h2 is accepted: CN=client, ALPN h2', async () => {
      const conn = collecting(new RecordingUser('conn'), 'socketAcceptComplete');
      const { port } = await listen(tlsp, () => conn, twoWayContext());
      const client = runOpenssl([
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-CAfile',
        files.ca,
        '-verify_return_error',
        '-servername',
        'localhost',
        '-cert',
        files.client.cert,
        '-key',
        files.client.key,
        '-alpn',
        'h2',
      ]);
      await conn.waitFor('socketAcceptComplete', 1, WAIT_MS).catch((e: Error) => {
        throw new Error(`${e.message}\n${client.describe()}`);
      });
      const s = conn.eventsOf('socketAcceptComplete')[0].socket;
      expect(conn.names(s).slice(0, 2)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketAcceptComplete']);
      expect(conn.eventsOf('socketAcceptSelectedAlpnProtocol', s)[0].args).toEqual(['h2']);
      expect(s.alpnProtocol).toBe('h2');
      const cert = s.getPeerCertificate();
      expect(cert?.subject?.CN).toBe('client');
      expect(cert?.subject?.L).toBe('Springfield');

      await client.waitForOutput(/Verify return code: \d+/, WAIT_MS);
      expect(client.stdout).toContain('Verify return code: 0 (ok)');
      expect(client.stdout).toMatch(/ALPN protocol: h2/);
      s.send(Buffer.from('hello client\n'));
      await client.waitForOutput(/hello client/, WAIT_MS);
      client.write('hello server\n');
      await conn.waitUntil(() => conn.received(s).toString().includes('hello server\n'), 'the line from s_client', WAIT_MS);
      client.endInput();
      await client.waitForExit(WAIT_MS);
      expect([ShutdownReason.ByPeer, ShutdownReason.Lost]).toContain(await conn.waitForShutdown(s, WAIT_MS));
    });

    it('openssl s_client without a client certificate is refused: SOCKET_TLS_HANDSHAKE_FAILED, never accepted', async () => {
      const conn = new RecordingUser('conn');
      const { port } = await listen(tlsp, () => conn, twoWayContext());
      const client = runOpenssl([
        's_client',
        '-connect',
        `127.0.0.1:${port}`,
        '-CAfile',
        files.ca,
        '-verify_return_error',
        '-servername',
        'localhost',
        '-alpn',
        'h2',
      ]);
      await conn.waitFor('socketShutdown', 1, WAIT_MS).catch((e: Error) => {
        throw new Error(`${e.message}\n${client.describe()}`);
      });
      expect(conn.names()).toEqual(['socketShutdown']);
      expect(conn.shutdownReason()).toBe(ShutdownReason.TlsHandshakeFailed);
      // The client is not left hanging (its stdin stays open): the server closed the connection.
      await client.waitForExit(WAIT_MS);
    });
  });
});
