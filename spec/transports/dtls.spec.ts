/**
 * DTLS 1.2 (CONTRACT.md §3, §5, §7, §8, §10): `tlsProvider.upgradeToTls(udpSocket, user,
 * { serverSide, serverName, context })` with a context on which `enableDtls()` was called.
 *
 * Our client against our server, with the server on a bound UDP socket (it serves the first
 * peer that completes a handshake) and on a connected one (behind a plain-dgram relay, since
 * two connected sockets cannot know each other's ports in advance); the taken-over UDP
 * sockets; DTLS-SRTP keying material; fingerprints and peer certificates (ECDSA P-256 and
 * RSA 2048, two-way authentication); verification failures and the opt-out; a peer that
 * vanishes; garbage and strangers; 1,000 datagrams; the refusals; close_notify.
 * Loopback only; every wait bounded.
 */
import { X509Certificate } from 'node:crypto';
import {
  createTlsSocketProvider,
  createUdpSocketProvider,
  ISocket,
  ISocketContext,
  ISocketProvider,
  ShutdownReason,
  SocketErrorCode,
  SocketStateError,
  UpgradeOptions,
} from '../../lib';
import { makeTestPki, TestPki } from '../../scripts/certs';
import { closePlainSockets, dtlsRecords, makeRsaPki, plainUdp, RsaPki, UdpRelay, udpRelay } from '../helpers/dtls';
import { pollUntil, randomBytes, settle, sha256, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { thrown } from '../helpers/stream-harness';

/** Every wait in this file. */
const WAIT = 15000;
const TAKEN_OVER = `SocketStateError:${SocketErrorCode.TakenOver}`;

/** DTLS content types. */
const HANDSHAKE = 22;
const APPLICATION_DATA = 23;
const ALERT = 21;

/** "AB:CD:…" (SDP a=fingerprint / X509Certificate.fingerprint256 style) of raw bytes. */
function colonHex(bytes: Uint8Array): string {
  return (Buffer.from(bytes).toString('hex').toUpperCase().match(/../g) ?? []).join(':');
}

/** The first certificate of "certificate + key" PEM text. */
function certOf(pem: string): X509Certificate {
  const m = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/);
  if (!m) throw new Error('no certificate in the PEM text');
  return new X509Certificate(m[0]);
}

/** What a call threw, with the message: the code of a SocketStateError, else a description. */
function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof SocketStateError) return { code: e.code, message: e.message };
    return { code: `not a SocketStateError: ${(e as Error)?.name}`, message: String((e as Error)?.message) };
  }
  return { code: 'nothing thrown', message: '' };
}

