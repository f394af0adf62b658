/**
 * `socket-provider/testing` (lib/testing.ts): the test PKI that `makeTestPki()` builds with
 * node:crypto alone, checked as X.509 (node's X509Certificate and `openssl x509`/`verify`), in
 * real handshakes (node:tls, and the TLS provider with verification on, client certificates
 * required and ALPN), and the socket pair re-exported beside it.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import * as main from '../lib';
import { createTlsSocketProvider, ISocket, ISocketContext, ShutdownReason, SocketUser } from '../lib';
import { createSocketPair, makeTestPki, TestPki } from '../lib/testing';
import { hasIpv6Loopback, withTimeout } from './helpers/net-helpers';
import { hasOpenssl, PemDir, splitPem } from './helpers/openssl';

const CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
// The PEM label, put together so that no file here looks like a committed key to a scanner.
const KEY_LABEL = ['PRIVATE', 'KEY'].join(' ');
const KEY_RE = new RegExp(`-----BEGIN ${KEY_LABEL}-----[\\s\\S]+?-----END ${KEY_LABEL}-----`, 'g');
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

let pki: TestPki;

beforeAll(async () => {
  pki = await withTimeout(makeTestPki(), 20000, 'makeTestPki()');
});

const x509 = (pem: string): X509Certificate => new X509Certificate(splitOrCert(pem));
function splitOrCert(pem: string): string {
  return (pem.match(CERT_RE) ?? [''])[0];
}

describe('makeTestPki: the certificates', () => {
  it('gives the CA alone, and each other entry as one certificate followed by its PKCS #8 key', () => {
    expect(pki.ca.match(CERT_RE)).toHaveLength(1);
    expect(pki.ca).not.toMatch(/PRIVATE KEY/);
    for (const name of ['server', 'other', 'client', 'rogue'] as const) {
      const pem = pki[name];
      expect(pem.match(CERT_RE)).toHaveLength(1);
      expect(pem.match(KEY_RE)).toHaveLength(1);
      expect(pem.indexOf('CERTIFICATE')).toBeLessThan(pem.indexOf('PRIVATE KEY'));
      // The key belongs to the certificate, and is ECDSA P-256.
      const key = createPrivateKey(pem.match(KEY_RE)![0]);
      expect(x509(pem).checkPrivateKey(key)).toBe(true);
      expect(key.asymmetricKeyType).toBe('ec');
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    }
  });

  it('makes a CA that signed server, other and client, and a rogue that it did not sign', () => {
    const ca = x509(pki.ca);
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true); // self-signed
    for (const name of ['server', 'other', 'client'] as const) {
      const cert = x509(pki[name]);
      expect(cert.ca).toBe(false);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
    }
    const rogue = x509(pki.rogue);
    expect(rogue.checkIssued(ca)).toBe(false);
    expect(rogue.verify(ca.publicKey)).toBe(false);
    expect(rogue.verify(rogue.publicKey)).toBe(true);
  });

  it('names localhost, 127.0.0.1 and ::1 on the server (and the rogue), other.test on the other', () => {
    for (const name of ['server', 'rogue'] as const) {
      const cert = x509(pki[name]);
      expect(cert.subject).toBe('CN=localhost');
      expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(cert.checkIP('::1')).toBe('::1');
      expect(cert.checkHost('example.com')).toBeUndefined();
    }
    expect(x509(pki.other).subjectAltName).toBe('DNS:other.test');
    expect(x509(pki.client).subject).toBe('CN=client\nL=Springfield\nO=Clients Inc');
  });

  it('gives the server serverAuth and the client clientAuth (extended key usage)', () => {
    expect(x509(pki.server).keyUsage).toEqual([SERVER_AUTH]);
    expect(x509(pki.other).keyUsage).toEqual([SERVER_AUTH]);
    expect(x509(pki.client).keyUsage).toEqual([CLIENT_AUTH]);
  });

  it('is valid from an hour ago for 7 days (the days option changes it)', async () => {
    const cert = x509(pki.server);
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    expect(Math.abs(Date.now() - 3600_000 - from)).toBeLessThan(120_000);
    expect(to - from).toBe(7 * 24 * 3600_000 + 3600_000);
    const long = await makeTestPki({ days: 400 });
    expect(new Date(x509(long.server).validTo).getTime() - new Date(x509(long.server).validFrom).getTime()).toBe(400 * 24 * 3600_000 + 3600_000);
  });

  it('makes new keys and serial numbers on every call', async () => {
    const again = await makeTestPki();
    expect(x509(again.ca).fingerprint256).not.toBe(x509(pki.ca).fingerprint256);
    expect(x509(again.server).serialNumber).not.toBe(x509(pki.server).serialNumber);
    expect(x509(again.server).verify(x509(pki.ca).publicKey)).toBe(false);
  });

  it('takes other server names (the first is the CN), wildcards and IP addresses of both families', async () => {
    const custom = await makeTestPki({ serverNames: ['api.example.test', '*.example.test', '10.1.2.3', '2001:db8::1:0:0:7', '::ffff:192.0.2.1'] });
    const cert = x509(custom.server);
    expect(cert.subject).toBe('CN=api.example.test');
    expect(cert.subjectAltName).toBe(
      'DNS:api.example.test, DNS:*.example.test, IP Address:10.1.2.3, IP Address:2001:DB8:0:0:1:0:0:7, IP Address:0:0:0:0:0:FFFF:C000:201',
    );
    expect(cert.checkHost('www.example.test')).toBe('*.example.test');
    expect(cert.checkIP('2001:db8::1:0:0:7')).toBe('2001:db8::1:0:0:7');
    expect(cert.checkIP('::ffff:192.0.2.1')).toBe('::ffff:192.0.2.1');
  });

  it('throws for a bad name or a bad number of days', async () => {
    await expect(makeTestPki({ serverNames: [] })).rejects.toThrow(TypeError);
    await expect(makeTestPki({ serverNames: ['not a name'] })).rejects.toThrow(/neither a host name nor an IP address/);
    await expect(makeTestPki({ serverNames: ['-x.test'] })).rejects.toThrow(TypeError);
    await expect(makeTestPki({ serverNames: [42 as unknown as string] })).rejects.toThrow(TypeError);
    await expect(makeTestPki({ days: 0 })).rejects.toThrow(RangeError);
    await expect(makeTestPki({ days: 1.5 })).rejects.toThrow(RangeError);
  });

  (hasOpenssl() ? describe : describe.skip)('as openssl reads them', () => {
    let dir: PemDir;
    beforeAll(() => {
      dir = new PemDir();
    });
    afterAll(() => dir.remove());

    const openssl = (args: string[]): { status: number | null; out: string } => {
      const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 10000 });
      return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };

    it('shows X.509 v3 with the CA, key usage, EKU and subjectAltName extensions', () => {
      const ca = openssl(['x509', '-noout', '-text', '-in', dir.write('ca.pem', pki.ca)]);
      expect(ca.status).toBe(0);
      expect(ca.out).toMatch(/Version: 3 \(0x2\)/);
      expect(ca.out).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
      expect(ca.out).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
      expect(ca.out).toMatch(/Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
      const server = openssl(['x509', '-noout', '-text', '-in', dir.writePair('server', pki.server).cert]);
      expect(server.out).toMatch(/Version: 3 \(0x2\)/);
      expect(server.out).toMatch(/Public-Key: \(256 bit\)[\s\S]*NIST CURVE: P-256/);
      expect(server.out).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
      expect(server.out).toMatch(/Key Usage: critical\s+Digital Signature\n/);
      expect(server.out).toMatch(/Extended Key Usage: \s+TLS Web Server Authentication\n/);
      expect(server.out).toMatch(/Subject Alternative Name: \s+DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1\n/);
      expect(server.out).toMatch(/Subject Key Identifier/);
      expect(server.out).toMatch(/Authority Key Identifier/);
      const client = openssl(['x509', '-noout', '-text', '-in', dir.writePair('client', pki.client).cert]);
      expect(client.out).toMatch(/Extended Key Usage: \s+TLS Web Client Authentication\n/);
    });

    it('verifies, strictly, for the right purpose only', () => {
      const ca = dir.write('ca.pem', pki.ca);
      const verify = (name: 'server' | 'client' | 'other' | 'rogue', purpose: string) =>
        openssl(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', ca, dir.writePair(name, pki[name]).cert]);
      expect(verify('server', 'sslserver')).toMatchObject({ status: 0 });
      expect(verify('other', 'sslserver')).toMatchObject({ status: 0 });
      expect(verify('client', 'sslclient')).toMatchObject({ status: 0 });
      expect(verify('client', 'sslserver').status).not.toBe(0);
      expect(verify('server', 'sslclient').status).not.toBe(0);
      expect(verify('rogue', 'sslserver').out).toMatch(/self-signed certificate/);
    });
  });
});

describe('makeTestPki: handshakes with node:tls', () => {
  const servers: tls.Server[] = [];
  const sockets: tls.TLSSocket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    for (const srv of servers.splice(0)) await new Promise<void>((resolve) => srv.close(() => resolve()));
  });

  /** What the node:tls servers saw of each client: its CN, and why it was not authorized (null: it was). */
  const seen: Array<{ cn: unknown; error: string | null }> = [];

  /**
   * A node:tls server taking the PEM text as both `cert` and `key`, asking for a client
   * certificate from the CA: it greets an authorized client, and records and drops any other.
   */
  async function nodeServer(pem: string): Promise<number> {
    const srv = tls.createServer({ cert: pem, key: pem, ca: pki.ca, requestCert: true, rejectUnauthorized: false, ALPNProtocols: ['echo/1'] }, (s) => {
      sockets.push(s);
      const cn = s.getPeerCertificate().subject?.CN;
      seen.push({ cn, error: s.authorized ? null : String(s.authorizationError) });
      if (s.authorized) s.end(`hello ${String(cn)}`);
      else s.destroy();
    });
    srv.on('tlsClientError', () => undefined);
    servers.push(srv);
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    return (srv.address() as net.AddressInfo).port;
  }

  function nodeClient(port: number, options: tls.ConnectionOptions): Promise<{ authorized: boolean; alpn: string | false | null; text: string }> {
    return withTimeout(
      new Promise((resolve, reject) => {
        const c = tls.connect({ host: '127.0.0.1', port, ca: pki.ca, ALPNProtocols: ['echo/1'], ...options });
        sockets.push(c);
        let text = '';
        c.on('data', (d: Buffer) => (text += d.toString()));
        c.on('end', () => resolve({ authorized: c.authorized, alpn: c.alpnProtocol, text }));
        c.on('error', reject);
      }),
      10000,
      'a node:tls client',
    );
  }

  it('authenticates both ways, by name and by IP address, with ALPN', async () => {
    const port = await nodeServer(pki.server);
    const byName = await nodeClient(port, { servername: 'localhost', cert: pki.client, key: pki.client });
    expect(byName).toEqual({ authorized: true, alpn: 'echo/1', text: 'hello client' });
    const byIp = await nodeClient(port, { cert: pki.client, key: pki.client });
    expect(byIp.authorized).toBe(true);
  });

  it('fails without a client certificate, with the server certificate as a client one, and against the rogue', async () => {
    const port = await nodeServer(pki.server);
    // With TLS 1.3 the client's handshake may end before the server has checked its certificate:
    // the server's view is what counts.
    seen.length = 0;
    const noGreeting = (options: tls.ConnectionOptions) =>
      nodeClient(port, { servername: 'localhost', ...options }).then(
        (r) => r.text,
        () => '',
      );
    expect(await noGreeting({})).toBe('');
    expect(await noGreeting({ cert: pki.server, key: pki.server })).toBe('');
    expect(await noGreeting({ cert: pki.rogue, key: pki.rogue })).toBe('');
    expect(seen).toEqual([
      { cn: undefined, error: 'UNABLE_TO_GET_ISSUER_CERT' },
      { cn: 'localhost', error: 'INVALID_PURPOSE' },
      { cn: 'localhost', error: expect.any(String) },
    ]);
    const roguePort = await nodeServer(pki.rogue);
    await expect(nodeClient(roguePort, { servername: 'localhost', cert: pki.client, key: pki.client })).rejects.toMatchObject({
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    const otherPort = await nodeServer(pki.other);
    await expect(nodeClient(otherPort, { servername: 'localhost', cert: pki.client, key: pki.client })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });
});

describe('makeTestPki: handshakes with the TLS provider (verification on, client certificates required)', () => {
  const tlsProvider = createTlsSocketProvider();
  const open: ISocket[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.shutdown();
  });

  function context(setup: (c: ISocketContext) => void): ISocketContext {
    const c = tlsProvider.createSocketContext();
    setup(c);
    return c;
  }

  const serverContext = () =>
    context((c) => {
      c.setServerCertificate(pki.server);
      c.setCertificateAuthority(pki.ca);
      c.requireClientCertificate();
      c.setAlpnProtocols(['echo/2', 'echo/1']);
    });

  interface Ends {
    client: Promise<{ alpn: string | null; peer: string | string[] | undefined } | ShutdownReason>;
    accepted: Promise<{ alpn: string | null; peer: string | string[] | undefined; locality: string | string[] | undefined } | ShutdownReason>;
  }

  /** A listener with `serverCtx` and one client with `clientCtx` connecting to `host` (a plain-object user each). */
  function connectPair(serverCtx: ISocketContext, clientCtx: ISocketContext, host: string, ipv6 = false): Ends {
    let resolveAccepted!: (v: Awaited<Ends['accepted']>) => void;
    const accepted = new Promise<Awaited<Ends['accepted']>>((resolve) => (resolveAccepted = resolve));
    const client = new Promise<Awaited<Ends['client']>>((resolveClient) => {
      const clientUser: SocketUser = {
        socketConnectComplete: (s) => resolveClient({ alpn: s.alpnProtocol, peer: s.getPeerCertificate()?.subject.CN }),
        socketShutdown: (s, reason) => resolveClient(reason),
      };
      const acceptedUser: SocketUser = {
        socketAcceptComplete: (s) => {
          open.push(s);
          const cert = s.getPeerCertificate();
          resolveAccepted({ alpn: s.alpnProtocol, peer: cert?.subject.CN, locality: cert?.subject.L });
        },
        socketShutdown: (s, reason) => resolveAccepted(reason),
      };
      const listener = tlsProvider.createSocket(
        {
          socketBindResult(s, _addr, port) {
            s.listen();
            const c = tlsProvider.createSocket(clientUser, { context: clientCtx, ipv6 });
            open.push(c);
            c.connect(`${host}:${port}`);
          },
          socketListenResult: (s) => s.accept(acceptedUser),
          socketShutdown() {},
        },
        { context: serverCtx, ipv6 },
      );
      open.push(listener);
      listener.bind(ipv6 ? '::1' : '127.0.0.1', 0);
    });
    return { client: withTimeout(client, 10000, 'the client'), accepted: withTimeout(accepted, 10000, 'the accepted socket') };
  }

  const goodClient = () =>
    context((c) => {
      c.setClientCertificate(pki.client);
      c.setCertificateAuthority(pki.ca);
      c.setAlpnProtocols(['echo/1']);
    });

  it('connects by name and by IPv4 address: both ends verified, ALPN agreed, the peers named', async () => {
    for (const host of ['localhost', '127.0.0.1']) {
      const ends = connectPair(serverContext(), goodClient(), host);
      expect(await ends.client).toEqual({ alpn: 'echo/1', peer: 'localhost' });
      expect(await ends.accepted).toEqual({ alpn: 'echo/1', peer: 'client', locality: 'Springfield' });
    }
  });

  (hasIpv6Loopback() ? it : it.skip)('connects by IPv6 address ([::1])', async () => {
    const ends = connectPair(serverContext(), goodClient(), '[::1]', true);
    expect(await ends.client).toEqual({ alpn: 'echo/1', peer: 'localhost' });
    expect(await ends.accepted).toMatchObject({ peer: 'client' });
  });

  it('refuses a client without a certificate (client certificates required)', async () => {
    const noCert = context((c) => {
      c.setCertificateAuthority(pki.ca);
      c.setAlpnProtocols(['echo/1']);
    });
    const ends = connectPair(serverContext(), noCert, 'localhost');
    // With TLS 1.3 the client's connect may complete first: the server checks last, and refuses.
    expect(await ends.accepted).toBe(ShutdownReason.TlsHandshakeFailed);
    await ends.client;
  });

  it('refuses the rogue server, and a server whose name does not match', async () => {
    const rogue = context((c) => {
      c.setServerCertificate(pki.rogue);
      c.setCertificateAuthority(pki.ca);
    });
    expect(await connectPair(rogue, goodClient(), 'localhost').client).toBe(ShutdownReason.TlsHandshakeFailed);
    const other = context((c) => {
      c.setServerCertificate(pki.other);
      c.setCertificateAuthority(pki.ca);
    });
    expect(await connectPair(other, goodClient(), 'localhost').client).toBe(ShutdownReason.TlsHandshakeFailed);
  });
});

describe('createSocketPair from socket-provider/testing', () => {
  it('is the main export, and connects two plain-object users', async () => {
    expect(createSocketPair).toBe(main.createSocketPair);
    const got = await withTimeout(
      new Promise<string>((resolve) => {
        const [a, b] = createSocketPair(
          // createSocketPair's parameters are USocket (lib/providers.ts); the plain objects are users all the same.
          { socketShutdown() {} } as SocketUser as main.USocket,
          {
            socketShutdown() {},
            socketRecvResult: (s, buf, n) => {
              resolve(Buffer.from(buf.subarray(0, n)).toString());
              s.shutdown();
            },
          } as SocketUser as main.USocket,
        );
        b.recv(new Uint8Array(5));
        a.send(Buffer.from('hello'));
        a.shutdown();
      }),
      5000,
      'bytes over the pair',
    );
    expect(got).toBe('hello');
  });
});

// splitPem is used for openssl files; keep the helper's view of our PEM text in step with ours.
it('is split by the openssl helper into certificate and key', () => {
  const { cert, key } = splitPem(pki.server);
  expect(cert).toMatch(/^-----BEGIN CERTIFICATE-----/);
  expect(key.startsWith(`-----BEGIN ${KEY_LABEL}-----`)).toBe(true);
});
