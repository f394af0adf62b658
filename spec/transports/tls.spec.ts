/**
 * TLS: the stream conformance suite over TLS, plus what only TLS has (CONTRACT.md §5, §10):
 * verification on by default, SNI, ALPN, two-way authentication, fingerprints, PEM errors,
 * the handshake time-out, shared contexts, interop with Node's own `tls`, IPv6. The Node
 * behaviour lib/transports/tls.ts relies on is checked in spec/core/node-internals.spec.ts.
 */
import { X509Certificate } from 'node:crypto';
import { IoMux, ISocket, ISocketContext, ISocketProvider, ShutdownReason, SocketErrorCode, SocketOptions } from '../../lib';
import { runStreamConformance } from '../conformance/stream-suite';
import { closeAllRaw, hasIpv6Loopback, pollUntil, randomBytes, rawConnect, rawServer, sha256, StreamCollector } from '../helpers/net-helpers';
import { cleanupAndCheck, RecordingUser, waitUntil } from '../helpers/recording-user';
import { Listener, StreamHarness, thrown } from '../helpers/stream-harness';
import {
  certOf,
  clientContext,
  closeAllRawTls,
  keyOf,
  loadPki,
  makeTlsFixture,
  rawTlsConnect,
  rawTlsConnectNoWait,
  rawTlsServer,
  serverContext,
} from '../helpers/tls-fixture';

const KiB = 1024;
const MiB = 1024 * 1024;
const R = ShutdownReason;

const pki = loadPki();
const tlsFixture = makeTlsFixture(pki);

runStreamConformance('tls', tlsFixture);

/** SHA-256 of a PEM's (first) certificate, as Node's X509Certificate computes it. */
function fingerprintOf(pem: string): Buffer {
  return Buffer.from(new X509Certificate(certOf(pem)).fingerprint256.replace(/:/g, ''), 'hex');
}

/** What a call threw: its `code` (or the error's name when it has none), or 'none'. */
function thrownCode(fn: () => unknown): string {
  try {
    fn();
    return 'none';
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return `${(e as Error).name}:${typeof code === 'string' ? code : '-'}`;
  }
}