describe('DTLS (upgradeToTls of a UDP socket)', () => {
  let pki: TestPki;
  let rsa: RsaPki;
  let udp: ISocketProvider;
  let tlsp: ISocketProvider;

  beforeAll(async () => {
    [pki, rsa] = await withTimeout(Promise.all([makeTestPki(), makeRsaPki()]), 25000, 'the EC and RSA test PKIs');
  }, 30000);

  beforeEach(() => {
    udp = guardProvider(createUdpSocketProvider());
    tlsp = guardProvider(createTlsSocketProvider());
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck();
    closePlainSockets();
    expect(violations).toEqual([]);
  });

  // ---- contexts and sockets ------------------------------------------------------------

  interface CtxOptions {
    /** Default true: enableDtls(srtp). */
    dtls?: boolean;
    srtp?: boolean;
    server?: string;
    client?: string;
    ca?: string;
    requireClient?: boolean;
    verifyPeer?: boolean;
  }

  function context(o: CtxOptions): ISocketContext {
    const ctx = tlsp.createSocketContext();
    if (o.dtls !== false) ctx.enableDtls(o.srtp === true);
    if (o.server) ctx.setServerCertificate(o.server);
    if (o.client) ctx.setClientCertificate(o.client);
    if (o.ca) ctx.setCertificateAuthority(o.ca);
    if (o.requireClient) ctx.requireClientCertificate();
    if (o.verifyPeer === false) ctx.setVerifyPeer(false);
    return ctx;
  }
  const serverCtx = (o: CtxOptions = {}): ISocketContext => context({ server: pki.server, ...o });
  const clientCtx = (o: CtxOptions = {}): ISocketContext => context({ ca: pki.ca, ...o });

  /** A UDP socket bound to 127.0.0.1:0 (waits for socketBindResult). */
  async function boundUdp(label = 'server-udp'): Promise<{ u: RecordingUser; s: ISocket; port: number }> {
    const u = new RecordingUser(label);
    const s = udp.createSocket(u);
    s.bind('127.0.0.1', 0);
    await u.waitFor('socketBindResult', 1, WAIT, s);
    return { u, s, port: u.eventsOf('socketBindResult', s)[0].args[1] as number };
  }

  /** A UDP socket connected to 127.0.0.1:`port` (waits for socketConnectComplete). */
  async function connectedUdp(port: number, label = 'client-udp'): Promise<{ u: RecordingUser; s: ISocket; localPort: number }> {
    const u = new RecordingUser(label);
    const s = udp.createSocket(u);
    s.connect(`127.0.0.1:${port}`);
    await u.waitFor('socketConnectComplete', 1, WAIT, s);
    const local = s.getLocalAddress();
    if (!local) throw new Error('a connected UDP socket without a local address');
    return { u, s, localPort: local.port };
  }

  interface Side {
    /** The UDP socket that was upgraded, and its user. */
    udp: ISocket;
    udpUser: RecordingUser;
    /** The DTLS socket upgradeToTls returned, and its user. */
    socket: ISocket;
    user: RecordingUser;
    /** The UDP port of this side. */
    port: number;
  }

  interface Pair {
    server: Side;
    client: Side;
    /** The relay between them, if any. */
    relay: UdpRelay | null;
    /** Where the client sends (the server's port, or the relay's). */
    target: number;
  }

  interface PairOptions {
    server?: ISocketContext;
    client?: ISocketContext;
    /** 'bound' (default): the server side is a bound UDP socket; 'connected': a connected one, behind a relay. */
    serverMode?: 'bound' | 'connected';
    /** A relay between a bound server and the client (always there for 'connected'). */
    relay?: boolean;
    serverName?: string;
    serverOptions?: UpgradeOptions;
    clientOptions?: UpgradeOptions;
  }

  /** Upgrades a server side, then a client side towards it; does not wait for the handshake. */
  async function startPair(o: PairOptions = {}): Promise<Pair> {
    const su = new RecordingUser('dtls-server');
    const cu = new RecordingUser('dtls-client');
    const relay = o.serverMode === 'connected' || o.relay ? await udpRelay() : null;
    let serverUdp: { u: RecordingUser; s: ISocket; port: number };
    if (o.serverMode === 'connected') {
      const c = await connectedUdp(relay!.port, 'server-udp');
      serverUdp = { u: c.u, s: c.s, port: c.localPort };
    } else {
      serverUdp = await boundUdp();
    }
    const server = tlsp.upgradeToTls(serverUdp.s, su, { serverSide: true, context: o.server ?? serverCtx(), ...o.serverOptions });
    const target = relay ? relay.port : serverUdp.port;
    const c = await connectedUdp(target);
    relay?.between(c.localPort, serverUdp.port);
    const client = tlsp.upgradeToTls(c.s, cu, { context: o.client ?? clientCtx(), serverName: o.serverName, ...o.clientOptions });
    return {
      server: { udp: serverUdp.s, udpUser: serverUdp.u, socket: server, user: su, port: serverUdp.port },
      client: { udp: c.s, udpUser: c.u, socket: client, user: cu, port: c.localPort },
      relay,
      target,
    };
  }

  /** Waits until `socket` reported socketUpgradeToTlsComplete or socketShutdown; expects the former. */
  async function upgraded(user: RecordingUser, socket: ISocket): Promise<void> {
    await user.waitUntil(
      () => user.count('socketUpgradeToTlsComplete', socket) + user.count('socketShutdown', socket) > 0,
      'socketUpgradeToTlsComplete (or socketShutdown)',
      WAIT,
    );
    expect(`${user.label}: ${user.names(socket)[0]}(${String(user.shutdownReason(socket) ?? '')})`).toBe(`${user.label}: socketUpgradeToTlsComplete()`);
  }

  /** Waits for socketUpgradeToTlsComplete on both sides (fails at once if either side ended instead). */
  async function secure(p: Pair): Promise<void> {
    await upgraded(p.server.user, p.server.socket);
    await upgraded(p.client.user, p.client.socket);
  }

  /** The datagrams `u` received on `s`, as [text, srcAddr, srcPort]. */
  function datagrams(u: RecordingUser, s: ISocket): Array<[string, string, number]> {
    return u.eventsOf('socketRecvFromResult', s).map((e) => [String(e.data), e.args[2] as string, e.args[3] as number]);
  }

  /** Sends `text` from `from` and waits until `to` received it (a recv is made on `to` first). */
  async function roundTrip(from: Side, to: Side, text: string): Promise<void> {
    const before = to.user.count('socketRecvFromResult', to.socket);
    to.socket.recv(new Uint8Array(2048));
    from.socket.send(Buffer.from(text));
    await to.user.waitFor('socketRecvFromResult', before + 1, WAIT, to.socket);
    expect(datagrams(to.user, to.socket)[before][0]).toBe(text);
  }

  /** Every method of a taken-over socket throws ERR_SOCKET_TAKEN_OVER. */
  function expectTakenOver(old: ISocket): void {
    const calls: Array<[string, () => unknown]> = [
      ['send', () => old.send(Buffer.from('x'))],
      ['sendTo', () => old.sendTo(Buffer.from('x'), undefined, '127.0.0.1', 9)],
      ['recv', () => old.recv(new Uint8Array(8))],
      ['recvCancel', () => old.recvCancel()],
      ['shutdown', () => old.shutdown()],
      ['connect', () => old.connect('127.0.0.1:9')],
      ['bind', () => old.bind('127.0.0.1', 0)],
      ['setUser', () => old.setUser(new RecordingUser('never'))],
    ];
    expect(calls.map(([name, fn]) => [name, thrown(fn)])).toEqual(calls.map(([name]) => [name, TAKEN_OVER]));
  }

  // ---------------------------------------------------------------------------------------

  describe('our client and our server', () => {
    it('bound server: both sides report socketUpgradeToTlsComplete with the new socket; data both ways with the peer’s address; the UDP sockets fall silent and throw ERR_SOCKET_TAKEN_OVER', async () => {
      const p = await startPair({ serverName: 'localhost' });
      await secure(p);
      for (const side of [p.server, p.client]) {
        expect(side.socket).not.toBe(side.udp);
        expect(side.user.names(side.socket)).toEqual(['socketUpgradeToTlsComplete']);
        expect(side.user.eventsOf('socketUpgradeToTlsComplete')[0].socket).toBe(side.socket);
      }
      // The server now serves this one client.
      expect([p.server.socket.remoteAddress, p.server.socket.remotePort]).toEqual(['127.0.0.1', p.client.port]);
      expect([p.client.socket.remoteAddress, p.client.socket.remotePort]).toEqual(['127.0.0.1', p.server.port]);
      expect(p.server.socket.getLocalAddress()).toEqual({ address: '127.0.0.1', port: p.server.port });
      expect(p.client.socket.getLocalAddress()?.port).toBe(p.client.port);

      const sbuf = new Uint8Array(2048);
      p.server.socket.recv(sbuf);
      p.client.socket.send(Buffer.from('hello from the client'));
      await p.server.user.waitFor('socketRecvFromResult', 1, WAIT, p.server.socket);
      expect(datagrams(p.server.user, p.server.socket)).toEqual([['hello from the client', '127.0.0.1', p.client.port]]);
      expect(p.server.user.eventsOf('socketRecvFromResult', p.server.socket)[0].args[0]).toBe(sbuf);

      const cbuf = new Uint8Array(2048);
      p.client.socket.recv(cbuf);
      p.server.socket.send(Buffer.from('hello from the server'));
      await p.client.user.waitFor('socketRecvFromResult', 1, WAIT, p.client.socket);
      expect(datagrams(p.client.user, p.client.socket)).toEqual([['hello from the server', '127.0.0.1', p.server.port]]);
      await p.client.user.waitFor('socketSendResult', 1, WAIT, p.client.socket);
      await p.server.user.waitFor('socketSendResult', 1, WAIT, p.server.socket);

      for (const side of [p.server, p.client]) expectTakenOver(side.udp);
      await settle();
      // Nothing reached the old users after the upgrade (the recording user also files a violation if it did).
      expect(p.server.udpUser.names()).toEqual(['socketBindResult']);
      expect(p.client.udpUser.names()).toEqual(['socketConnectComplete']);
    });

    it('connected server (behind a relay): the handshake completes, data flows both ways, the wire carries DTLS records and no plaintext', async () => {
      const p = await startPair({ serverMode: 'connected' });
      await secure(p);
      const relay = p.relay!;
      expect(p.server.socket.remotePort).toBe(relay.port);
      expect(p.client.socket.remotePort).toBe(relay.port);

      await roundTrip(p.client, p.server, 'secret from the client');
      await roundTrip(p.server, p.client, 'secret from the server');
      expect(datagrams(p.server.user, p.server.socket)).toEqual([['secret from the client', '127.0.0.1', relay.port]]);
      expect(datagrams(p.client.user, p.client.socket)).toEqual([['secret from the server', '127.0.0.1', relay.port]]);
      for (const side of [p.server, p.client]) expectTakenOver(side.udp);

      // What went over the wire: a ClientHello first, application data records later, never the plaintext.
      const first = dtlsRecords(relay.seen[0].data);
      expect([relay.seen[0].from, first[0]?.contentType, first[0]?.handshakeType]).toEqual(['a', HANDSHAKE, 1]);
      const appData = relay.seen.filter((d) => dtlsRecords(d.data).some((r) => r.contentType === APPLICATION_DATA));
      expect(appData.map((d) => d.from)).toEqual(['a', 'b']);
      for (const d of relay.seen) {
        expect(dtlsRecords(d.data).length).toBeGreaterThan(0);
        expect(d.data.includes(Buffer.from('secret from'))).toBe(false);
      }
    });

    it('a lost ClientHello and a lost server flight are retransmitted: the handshake still completes', async () => {
      let droppedFromClient = 0;
      let droppedFromServer = 0;
      const relay = await udpRelay();
      relay.decide = (from) => {
        if (from === 'a' && droppedFromClient === 0) {
          droppedFromClient++;
          return 'drop';
        }
        if (from === 'b' && droppedFromServer === 0) {
          droppedFromServer++;
          return 'drop';
        }
        return 'forward';
      };
      const s = await boundUdp();
      const su = new RecordingUser('dtls-server');
      const server = tlsp.upgradeToTls(s.s, su, { serverSide: true, context: serverCtx() });
      const c = await connectedUdp(relay.port);
      relay.between(c.localPort, s.port);
      const cu = new RecordingUser('dtls-client');
      const client = tlsp.upgradeToTls(c.s, cu, { context: clientCtx(), serverName: 'localhost' });
      await su.waitFor('socketUpgradeToTlsComplete', 1, WAIT, server);
      await cu.waitFor('socketUpgradeToTlsComplete', 1, WAIT, client);
      expect([droppedFromClient, droppedFromServer]).toEqual([1, 1]);
      // The dropped ClientHello was sent again.
      const clientHellos = relay.seen.filter((d) => d.from === 'a' && dtlsRecords(d.data).some((r) => r.handshakeType === 1));
      expect(clientHellos.length).toBeGreaterThanOrEqual(3); // dropped, resent, and the one with the cookie
      const side = (socket: ISocket, user: RecordingUser, port: number): Side => ({ socket, user, udp: socket, udpUser: user, port });
      await roundTrip(side(client, cu, c.localPort), side(server, su, s.port), 'after the losses');
    });

    it('send() before the handshake finished is queued and sent once it has', async () => {
      const p = await startPair();
      p.client.socket.send(Buffer.from('early one'));
      p.client.socket.send(Buffer.from('early two'));
      await secure(p);
      p.server.socket.recv(new Uint8Array(100));
      await p.server.user.waitFor('socketRecvFromResult', 1, WAIT, p.server.socket);
      p.server.socket.recv(new Uint8Array(100));
      await p.server.user.waitFor('socketRecvFromResult', 2, WAIT, p.server.socket);
      expect(datagrams(p.server.user, p.server.socket).map((d) => d[0])).toEqual(['early one', 'early two']);
      await p.client.user.waitFor('socketSendResult', 2, WAIT, p.client.socket);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketUpgradeToTlsComplete', 'socketSendResult', 'socketSendResult']);
    });

    it('each recv takes one decrypted datagram; a datagram longer than len is cut; queued ones wait for their recv', async () => {
      const p = await startPair();
      await secure(p);
      for (const t of ['first datagram', 'second', '0123456789']) p.client.socket.send(Buffer.from(t));
      await p.client.user.waitFor('socketSendResult', 3, WAIT, p.client.socket);
      await pollUntil(() => p.server.socket.bytesReceived >= 14 + 6 + 10, 'three datagrams to arrive', WAIT);
      expect(p.server.user.count('socketRecvFromResult')).toBe(0);
      p.server.socket.recv(new Uint8Array(100));
      await p.server.user.waitFor('socketRecvFromResult', 1, WAIT, p.server.socket);
      p.server.socket.recv(new Uint8Array(100));
      await p.server.user.waitFor('socketRecvFromResult', 2, WAIT, p.server.socket);
      p.server.socket.recv(new Uint8Array(100), 4);
      await p.server.user.waitFor('socketRecvFromResult', 3, WAIT, p.server.socket);
      expect(datagrams(p.server.user, p.server.socket).map((d) => d[0])).toEqual(['first datagram', 'second', '0123']);
      p.server.socket.recv(new Uint8Array(100));
      await settle();
      expect(p.server.user.count('socketRecvFromResult')).toBe(3);
    });
  });

  // ---------------------------------------------------------------------------------------

  describe('DTLS-SRTP', () => {
    it('enableDtls(true) on both sides: SRTP_AES128_CM_SHA1_80 and the same 60 bytes of keying material on both sides, fresh per session', async () => {
      const materials: Buffer[] = [];
      for (let session = 0; session < 2; session++) {
        const p = await startPair({ server: serverCtx({ srtp: true }), client: clientCtx({ srtp: true }) });
        await secure(p);
        const ks = p.server.socket.getSrtpKeyingMaterial();
        const kc = p.client.socket.getSrtpKeyingMaterial();
        expect(ks?.profile).toBe('SRTP_AES128_CM_SHA1_80');
        expect(kc?.profile).toBe('SRTP_AES128_CM_SHA1_80');
        expect(ks?.material.byteLength).toBe(60);
        expect(kc?.material.byteLength).toBe(60);
        const server = Buffer.from(ks!.material);
        expect(server.equals(Buffer.from(kc!.material))).toBe(true);
        expect(server.equals(Buffer.alloc(60))).toBe(false);
        materials.push(server);
        await roundTrip(p.client, p.server, 'media follows');
        p.client.socket.shutdown();
        p.server.socket.shutdown();
        await p.client.user.waitForShutdown(p.client.socket, WAIT);
        await p.server.user.waitForShutdown(p.server.socket, WAIT);
      }
      expect(materials[0].equals(materials[1])).toBe(false);
    });

    it('without SRTP, getSrtpKeyingMaterial() is null on both sides', async () => {
      const p = await startPair();
      expect(p.client.socket.getSrtpKeyingMaterial()).toBeNull(); // before the handshake too
      await secure(p);
      expect(p.server.socket.getSrtpKeyingMaterial()).toBeNull();
      expect(p.client.socket.getSrtpKeyingMaterial()).toBeNull();
    });

    it('SRTP offered by the client only: the handshake completes without it; null on both sides', async () => {
      const p = await startPair({ server: serverCtx({ srtp: false }), client: clientCtx({ srtp: true }) });
      await secure(p);
      expect(p.server.socket.getSrtpKeyingMaterial()).toBeNull();
      expect(p.client.socket.getSrtpKeyingMaterial()).toBeNull();
      await roundTrip(p.client, p.server, 'no srtp');
    });
  });

  // ---------------------------------------------------------------------------------------

  describe('certificates and verification', () => {
    it('getCertificateFingerprint() is the SHA-256 of our certificate (SDP a=fingerprint) and matches what the peer sees', async () => {
      const sctx = serverCtx();
      const cctx = clientCtx({ client: pki.client });
      const serverCert = certOf(pki.server);
      const clientCert = certOf(pki.client);
      expect(colonHex(sctx.getCertificateFingerprint()!)).toBe(serverCert.fingerprint256);
      expect(colonHex(cctx.getCertificateFingerprint()!)).toBe(clientCert.fingerprint256);
      expect(sctx.getCertificateFingerprint()!.byteLength).toBe(32);

      const p = await startPair({ server: context({ server: pki.server, ca: pki.ca, requireClient: true }), client: cctx, serverName: 'localhost' });
      await secure(p);
      const seenByClient = p.client.socket.getPeerCertificate();
      expect(seenByClient?.subject?.CN).toBe('localhost');
      expect(seenByClient?.fingerprint256).toBe(colonHex(sctx.getCertificateFingerprint()!));
      const seenByServer = p.server.socket.getPeerCertificate();
      expect(seenByServer?.subject?.CN).toBe('client');
      expect(seenByServer?.subject?.L).toBe('Springfield');
      expect(seenByServer?.fingerprint256).toBe(clientCert.fingerprint256);
    });

    it('without requireClientCertificate the server sees no client certificate', async () => {
      const p = await startPair({ client: clientCtx({ client: pki.client }) });
      await secure(p);
      expect(p.server.socket.getPeerCertificate()).toBeNull();
      expect(p.client.socket.getPeerCertificate()?.subject?.CN).toBe('localhost');
    });

    it('requireClientCertificate() and a client without a certificate: the server side fails with SOCKET_TLS_HANDSHAKE_FAILED', async () => {
      const p = await startPair({
        server: context({ server: pki.server, ca: pki.ca, requireClient: true }),
        client: clientCtx(),
        serverOptions: { handshakeTimeoutMs: 2000 },
        clientOptions: { handshakeTimeoutMs: 2000 },
      });
      expect(await p.server.user.waitForShutdown(p.server.socket, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(p.server.user.names(p.server.socket)).toEqual(['socketShutdown']);
      // A handshake that cannot finish cannot complete on the client either.
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketShutdown']);
    });

    it('requireClientCertificate() and a client certificate from another CA (the rogue): the server side fails', async () => {
      const p = await startPair({
        server: context({ server: pki.server, ca: pki.ca, requireClient: true }),
        client: clientCtx({ client: pki.rogue }),
        serverOptions: { handshakeTimeoutMs: 2000 },
        clientOptions: { handshakeTimeoutMs: 2000 },
      });
      expect(await p.server.user.waitForShutdown(p.server.socket, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(p.server.user.names(p.server.socket)).toEqual(['socketShutdown']);
    });

    it.each([
      ['ECDSA P-256', 'ec'],
      ['RSA 2048', 'rsa'],
    ] as const)('%s certificates on both sides (two-way authentication) work', async (_name, keyType) => {
      const set = keyType === 'ec' ? { ca: pki.ca, server: pki.server, client: pki.client } : rsa;
      const p = await startPair({
        server: context({ server: set.server, ca: set.ca, requireClient: true }),
        client: context({ client: set.client, ca: set.ca }),
        serverName: 'localhost',
      });
      await secure(p);
      const seenByClient = p.client.socket.getPeerCertificate();
      const seenByServer = p.server.socket.getPeerCertificate();
      expect(seenByClient?.subject?.CN).toBe('localhost');
      expect(seenByServer?.subject?.CN).toBe('client');
      expect(seenByClient?.fingerprint256).toBe(certOf(set.server).fingerprint256);
      expect(new X509Certificate(seenByClient!.raw).publicKey.asymmetricKeyType).toBe(keyType);
      expect(new X509Certificate(seenByServer!.raw).publicKey.asymmetricKeyType).toBe(keyType);
      await roundTrip(p.client, p.server, `over ${keyType}`);
      await roundTrip(p.server, p.client, `back over ${keyType}`);
    });

    it('an untrusted (self-signed) server: the client fails with SOCKET_TLS_HANDSHAKE_FAILED, no socketUpgradeToTlsComplete', async () => {
      const p = await startPair({ server: serverCtx({ server: pki.rogue }), serverName: 'localhost' });
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketShutdown']);
      expect(p.client.socket.getPeerCertificate()).toBeNull();
    });

    it('a client trusting only Node’s root store refuses our test CA’s server', async () => {
      const p = await startPair({ client: context({}), serverName: 'localhost' });
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketShutdown']);
    });

    it('the wrong name (serverName wrong.example): the client fails with SOCKET_TLS_HANDSHAKE_FAILED', async () => {
      const p = await startPair({ serverName: 'wrong.example' });
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketShutdown']);
    });

    it('without a serverName the address is verified: 127.0.0.1 is in the certificate, so it connects', async () => {
      const p = await startPair();
      await secure(p);
      expect(p.client.socket.getPeerCertificate()?.subject?.CN).toBe('localhost');
    });

    it('setVerifyPeer(false): the client connects to the untrusted server, data flows', async () => {
      const p = await startPair({ server: serverCtx({ server: pki.rogue }), client: context({ verifyPeer: false }), serverName: 'wrong.example' });
      await secure(p);
      expect(p.client.socket.getPeerCertificate()?.fingerprint256).toBe(certOf(pki.rogue).fingerprint256);
      await roundTrip(p.client, p.server, 'unverified but encrypted');
    });
  });

  // ---------------------------------------------------------------------------------------

  describe('peers that do not play along', () => {
    it('a peer that never answers: SOCKET_TLS_HANDSHAKE_FAILED after handshakeTimeoutMs, no socketUpgradeToTlsComplete', async () => {
      const sink = await plainUdp();
      const c = await connectedUdp(sink.port);
      const cu = new RecordingUser('dtls-client');
      const client = tlsp.upgradeToTls(c.s, cu, { context: clientCtx(), handshakeTimeoutMs: 800 });
      await sink.waitFor(1);
      const hello = dtlsRecords(sink.messages[0].data);
      expect([hello[0]?.contentType, hello[0]?.handshakeType]).toEqual([HANDSHAKE, 1]);
      expect([0xfeff, 0xfefd]).toContain(hello[0]?.version);
      expect(await cu.waitForShutdown(client, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
      expect(cu.names(client)).toEqual(['socketShutdown']);
    });

    it('shutdown() during the handshake: SOCKET_SHUTDOWN_NORMAL, no socketUpgradeToTlsComplete', async () => {
      const sink = await plainUdp();
      const c = await connectedUdp(sink.port);
      const cu = new RecordingUser('dtls-client');
      const client = tlsp.upgradeToTls(c.s, cu, { context: clientCtx() });
      await sink.waitFor(1);
      client.shutdown();
      expect(await cu.waitForShutdown(client, WAIT)).toBe(ShutdownReason.Normal);
      await settle();
      expect(cu.names(client)).toEqual(['socketShutdown']);
    });

    it('500 garbage datagrams during and after the handshake: it completes with the right peer, data flows, strangers are ignored', async () => {
      const garbage = await plainUdp();
      // Random bytes of random length; every 5th datagram is random bytes in a DTLS 1.2 record
      // envelope (consistent length, random epoch and sequence) with a content type from a fixed
      // cycle — never a handshake record (so no garbage can take part in the handshake) and never
      // a well-formed alert.
      const CONTENT_TYPES = [0, 20, 21, 23, 24, 25, 99, 255];
      let made = 0;
      const junk = (): Buffer => {
        const i = made++;
        const body = randomBytes(1 + Math.floor(Math.random() * 300));
        if (i % 5 !== 4) return body;
        const header = randomBytes(13);
        header[0] = CONTENT_TYPES[Math.floor(i / 5) % CONTENT_TYPES.length];
        if (header[0] === ALERT) body[0] = 0xff; // not an alert level: garbage, not a forged alert
        header.writeUInt16BE(0xfefd, 1);
        header.writeUInt16BE(body.length, 11);
        return Buffer.concat([header, body]);
      };
      const s = await boundUdp();
      const su = new RecordingUser('dtls-server');
      const server = tlsp.upgradeToTls(s.s, su, { serverSide: true, context: serverCtx() });
      // Garbage before the client starts, and while it handshakes.
      for (let i = 0; i < 50; i++) await garbage.send(junk(), s.port);
      const c = await connectedUdp(s.port);
      const cu = new RecordingUser('dtls-client');
      const client = tlsp.upgradeToTls(c.s, cu, { context: clientCtx(), serverName: 'localhost' });
      let during = 50;
      while (during < 250 && su.count('socketUpgradeToTlsComplete') + su.count('socketShutdown') === 0) {
        await garbage.send(junk(), s.port);
        during++;
      }
      await upgraded(su, server);
      await upgraded(cu, client);
      // The peer the server locked on is the client, not the garbage source.
      expect([server.remoteAddress, server.remotePort]).toEqual(['127.0.0.1', c.localPort]);

      const strangersAtLock = server.stats().strangerDatagrams;
      const after = 500 - during;
      for (let i = 0; i < after; i++) await garbage.send(junk(), s.port);
      await pollUntil(() => server.stats().strangerDatagrams >= strangersAtLock + after, `${after} datagrams from the stranger to be counted as ignored`, WAIT);
      const side = (socket: ISocket, user: RecordingUser, port: number): Side => ({ socket, user, udp: socket, udpUser: user, port });
      await roundTrip(side(client, cu, c.localPort), side(server, su, s.port), 'still here');
      await roundTrip(side(server, su, s.port), side(client, cu, c.localPort), 'me too');
      expect(datagrams(su, server)).toEqual([['still here', '127.0.0.1', c.localPort]]);
      expect(su.names(server)).toEqual(['socketUpgradeToTlsComplete', 'socketRecvFromResult', 'socketSendResult']);
      expect(garbage.messages).toEqual([]); // nothing was ever sent to the garbage source
    });

    it('a forged, unauthenticated record from the peer’s own address (spoofed) does not end the session', async () => {
      const p = await startPair({ relay: true });
      await secure(p);
      const relay = p.relay!;
      // A plaintext (epoch 0) close_notify alert, and a record of an unknown content type, both
      // 13-byte DTLS 1.2 headers; nobody who holds the session keys made them.
      const record = (type: number, body: Buffer): Buffer => {
        const h = Buffer.alloc(13);
        h[0] = type;
        h.writeUInt16BE(0xfefd, 1);
        h.writeUInt16BE(0, 3); // epoch 0: unprotected
        h.writeUIntBE(1000, 5, 6);
        h.writeUInt16BE(body.length, 11);
        return Buffer.concat([h, body]);
      };
      const forged = [record(ALERT, Buffer.from([1, 0])), record(99, Buffer.alloc(0))];
      for (const f of forged) {
        await relay.peer.send(f, p.server.port); // the server's peer is the relay's address
        await relay.peer.send(f, p.client.port); // and so is the client's
      }
      await settle();
      expect(p.server.user.names(p.server.socket)).toEqual(['socketUpgradeToTlsComplete']);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketUpgradeToTlsComplete']);
      await roundTrip(p.client, p.server, 'still in session');
      await roundTrip(p.server, p.client, 'both ways');
    });

    it('once the bound server serves a peer, a stranger is ignored: a genuine record from another source is dropped, a new ClientHello unanswered', async () => {
      const p = await startPair({ relay: true, serverName: 'localhost' });
      await secure(p);
      const relay = p.relay!;
      // Before the lock, the server answered the client's first ClientHello with a HelloVerifyRequest.
      const firstHello = relay.seen.find((d) => d.from === 'a' && dtlsRecords(d.data)[0]?.handshakeType === 1);
      const verifyRequest = relay.seen.find((d) => d.from === 'b' && dtlsRecords(d.data)[0]?.handshakeType === 3);
      expect(firstHello).toBeDefined();
      expect(verifyRequest).toBeDefined();

      // The relay withholds the client's next protected record.
      let withheld: Buffer | null = null;
      relay.decide = (from, data) => {
        if (from === 'a' && withheld === null && dtlsRecords(data).some((r) => r.contentType === APPLICATION_DATA)) {
          withheld = data;
          return 'drop';
        }
        return 'forward';
      };
      const buf = new Uint8Array(2048);
      p.server.socket.recv(buf);
      p.client.socket.send(Buffer.from('withheld record'));
      await pollUntil(() => withheld !== null, 'the relay to withhold a record', WAIT);

      const stranger = await plainUdp();
      await stranger.send(withheld!, p.server.port);
      await stranger.send(firstHello!.data, p.server.port);
      await pollUntil(() => p.server.socket.stats().strangerDatagrams >= 2, 'two datagrams from the stranger to be counted as ignored', WAIT);
      await settle();
      expect(p.server.user.count('socketRecvFromResult', p.server.socket)).toBe(0);
      expect(stranger.messages).toEqual([]);

      // The same record from the peer's address is accepted: only its source kept it out.
      await relay.peer.send(withheld!, p.server.port);
      await p.server.user.waitFor('socketRecvFromResult', 1, WAIT, p.server.socket);
      expect(datagrams(p.server.user, p.server.socket)).toEqual([['withheld record', '127.0.0.1', relay.port]]);
    });
  });

  // ---------------------------------------------------------------------------------------

  describe('bulk', () => {
    it('1,000 datagrams of 200 bytes round trip through a DTLS echo intact and in order (16 in flight)', async () => {
      const N = 1000;
      const SIZE = 200;
      const WINDOW = 16;
      const p = await startPair();
      await secure(p);
      p.server.user.on('socketRecvFromResult', (s, buffer: Uint8Array, len: number) => {
        s.send(buffer, len);
        s.recv(buffer);
      });
      p.server.socket.recv(new Uint8Array(2048));

      const payloads = Array.from({ length: N }, (_, i) => {
        const b = randomBytes(SIZE);
        b.writeUInt32BE(i, 0);
        return b;
      });
      let sent = 0;
      let received = 0;
      const pump = (): void => {
        while (sent < N && sent - received < WINDOW) p.client.socket.send(payloads[sent++]);
      };
      p.client.user.on('socketRecvFromResult', (s, buffer: Uint8Array) => {
        received++;
        if (received < N) s.recv(buffer);
        pump();
      });
      p.client.socket.recv(new Uint8Array(2048));
      pump();
      await p.client.user.waitFor('socketRecvFromResult', N, WAIT, p.client.socket);
      const echoed = p.client.user.eventsOf('socketRecvFromResult', p.client.socket).map((e) => e.data as Buffer);
      expect(echoed.map((d) => d.length).every((n) => n === SIZE)).toBe(true);
      expect(echoed.map((d) => d.readUInt32BE(0))).toEqual(payloads.map((_, i) => i));
      expect(sha256(...echoed)).toBe(sha256(...payloads));
      await p.client.user.waitFor('socketSendResult', N, WAIT, p.client.socket);
      await p.server.user.waitFor('socketSendResult', N, WAIT, p.server.socket);
      expect(p.client.socket.bytesSent).toBe(N * SIZE);
      expect(p.client.socket.bytesReceived).toBe(N * SIZE);
    });
  });

  // ---------------------------------------------------------------------------------------

  describe('refusals (SocketStateError, synchronous, nothing changed)', () => {
    /** A connected UDP socket towards a plain peer; checks afterwards that it still works. */
    async function connectedToPeer(): Promise<{ s: ISocket; u: RecordingUser; stillWorks: () => Promise<void> }> {
      const peer = await plainUdp();
      const { s, u } = await connectedUdp(peer.port);
      return {
        s,
        u,
        stillWorks: async () => {
          s.send(Buffer.from('plain udp still works'));
          await peer.waitFor(1);
          expect(String(peer.messages[0].data)).toBe('plain udp still works');
          await u.waitFor('socketSendResult', 1, WAIT, s);
          expect(u.names(s)).toEqual(['socketConnectComplete', 'socketSendResult']);
        },
      };
    }

    /** A bound UDP socket; checks afterwards that it still receives. */
    async function boundWithPeer(): Promise<{ s: ISocket; u: RecordingUser; stillWorks: () => Promise<void> }> {
      const { s, u, port } = await boundUdp();
      return {
        s,
        u,
        stillWorks: async () => {
          const peer = await plainUdp();
          s.recv(new Uint8Array(100));
          await peer.send(Buffer.from('plain datagram'), port);
          await u.waitFor('socketRecvFromResult', 1, WAIT, s);
          expect(datagrams(u, s)).toEqual([['plain datagram', '127.0.0.1', peer.port]]);
        },
      };
    }

    async function expectNothingFor(user: RecordingUser): Promise<void> {
      await settle();
      expect(user.events).toEqual([]);
    }

    it('a context without enableDtls(), or no context: ERR_SOCKET_NOT_SUPPORTED', async () => {
      const c = await connectedToPeer();
      const nu = new RecordingUser('never');
      const noDtls = context({ dtls: false, ca: pki.ca });
      expect(refusal(() => tlsp.upgradeToTls(c.s, nu, { context: noDtls })).code).toBe(SocketErrorCode.NotSupported);
      expect(refusal(() => tlsp.upgradeToTls(c.s, nu)).code).toBe(SocketErrorCode.NotSupported);
      const b = await boundWithPeer();
      const noDtlsServer = context({ dtls: false, server: pki.server });
      expect(refusal(() => tlsp.upgradeToTls(b.s, nu, { serverSide: true, context: noDtlsServer })).code).toBe(SocketErrorCode.NotSupported);
      await expectNothingFor(nu);
      await c.stillWorks();
      await b.stillWorks();
    });

    it('serverSide without a server certificate: ERR_TLS_NO_SERVER_CERTIFICATE', async () => {
      const b = await boundWithPeer();
      const nu = new RecordingUser('never');
      const ctx = context({ client: pki.client, ca: pki.ca });
      expect(refusal(() => tlsp.upgradeToTls(b.s, nu, { serverSide: true, context: ctx })).code).toBe(SocketErrorCode.NoServerCertificate);
      await expectNothingFor(nu);
      await b.stillWorks();
    });

    it('the client side on a bound (not connected) UDP socket: ERR_SOCKET_NOT_CONNECTED', async () => {
      const b = await boundWithPeer();
      const nu = new RecordingUser('never');
      expect(refusal(() => tlsp.upgradeToTls(b.s, nu, { context: clientCtx() })).code).toBe(SocketErrorCode.NotConnected);
      expect(refusal(() => tlsp.upgradeToTls(b.s, nu, { serverSide: false, context: serverCtx() })).code).toBe(SocketErrorCode.NotConnected);
      await expectNothingFor(nu);
      await b.stillWorks();
    });

    it('a UDP socket never bound or connected: ERR_SOCKET_NOT_CONNECTED, client or server side', async () => {
      const u = new RecordingUser('fresh-udp');
      const s = udp.createSocket(u);
      const nu = new RecordingUser('never');
      expect(refusal(() => tlsp.upgradeToTls(s, nu, { context: clientCtx() })).code).toBe(SocketErrorCode.NotConnected);
      expect(refusal(() => tlsp.upgradeToTls(s, nu, { serverSide: true, context: serverCtx() })).code).toBe(SocketErrorCode.NotConnected);
      expect(s.mode).toBe('none');
      await expectNothingFor(nu);
      s.bind('127.0.0.1', 0);
      await u.waitFor('socketBindResult', 1, WAIT, s);
      expect(u.names(s)).toEqual(['socketBindResult']);
    });

    it('a recv pending on the UDP socket: ERR_SOCKET_RECV_PENDING; that recv still completes', async () => {
      const b = await boundUdp();
      const nu = new RecordingUser('never');
      const buffer = new Uint8Array(100);
      b.s.recv(buffer);
      expect(refusal(() => tlsp.upgradeToTls(b.s, nu, { serverSide: true, context: serverCtx() })).code).toBe(SocketErrorCode.RecvPending);
      const c = await connectedToPeer();
      c.s.recv(new Uint8Array(100));
      expect(refusal(() => tlsp.upgradeToTls(c.s, nu, { context: clientCtx() })).code).toBe(SocketErrorCode.RecvPending);
      await expectNothingFor(nu);
      const peer = await plainUdp();
      await peer.send(Buffer.from('for the pending recv'), b.port);
      await b.u.waitFor('socketRecvFromResult', 1, WAIT, b.s);
      expect(datagrams(b.u, b.s)).toEqual([['for the pending recv', '127.0.0.1', peer.port]]);
      expect(b.u.eventsOf('socketRecvFromResult', b.s)[0].args[0]).toBe(buffer);
    });

    it('a UDP socket already taken over: ERR_SOCKET_TAKEN_OVER', async () => {
      const p = await startPair();
      const nu = new RecordingUser('never');
      expect(refusal(() => tlsp.upgradeToTls(p.client.udp, nu, { context: clientCtx() })).code).toBe(SocketErrorCode.TakenOver);
      await secure(p);
      await expectNothingFor(nu);
    });
  });

  // ---------------------------------------------------------------------------------------

  describe('shutdown', () => {
    it('shutdown() sends close_notify: the peer reports SOCKET_SHUTDOWN_BY_PEER, we report NORMAL; pending recvs are cancelled first', async () => {
      const p = await startPair({ relay: true });
      await secure(p);
      const cbuf = new Uint8Array(64);
      const sbuf = new Uint8Array(64);
      p.client.socket.recv(cbuf);
      p.server.socket.recv(sbuf);
      const seenBefore = p.relay!.seen.length;
      p.client.socket.shutdown();
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.Normal);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketUpgradeToTlsComplete', 'socketRecvCanceled', 'socketShutdown']);
      expect(p.client.user.eventsOf('socketRecvCanceled', p.client.socket)[0].args[0]).toBe(cbuf);

      expect(await p.server.user.waitForShutdown(p.server.socket, WAIT)).toBe(ShutdownReason.ByPeer);
      expect(p.server.user.names(p.server.socket)).toEqual(['socketUpgradeToTlsComplete', 'socketRecvCanceled', 'socketShutdown']);
      expect(p.server.user.eventsOf('socketRecvCanceled', p.server.socket)[0].args[0]).toBe(sbuf);
      // On the wire: an alert record from the client (encrypted, epoch 1).
      const alerts = p.relay!.seen.slice(seenBefore).filter((d) => d.from === 'a' && dtlsRecords(d.data).some((r) => r.contentType === ALERT));
      expect(alerts.length).toBe(1);
      expect(dtlsRecords(alerts[0].data)[0].epoch).toBe(1);
    });

    it('the server shuts down: the client reports SOCKET_SHUTDOWN_BY_PEER', async () => {
      const p = await startPair();
      await secure(p);
      p.server.socket.shutdown();
      expect(await p.server.user.waitForShutdown(p.server.socket, WAIT)).toBe(ShutdownReason.Normal);
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.ByPeer);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketUpgradeToTlsComplete', 'socketShutdown']);
    });

    it('datagrams sent just before shutdown() arrive before the close_notify', async () => {
      const p = await startPair();
      await secure(p);
      p.server.user.on('socketRecvFromResult', (s, buffer: Uint8Array) => s.recv(buffer));
      p.server.socket.recv(new Uint8Array(64));
      p.client.socket.send(Buffer.from('last words 1'));
      p.client.socket.send(Buffer.from('last words 2'));
      p.client.socket.shutdown();
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.Normal);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketUpgradeToTlsComplete', 'socketSendResult', 'socketSendResult', 'socketShutdown']);
      expect(await p.server.user.waitForShutdown(p.server.socket, WAIT)).toBe(ShutdownReason.ByPeer);
      expect(datagrams(p.server.user, p.server.socket).map((d) => d[0])).toEqual(['last words 1', 'last words 2']);
      expect(p.server.user.names(p.server.socket).slice(-2)).toEqual(['socketRecvCanceled', 'socketShutdown']);
    });

    it('close_notify waits for the datagrams that arrived before it: read them, then SOCKET_SHUTDOWN_BY_PEER', async () => {
      const p = await startPair();
      await secure(p);
      p.client.socket.send(Buffer.from('one'));
      p.client.socket.send(Buffer.from('two'));
      p.client.socket.shutdown(); // no recv pending on the server: both datagrams wait in its queue
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.Normal);
      await settle(200);
      expect(p.server.user.count('socketShutdown', p.server.socket)).toBe(0); // held back while they wait
      p.server.user.on('socketRecvFromResult', (s, buffer: Uint8Array) => s.recv(buffer));
      p.server.socket.recv(new Uint8Array(64));
      expect(await p.server.user.waitForShutdown(p.server.socket, WAIT)).toBe(ShutdownReason.ByPeer);
      expect(datagrams(p.server.user, p.server.socket).map((d) => d[0])).toEqual(['one', 'two']);
    });

    it('a DTLS socket cannot be upgraded again (ERR_SOCKET_NOT_SUPPORTED)', async () => {
      const p = await startPair();
      await secure(p);
      expect(refusal(() => tlsp.upgradeToTls(p.client.socket, new RecordingUser('again'), { context: clientCtx() })).code).toBe('ERR_SOCKET_NOT_SUPPORTED');
      await roundTrip(p.client, p.server, 'still works');
    });

    it('after shutdown(), send, recv and shutdown are ignored; getSrtpKeyingMaterial() is null', async () => {
      const p = await startPair({ server: serverCtx({ srtp: true }), client: clientCtx({ srtp: true }) });
      await secure(p);
      expect(p.client.socket.getSrtpKeyingMaterial()).not.toBeNull();
      p.client.socket.shutdown();
      expect(thrown(() => p.client.socket.send(Buffer.from('ignored')))).toBe('none');
      expect(thrown(() => p.client.socket.recv(new Uint8Array(8)))).toBe('none');
      expect(thrown(() => p.client.socket.shutdown())).toBe('none');
      expect(await p.client.user.waitForShutdown(p.client.socket, WAIT)).toBe(ShutdownReason.Normal);
      expect(p.client.user.names(p.client.socket)).toEqual(['socketUpgradeToTlsComplete', 'socketShutdown']);
      expect(p.client.socket.getSrtpKeyingMaterial()).toBeNull();
    });
  });
});