describe('tls specifics', () => {
  let h: StreamHarness;
  let provider: ISocketProvider;

  beforeEach(() => {
    h = new StreamHarness(tlsFixture);
    provider = h.provider;
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck();
    await h.cleanup();
    await closeAllRaw();
    await closeAllRawTls();
    expect(violations).toEqual([]);
  });

  const echoUser = (label = 'echo'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB, echo: true });
  const sinkUser = (label = 'sink'): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB });

  /** A fresh context from the (guarded) TLS provider. */
  const newContext = (): ISocketContext => provider.createSocketContext();

  /** Per incoming connection a new user from `make`, remembered in `users` (in offer order). */
  function conns(make: (i: number) => RecordingUser = (i) => echoUser(`conn${i}`)): {
    users: RecordingUser[];
    conn: () => RecordingUser;
    nth: (n: number) => Promise<RecordingUser>;
  } {
    const users: RecordingUser[] = [];
    return {
      users,
      conn: () => {
        const u = make(users.length);
        users.push(u);
        return u;
      },
      nth: async (n) => {
        await waitUntil(() => users.length > n, `connection #${n} to be offered`);
        return users[n];
      },
    };
  }

  /** A TLS listener on 127.0.0.1:0 with `context` (and more options). */
  function tlsListen(context: ISocketContext, conn: () => RecordingUser | null | undefined, extra: SocketOptions = {}): Promise<Listener> {
    return h.listen({ conn, options: { context, ...extra } });
  }

  /** Connects, sends `n` random bytes and checks they come back from an echo server. */
  async function echoRoundTrip(c: ISocket, cu: RecordingUser, n = 10 * KiB): Promise<void> {
    const before = cu.receivedLength(c);
    const data = randomBytes(n);
    c.send(data);
    await cu.waitForBytes(before + n, c);
    expect(sha256(cu.received(c).subarray(before))).toBe(sha256(data));
  }

  /** The end of an accepted connection whose handshake (or approval) fails: it never completes. */
  async function expectAcceptedFails(u: RecordingUser, reason: ShutdownReason): Promise<void> {
    await u.waitFor('socketShutdown', 1);
    expect(u.names()).toEqual(['socketShutdown']);
    expect(u.shutdownReason()).toBe(reason);
  }

  // ---------------------------------------------------------------------------------------

  describe('verification (secure by default)', () => {
    it('a CA-signed server: echo by localhost:port and by 127.0.0.1:port (IP SAN)', async () => {
      const srv = await tlsListen(serverContext(pki), () => echoUser());
      for (const address of [`localhost:${srv.port}`, `127.0.0.1:${srv.port}`]) {
        const cu = sinkUser(`client ${address}`);
        const c = await h.connect(address, cu);
        expect(c.type).toBe('tls');
        expect(c.remoteAddress).toBe('127.0.0.1');
        expect(c.remotePort).toBe(srv.port);
        expect(c.getPeerCertificate()?.subject.CN).toBe('localhost');
        await echoRoundTrip(c, cu, 100 * KiB);
      }
    });

    it.each([
      ['a fresh context (Node root store only)', true],
      ['no context at all (the default one)', false],
    ])('a client with %s refuses the test CA’s server: TLS_HANDSHAKE_FAILED on both sides', async (_what, withContext) => {
      const cs = conns();
      const srv = await tlsListen(serverContext(pki), cs.conn);
      const cu = new RecordingUser('client');
      const c = h.client(srv, cu, withContext ? { context: newContext() } : {});
      expect(await cu.waitForShutdown(c)).toBe(R.TlsHandshakeFailed);
      expect(cu.names(c)).toEqual(['socketShutdown']);
      // The client aborts inside the handshake: the accepted user never gets socketAcceptComplete.
      await expectAcceptedFails(await cs.nth(0), R.TlsHandshakeFailed);
    });

    it('a wrong name (serverName wrong.example) is TLS_HANDSHAKE_FAILED on both sides', async () => {
      const cs = conns();
      const srv = await tlsListen(serverContext(pki), cs.conn);
      const cu = new RecordingUser('client');
      const c = h.socket(cu, { context: clientContext(pki) });
      c.connect(srv.address, 'wrong.example');
      expect(await cu.waitForShutdown(c)).toBe(R.TlsHandshakeFailed);
      expect(cu.names(c)).toEqual(['socketShutdown']);
      await expectAcceptedFails(await cs.nth(0), R.TlsHandshakeFailed);
    });

    it('a self-signed (rogue) server is TLS_HANDSHAKE_FAILED on both sides', async () => {
      const cs = conns();
      const srv = await tlsListen(serverContext(pki, pki.rogue), cs.conn);
      for (const [i, address] of [srv.address, `localhost:${srv.port}`].entries()) {
        const cu = new RecordingUser(`client ${address}`);
        const c = h.client(address, cu);
        expect(await cu.waitForShutdown(c)).toBe(R.TlsHandshakeFailed);
        expect(cu.names(c)).toEqual(['socketShutdown']);
        await expectAcceptedFails(await cs.nth(i), R.TlsHandshakeFailed);
      }
    });

    it('a server that never answers the ClientHello: the client’s handshakeTimeoutMs ends it, TLS_HANDSHAKE_FAILED', async () => {
      const silent = await rawServer(() => undefined);
      const cu = new RecordingUser('client');
      const c = h.client(`127.0.0.1:${silent.port}`, cu, { context: clientContext(pki), handshakeTimeoutMs: 300 });
      expect(await cu.waitForShutdown(c)).toBe(R.TlsHandshakeFailed);
      expect(cu.names(c)).toEqual(['socketShutdown']);
    });

    it('setVerifyPeer(false) on the client connects to the rogue server', async () => {
      const srv = await tlsListen(serverContext(pki, pki.rogue), () => echoUser());
      const ctx = newContext();
      ctx.setVerifyPeer(false);
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu, { context: ctx });
      expect(c.getPeerCertificate()?.fingerprint256).toBe(new X509Certificate(certOf(pki.rogue)).fingerprint256);
      await echoRoundTrip(c, cu);
      // …and the name is not checked either.
      const cu2 = sinkUser('client wrong name');
      const c2 = h.socket(cu2, { context: ctx });
      c2.connect(srv.address, 'wrong.example');
      await cu2.waitFor('socketConnectComplete', 1, 10000, c2);
      await echoRoundTrip(c2, cu2);
    });

    it('a TLS 1.1-only client is refused; the server side reports TLS_HANDSHAKE_FAILED', async () => {
      const cs = conns();
      const srv = await tlsListen(serverContext(pki), cs.conn);
      let secured = false;
      const raw = rawTlsConnectNoWait(srv.port, '127.0.0.1', {
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
        ciphers: 'DEFAULT@SECLEVEL=0', // let OpenSSL 3 offer TLS 1.1 at all
        rejectUnauthorized: false,
      });
      raw.once('secureConnect', () => (secured = true));
      const peer = new StreamCollector(raw);
      await peer.until(() => peer.closed, 'the TLS 1.1 client to be closed');
      expect(secured).toBe(false);
      await expectAcceptedFails(await cs.nth(0), R.TlsHandshakeFailed);
    });
  });

  describe('SNI', () => {
    it('picks the certificate by serverName; without one (or by IP) the default', async () => {
      const ctx = serverContext(pki);
      ctx.setServerCertificate(pki.other, 'other.test');
      const srv = await tlsListen(ctx, () => echoUser());

      const ou = sinkUser('other.test');
      const o = h.socket(ou, { context: clientContext(pki) });
      o.connect(srv.address, 'other.test');
      await ou.waitFor('socketConnectComplete', 1, 10000, o);
      expect(o.getPeerCertificate()?.subject.CN).toBe('other.test');
      await echoRoundTrip(o, ou);

      const lu = sinkUser('localhost');
      const l = await h.connect(`localhost:${srv.port}`, lu);
      expect(l.getPeerCertificate()?.subject.CN).toBe('localhost');

      const iu = sinkUser('by IP');
      const i = await h.connect(srv.address, iu);
      expect(i.getPeerCertificate()?.subject.CN).toBe('localhost');

      // SNI names are matched without regard to case.
      const uu = sinkUser('OTHER.TEST');
      const u = h.socket(uu, { context: clientContext(pki) });
      u.connect(srv.address, 'OTHER.TEST');
      await uu.waitFor('socketConnectComplete', 1, 10000, u);
      expect(u.getPeerCertificate()?.subject.CN).toBe('other.test');
    });

    it('a certificate set only with a host name also serves clients without SNI or with another name', async () => {
      const ctx = newContext();
      ctx.setServerCertificate(pki.server, 'localhost');
      const srv = await tlsListen(ctx, () => echoUser());

      // By IP: no SNI is sent, so only a default certificate can answer.
      const iu = sinkUser('by IP');
      const i = await h.connect(srv.address, iu);
      expect(i.getPeerCertificate()?.subject.CN).toBe('localhost');
      await echoRoundTrip(i, iu);

      // A client whose SNI names no certificate gets the default (and refuses it by name).
      const ou = sinkUser('other name');
      const o = h.socket(ou, { context: clientContext(pki) });
      o.connect(srv.address, 'unknown.test');
      expect(await ou.waitForShutdown(o)).toBe(R.TlsHandshakeFailed);
      expect(ou.count('socketConnectComplete')).toBe(0);
    });
  });

  describe('ALPN', () => {
    function alpnContexts(serverList: string[] | null, clientList: string[] | null): { server: ISocketContext; client: ISocketContext } {
      const server = serverContext(pki);
      const client = clientContext(pki);
      if (serverList) server.setAlpnProtocols(serverList);
      if (clientList) client.setAlpnProtocols(clientList);
      return { server, client };
    }

    it('the server’s preference wins; both users approve it before the completion', async () => {
      const ctx = alpnContexts(['h2', 'http/1.1'], ['http/1.1', 'h2']);
      const cs = conns();
      const srv = await tlsListen(ctx.server, cs.conn);
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu, { context: ctx.client });
      const su = await cs.nth(0);
      await su.waitFor('socketAcceptComplete');
      const conn = su.eventsOf('socketAcceptComplete')[0].socket;

      expect(cu.names(c).slice(0, 2)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketConnectComplete']);
      expect(cu.eventsOf('socketAcceptSelectedAlpnProtocol', c)[0].args).toEqual(['h2']);
      expect(su.names(conn).slice(0, 2)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketAcceptComplete']);
      expect(su.eventsOf('socketAcceptSelectedAlpnProtocol', conn)[0].args).toEqual(['h2']);
      expect(c.alpnProtocol).toBe('h2');
      expect(conn.alpnProtocol).toBe('h2');
      await echoRoundTrip(c, cu);
    });

    it('the client’s veto: SOCKET_ALPN_SELECTION_FAILED, no connect', async () => {
      const ctx = alpnContexts(['h2', 'http/1.1'], ['h2']);
      const srv = await tlsListen(ctx.server, () => echoUser());
      const cu = new RecordingUser('client').on('socketAcceptSelectedAlpnProtocol', () => false);
      const c = h.client(srv, cu, { context: ctx.client });
      expect(await cu.waitForShutdown(c)).toBe(R.AlpnSelectionFailed);
      expect(cu.names(c)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketShutdown']);
    });

    it('the server’s veto: the accepted socket ends with SOCKET_ALPN_SELECTION_FAILED, no accept; the client does not stay open', async () => {
      const ctx = alpnContexts(['h2'], ['h2']);
      const cs = conns((i) => echoUser(`veto${i}`).on('socketAcceptSelectedAlpnProtocol', () => false));
      const srv = await tlsListen(ctx.server, cs.conn);
      const cu = sinkUser('client');
      const c = h.client(srv, cu, { context: ctx.client });
      const su = await cs.nth(0);
      await su.waitFor('socketShutdown');
      expect(su.names()).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketShutdown']);
      expect(su.shutdownReason()).toBe(R.AlpnSelectionFailed);
      // Under TLS 1.3 the client may have completed before the server vetoed: it then sees the close.
      const reason = await cu.waitForShutdown(c);
      expect([R.AlpnSelectionFailed, R.TlsHandshakeFailed, R.ByPeer, R.Lost]).toContain(reason);
    });

    it('no protocol in common: the client gets SOCKET_ALPN_SELECTION_FAILED; so does the accepted socket', async () => {
      const ctx = alpnContexts(['a'], ['b']);
      const cs = conns();
      const srv = await tlsListen(ctx.server, cs.conn);
      const cu = new RecordingUser('client');
      const c = h.client(srv, cu, { context: ctx.client });
      expect(await cu.waitForShutdown(c)).toBe(R.AlpnSelectionFailed);
      expect(cu.names(c)).toEqual(['socketShutdown']);
      // The server sent the no_application_protocol alert itself: CONTRACT §5/§10 name this
      // case SOCKET_ALPN_SELECTION_FAILED, on both sides.
      await expectAcceptedFails(await cs.nth(0), R.AlpnSelectionFailed);
    });

    it('a client without ALPN to a server with a list connects with alpnProtocol null', async () => {
      const ctx = alpnContexts(['h2', 'http/1.1'], null);
      const cs = conns();
      const srv = await tlsListen(ctx.server, cs.conn);
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu, { context: ctx.client });
      const su = await cs.nth(0);
      await su.waitFor('socketAcceptComplete');
      expect(c.alpnProtocol).toBeNull();
      expect(su.socket.alpnProtocol).toBeNull();
      expect(cu.count('socketAcceptSelectedAlpnProtocol')).toBe(0);
      expect(su.count('socketAcceptSelectedAlpnProtocol')).toBe(0);
      await echoRoundTrip(c, cu);
    });

    it('a client with a list to a server without ALPN connects with alpnProtocol null', async () => {
      const ctx = alpnContexts(null, ['h2']);
      const cs = conns();
      const srv = await tlsListen(ctx.server, cs.conn);
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu, { context: ctx.client });
      const su = await cs.nth(0);
      await su.waitFor('socketAcceptComplete');
      expect(c.alpnProtocol).toBeNull();
      expect(su.socket.alpnProtocol).toBeNull();
      expect(cu.count('socketAcceptSelectedAlpnProtocol')).toBe(0);
      await echoRoundTrip(c, cu);
    });
  });

  describe('two-way authentication', () => {
    function requiringServer(): ISocketContext {
      const ctx = serverContext(pki);
      ctx.setCertificateAuthority(pki.ca);
      ctx.requireClientCertificate();
      return ctx;
    }

    it('a client with the CA-signed client certificate is accepted; the server reads its subject', async () => {
      const cs = conns();
      const srv = await tlsListen(requiringServer(), cs.conn);
      const cctx = clientContext(pki);
      cctx.setClientCertificate(pki.client);
      const cu = sinkUser('client');
      const c = await h.connect(srv, cu, { context: cctx });
      const su = await cs.nth(0);
      await su.waitFor('socketAcceptComplete');
      const subject = su.socket.getPeerCertificate()?.subject;
      expect(subject?.CN).toBe('client');
      expect(subject?.L).toBe('Springfield');
      expect(subject?.O).toBe('Clients Inc');
      expect(c.getPeerCertificate()?.subject.CN).toBe('localhost');
      await echoRoundTrip(c, cu);
    });

    it.each([
      ['no client certificate', (ctx: ISocketContext): void => void ctx],
      [
        'disableClientCertificate() after setClientCertificate()',
        (ctx: ISocketContext): void => {
          ctx.setClientCertificate(pki.client);
          ctx.disableClientCertificate();
        },
      ],
      ['a self-signed client certificate', (ctx: ISocketContext): void => ctx.setClientCertificate(pki.rogue)],
    ])('%s: the accepted user gets TLS_HANDSHAKE_FAILED; the client does not stay open', async (_what, setup) => {
      const cs = conns();
      const srv = await tlsListen(requiringServer(), cs.conn);
      const cctx = clientContext(pki);
      setup(cctx);
      const cu = sinkUser('client');
      const c = h.client(srv, cu, { context: cctx });
      await expectAcceptedFails(await cs.nth(0), R.TlsHandshakeFailed);
      // TLS 1.3: the client finishes before the server checks its certificate, so it may see
      // connect and then the close. It must end, with some reason.
      const reason = await cu.waitForShutdown(c);
      expect(reason).not.toBe(R.Normal);
      expect(cu.count('socketShutdown', c)).toBe(1);
    });
  });

  describe('the context', () => {
    it('getCertificateFingerprint(): the server certificate’s SHA-256, else the client’s, else null', () => {
      const fresh = newContext();
      expect(fresh.getCertificateFingerprint()).toBeNull();

      const server = newContext();
      server.setServerCertificate(pki.server);
      const fp = server.getCertificateFingerprint();
      expect(fp).toBeInstanceOf(Uint8Array);
      expect(fp?.byteLength).toBe(32);
      expect(Buffer.from(fp as Uint8Array)).toEqual(fingerprintOf(pki.server));

      const client = newContext();
      client.setClientCertificate(pki.client);
      expect(Buffer.from(client.getCertificateFingerprint() as Uint8Array)).toEqual(fingerprintOf(pki.client));

      // Both set: the default server certificate's.
      client.setServerCertificate(pki.other);
      expect(Buffer.from(client.getCertificateFingerprint() as Uint8Array)).toEqual(fingerprintOf(pki.other));

      // A host-named certificate is also the default while no default is set (the seed's call),
      // so it gives the fingerprint; a default set later takes over.
      const named = newContext();
      named.setServerCertificate(pki.other, 'other.test');
      expect(Buffer.from(named.getCertificateFingerprint() as Uint8Array)).toEqual(fingerprintOf(pki.other));
      named.setServerCertificate(pki.server, 'localhost');
      expect(Buffer.from(named.getCertificateFingerprint() as Uint8Array)).toEqual(fingerprintOf(pki.other));
      named.setServerCertificate(pki.server);
      expect(Buffer.from(named.getCertificateFingerprint() as Uint8Array)).toEqual(fingerprintOf(pki.server));

      // PEM as bytes works the same.
      const bytes = newContext();
      bytes.setServerCertificate(Buffer.from(pki.server));
      expect(Buffer.from(bytes.getCertificateFingerprint() as Uint8Array)).toEqual(fingerprintOf(pki.server));
    });

    it('the fingerprint matches the certificate the client sees', async () => {
      const ctx = serverContext(pki);
      const srv = await tlsListen(ctx, () => echoUser());
      const c = await h.connect(srv, new RecordingUser('client'));
      const seen = c.getPeerCertificate()?.fingerprint256 ?? '';
      expect(Buffer.from(seen.replace(/:/g, ''), 'hex')).toEqual(Buffer.from(ctx.getCertificateFingerprint() as Uint8Array));
    });

    it('PEM errors throw a TypeError with a code, synchronously, and change nothing', () => {
      const ctx = newContext();
      const cert = certOf(pki.server);
      const key = keyOf(pki.server);
      const otherKey = keyOf(pki.other);
      for (const set of [(p: string) => ctx.setServerCertificate(p), (p: string) => ctx.setClientCertificate(p)]) {
        expect(thrownCode(() => set(cert))).toBe('TypeError:ERR_PEM_NO_PRIVATE_KEY');
        expect(thrownCode(() => set(key))).toBe('TypeError:ERR_PEM_NO_CERTIFICATE');
        expect(thrownCode(() => set(`${cert}\n${otherKey}`))).toBe('TypeError:ERR_PEM_KEY_MISMATCH');
        expect(thrownCode(() => set(''))).toBe('TypeError:ERR_PEM_NO_CERTIFICATE');
      }
      // The failed calls changed nothing; a good host-named certificate is taken (and, with no
      // default set, becomes the default: its fingerprint is the context's).
      expect(ctx.getCertificateFingerprint()).toBeNull();
      expect(thrownCode(() => ctx.setServerCertificate(`${cert}\n${key}`, 'sni.test'))).toBe('none');
      expect(Buffer.from(ctx.getCertificateFingerprint() as Uint8Array)).toEqual(fingerprintOf(pki.server));
      expect(thrownCode(() => ctx.setAlpnProtocols(['']))).toBe('TypeError:ERR_ALPN_INVALID');
      expect(thrownCode(() => ctx.setAlpnProtocols(['h2', 'x'.repeat(256)]))).toBe('TypeError:ERR_ALPN_INVALID');
      expect(thrownCode(() => ctx.setAlpnProtocols(['x'.repeat(255)]))).toBe('none');
      expect(thrownCode(() => ctx.setCertificateAuthority(key))).toBe('TypeError:ERR_PEM_NO_CERTIFICATE');
    });

    it('a TLS listener without a server certificate: bind() throws ERR_TLS_NO_SERVER_CERTIFICATE', () => {
      const withCa = h.socket(new RecordingUser('ca only'), { context: clientContext(pki) });
      expect(thrown(() => withCa.bind('127.0.0.1', 0))).toBe(`SocketStateError:${SocketErrorCode.NoServerCertificate}`);
      expect(withCa.mode).toBe('none');
      const none = h.socket(new RecordingUser('no context'), {});
      expect(thrown(() => none.bind('127.0.0.1', 0))).toBe(`SocketStateError:${SocketErrorCode.NoServerCertificate}`);
      const clientOnly = newContext();
      clientOnly.setClientCertificate(pki.client);
      const cl = h.socket(new RecordingUser('client cert only'), { context: clientOnly });
      expect(thrown(() => cl.bind('127.0.0.1', 0))).toBe(`SocketStateError:${SocketErrorCode.NoServerCertificate}`);
    });

    it('options.context not made by createSocketContext → TypeError at createSocket', () => {
      const fake: ISocketContext = {
        setServerCertificate: () => undefined,
        setClientCertificate: () => undefined,
        disableClientCertificate: () => undefined,
        setAlpnProtocols: () => undefined,
        getCertificateFingerprint: () => null,
        enableDtls: () => undefined,
        setCertificateAuthority: () => undefined,
        requireClientCertificate: () => undefined,
        setVerifyPeer: () => undefined,
      };
      expect(thrown(() => provider.createSocket(new RecordingUser('fake ctx'), { context: fake }))).toBe('TypeError');
      expect(thrown(() => provider.createSocket(new RecordingUser('fake ctx 2'), { context: {} as ISocketContext }))).toBe('TypeError');
    });

    it('a context shared by two listeners: a new server certificate affects new connections only', async () => {
      const ctx = serverContext(pki);
      const echoA = echoUser('echoA');
      const a = await tlsListen(ctx, () => echoA);
      const b = await tlsListen(ctx, () => echoUser('echoB'));
      const cctx = clientContext(pki); // shared by every client below

      const cu1 = sinkUser('before');
      const c1 = await h.connect(a, cu1, { context: cctx });
      expect(c1.getPeerCertificate()?.subject.CN).toBe('localhost');
      await echoRoundTrip(c1, cu1);

      ctx.setServerCertificate(pki.other);

      // The established connection goes on.
      await echoRoundTrip(c1, cu1);
      expect(echoA.count('socketShutdown')).toBe(0);

      // New connections, on either listener, get the new certificate.
      for (const [label, srv] of [
        ['A', a],
        ['B', b],
      ] as const) {
        const u = sinkUser(`after ${label}`);
        const s = h.socket(u, { context: cctx });
        s.connect(srv.address, 'other.test');
        await u.waitFor('socketConnectComplete', 1, 10000, s);
        expect(s.getPeerCertificate()?.subject.CN).toBe('other.test');
        await echoRoundTrip(s, u);
      }
      // …so one that verifies 127.0.0.1 now fails.
      const fu = new RecordingUser('after, by IP');
      const f = h.client(b, fu, { context: cctx });
      expect(await fu.waitForShutdown(f)).toBe(R.TlsHandshakeFailed);
      await echoRoundTrip(c1, cu1);
    });
  });

  describe('handshake time-out', () => {
    it('a raw TCP client that never sends a ClientHello is dropped after handshakeTimeoutMs; others are served meanwhile', async () => {
      const cs = conns();
      const srv = await tlsListen(serverContext(pki), cs.conn, { handshakeTimeoutMs: 300 });
      const raw = await rawConnect(srv.port);
      const peer = new StreamCollector(raw);
      const silentUser = await cs.nth(0);

      const cu = sinkUser('client');
      const c = await h.connect(srv, cu);
      await echoRoundTrip(c, cu, 64 * KiB);

      await expectAcceptedFails(silentUser, R.TlsHandshakeFailed);
      // The listener still serves, old and new connections.
      await echoRoundTrip(c, cu);
      const cu2 = sinkUser('client 2');
      const c2 = await h.connect(srv, cu2);
      await echoRoundTrip(c2, cu2);
      expect(srv.user.count('socketShutdown')).toBe(0);
      // …and the silent connection was really closed, not only reported.
      await peer.waitForEnd();
      expect(peer.size).toBe(0);
    });

    it('IoMux.terminate during an accepted socket’s handshake: NORMAL, no accept, the connection is closed', async () => {
      const mux = new IoMux();
      const cs = conns();
      const srv = await tlsListen(serverContext(pki), cs.conn, { iomux: mux });
      const raw = await rawConnect(srv.port);
      const peer = new StreamCollector(raw);
      const silentUser = await cs.nth(0);
      mux.terminate();
      await expectAcceptedFails(silentUser, R.Normal);
      expect(await srv.user.waitForShutdown(srv.socket)).toBe(R.Normal);
      await peer.waitForEnd();
      expect(peer.size).toBe(0);
    });

    it('data sent before the connection is up, then shutdown() during the handshake: still delivered, then NORMAL', async () => {
      const sink = sinkUser('sink');
      const srv = await tlsListen(serverContext(pki), () => sink);
      // A TCP relay that holds the client's handshake until the client has called shutdown().
      let release: () => void = () => undefined;
      const released = new Promise<void>((r) => (release = r));
      const held: Buffer[] = [];
      const relay = await rawServer((down) => {
        const hold = (d: Buffer): void => void held.push(d);
        down.on('data', hold);
        void released.then(async () => {
          const up = await rawConnect(srv.port);
          down.removeListener('data', hold);
          for (const d of held) up.write(d);
          down.pipe(up);
          up.pipe(down);
        });
      });
      const cu = new RecordingUser('client');
      const c = h.client(`127.0.0.1:${relay.port}`, cu);
      // The ClientHello reached the relay: the client is in its handshake now.
      await pollUntil(() => held.length > 0, 'the ClientHello at the relay');
      const data = randomBytes(50 * KiB);
      c.send(data);
      c.shutdown();
      release();
      expect(await cu.waitForShutdown(c)).toBe(R.Normal);
      expect(cu.count('socketConnectComplete')).toBe(0);
      await sink.waitFor('socketShutdown');
      expect({ bytes: sink.receivedLength(), end: sink.shutdownReason() }).toEqual({ bytes: data.length, end: R.ByPeer });
      expect(sha256(sink.received())).toBe(sha256(data));
    });

    it('plain text instead of a ClientHello: the accepted user gets TLS_HANDSHAKE_FAILED', async () => {
      const cs = conns();
      const srv = await tlsListen(serverContext(pki), cs.conn);
      const raw = await rawConnect(srv.port);
      const peer = new StreamCollector(raw);
      raw.write('GET / HTTP/1.0\r\n\r\n');
      await expectAcceptedFails(await cs.nth(0), R.TlsHandshakeFailed);
      await peer.waitForEnd();
      expect(peer.data().includes('GET')).toBe(false);
    });
  });

  describe('interop with Node’s tls', () => {
    it('framework TLS client ↔ plain Node tls echo server', async () => {
      const srv = await rawTlsServer(pki, {}, (sock) => sock.pipe(sock));
      const cu = sinkUser('client');
      const c = await h.connect(`localhost:${srv.port}`, cu);
      expect(c.getPeerCertificate()?.subject.CN).toBe('localhost');
      const data = randomBytes(MiB);
      for (let off = 0; off < data.length; off += 100 * KiB) c.send(data.subarray(off, off + 100 * KiB));
      await cu.waitForBytes(data.length, c, 20000);
      expect(sha256(cu.received(c))).toBe(sha256(data));
      c.shutdown();
      expect(await cu.waitForShutdown(c)).toBe(R.Normal);
    });

    it('plain Node tls client (verifying with the CA) ↔ framework TLS echo server', async () => {
      const cs = conns();
      const srv = await tlsListen(serverContext(pki), cs.conn);
      const raw = await rawTlsConnect(pki, srv.port, '127.0.0.1', { servername: 'localhost' });
      expect(raw.authorized).toBe(true);
      expect(raw.getPeerCertificate().subject.CN).toBe('localhost');
      const peer = new StreamCollector(raw);
      const data = randomBytes(MiB);
      raw.write(data);
      await peer.waitForBytes(data.length, 20000);
      expect(sha256(peer.data())).toBe(sha256(data));
      raw.end();
      const su = await cs.nth(0);
      expect(await su.waitForShutdown(su.socket)).toBe(R.ByPeer);
      await peer.waitForEnd();
      expect(peer.size).toBe(data.length);
    });

    it('a plain Node tls client without the CA refuses the framework server', async () => {
      const srv = await tlsListen(serverContext(pki), () => echoUser());
      const raw = rawTlsConnectNoWait(srv.port, '127.0.0.1', { servername: 'localhost' });
      let secured = false;
      raw.once('secureConnect', () => (secured = true));
      const peer = new StreamCollector(raw);
      await peer.until(() => peer.closed, 'the raw client to close');
      expect(secured).toBe(false);
      expect(peer.error).not.toBeNull();
    });
  });

  describe('IPv6', () => {
    const it6 = hasIpv6Loopback() ? it : it.skip; // skipped only when the machine has no ::1

    it6('TLS on [::1]: verified by the ::1 IP SAN, echo', async () => {
      const lu = new RecordingUser('listener6', { accept: () => echoUser('echo6') });
      const l = provider.createSocket(lu, { ipv6: true, context: serverContext(pki) });
      l.bind('::1', 0);
      await lu.waitFor('socketBindResult', 1, 10000, l);
      const [addr, port] = lu.eventsOf('socketBindResult')[0].args as [string, number];
      expect(addr).toBe('::1');
      l.listen();
      const cu = sinkUser('client6');
      const c = await h.connect(`[::1]:${port}`, cu, { ipv6: true, context: clientContext(pki) });
      expect(c.remoteAddress).toBe('::1');
      expect(c.getPeerCertificate()?.subject.CN).toBe('localhost');
      await echoRoundTrip(c, cu, 100 * KiB);
    });
  });
});
