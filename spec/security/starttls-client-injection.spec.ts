/**
 * STARTTLS command injection against the CLIENT side of an upgrade (docs/security.md, threat
 * "STARTTLS command injection"): a server (or a man in the middle) answers STARTTLS with its
 * go-ahead and pipelines plaintext right behind it, before any TLS byte. The framework client
 * reads the go-ahead, upgrades, and must hand the bytes it had already read to the TLS layer:
 * the handshake fails (SOCKET_TLS_HANDSHAKE_FAILED) and no callback ever delivers them, neither
 * on the old TCP socket nor on its TLS successor.
 *
 * The server is plain Node: `net` for the SMTP-like exchange, then a `tls.Server` (never
 * listening) that takes the connection over. A control test without injection shows that the
 * same server completes the upgrade, so a failure is the injection's doing.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { IInstanceLog, ISocket, ShutdownReason } from '../../lib';
import { pollUntil, rawServer, RawServer, settle, withTimeout } from '../helpers/net-helpers';
import { RecordingUser } from '../helpers/recording-user';
import { certOf, clientContext, keyOf, loadPki } from '../helpers/tls-fixture';
import { LinesLog, useProviders, WAIT } from './helpers';

const pki = loadPki();

const GREETING = '220 ready\r\n';
const STARTTLS = 'STARTTLS\r\n';
const GO_AHEAD = '220 go ahead\r\n';
const INJECTED = '250 injected: you are talking to the real server\r\n';

interface StartTlsServer {
  raw: RawServer;
  /** The connections whose TLS handshake (server side) finished. */
  secured: tls.TLSSocket[];
}

/**
 * A plain Node server: greeting, waits for STARTTLS, answers with `reply(sock)` (the go-ahead,
 * plus whatever a test injects), then runs the server side of TLS on the connection and sends
 * "secret" over it once secured.
 */
async function startTlsServer(reply: (sock: net.Socket) => void): Promise<StartTlsServer> {
  const secured: tls.TLSSocket[] = [];
  const tlsServer = new tls.Server({ cert: certOf(pki.server), key: keyOf(pki.server) });
  tlsServer.on('secureConnection', (t: tls.TLSSocket) => {
    secured.push(t);
    t.on('error', () => undefined);
    t.write('secret');
  });
  tlsServer.on('tlsClientError', () => undefined); // the client gave up: asserted on its side
  const raw = await rawServer((sock) => {
    let got = '';
    const onData = (d: Buffer): void => {
      got += d.toString('latin1');
      if (!got.endsWith('\r\n')) return;
      sock.removeListener('data', onData);
      sock.pause();
      if (got !== STARTTLS) {
        sock.destroy();
        return;
      }
      reply(sock);
      tlsServer.emit('connection', sock);
    };
    sock.on('data', onData);
    sock.write(GREETING);
  });
  return { raw, secured };
}

describe('STARTTLS injection on the client side of an upgrade', () => {
  const p = useProviders();

  /** Exact recv of `n` bytes on `s`, as text. */
  async function recvText(s: ISocket, u: RecordingUser, n: number): Promise<string> {
    const before = u.count('socketRecvResult', s);
    s.recv(new Uint8Array(n), n, false);
    await u.waitFor('socketRecvResult', before + 1, WAIT, s);
    return (u.eventsOf('socketRecvResult', s)[before].data as Buffer).toString('latin1');
  }

  /** A framework TCP client that has read the greeting and sent STARTTLS. */
  async function clientAtStartTls(port: number, log: IInstanceLog): Promise<{ c: ISocket; cu: RecordingUser }> {
    const cu = new RecordingUser('cli-tcp');
    const c = p.tcp.createSocket(cu, { log });
    c.connect(`127.0.0.1:${port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    expect(await recvText(c, cu, GREETING.length)).toBe(GREETING);
    c.send(Buffer.from(STARTTLS));
    return { c, cu };
  }

  /** Every byte any callback delivered, on the old socket and on its successor. */
  function delivered(...users: RecordingUser[]): string {
    return users.map((u) => u.received().toString('latin1')).join('');
  }

  it('control: the same server without injection completes the upgrade, data flows over TLS', async () => {
    const srv = await startTlsServer((sock) => sock.write(GO_AHEAD));
    const log = new LinesLog();
    const { c, cu } = await clientAtStartTls(srv.raw.port, log);
    expect(await recvText(c, cu, GO_AHEAD.length)).toBe(GO_AHEAD);
    const ctu = new RecordingUser('cli-tls');
    const ct = p.tls.upgradeToTls(c, ctu, { context: clientContext(pki), serverName: 'localhost' });
    await ctu.waitFor('socketUpgradeToTlsComplete', 1, WAIT, ct);
    expect(await recvText(ct, ctu, 6)).toBe('secret');
    expect(srv.secured).toHaveLength(1);
  });

  it('plaintext in the same segment as the go-ahead, upgrade from the recv callback: TLS_HANDSHAKE_FAILED, never delivered', async () => {
    const srv = await startTlsServer((sock) => sock.write(GO_AHEAD + INJECTED));
    const log = new LinesLog();
    const { c, cu } = await clientAtStartTls(srv.raw.port, log);
    const ctu = new RecordingUser('cli-tls');
    let ct: ISocket | null = null;
    // The usual client: read the reply line exactly, upgrade as soon as it is there.
    cu.on('socketRecvResult', (s) => {
      ct = p.tls.upgradeToTls(s, ctu, { context: clientContext(pki), serverName: 'localhost' });
    });
    c.recv(new Uint8Array(GO_AHEAD.length), GO_AHEAD.length, false);
    await cu.waitUntil(() => ct !== null, 'the upgrade from socketRecvResult');
    const secure = ct as unknown as ISocket;
    expect(await ctu.waitForShutdown(secure, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
    // The old socket saw exactly greeting + go-ahead; the injected bytes reached the TLS layer
    // (its read-ahead held them: bytesReceived counts them), never a callback.
    expect(c.bytesReceived).toBe(GREETING.length + GO_AHEAD.length + INJECTED.length);
    expect(ctu.count('socketUpgradeToTlsComplete')).toBe(0);
    expect(ctu.count('socketRecvResult')).toBe(0);
    expect(delivered(cu, ctu)).toBe(GREETING + GO_AHEAD);
    expect(srv.secured).toHaveLength(0);
    // The TLS layer read '250 …' as a record header: not a TLS version.
    expect(log.text()).toMatch(/STARTTLS handshake failed: ERR_SSL_WRONG_VERSION_NUMBER .*-> SOCKET_TLS_HANDSHAKE_FAILED/s);
  });

  it('plaintext arriving in a later segment, waiting in the read-ahead at the upgrade: TLS_HANDSHAKE_FAILED, never delivered', async () => {
    let serverSock: net.Socket | null = null;
    const srv = await startTlsServer((sock) => {
      serverSock = sock;
      sock.write(GO_AHEAD);
    });
    const log = new LinesLog();
    const { c, cu } = await clientAtStartTls(srv.raw.port, log);
    expect(await recvText(c, cu, GO_AHEAD.length)).toBe(GO_AHEAD);
    // Injected on its own, after the go-ahead was read, before the client upgrades: it lands in
    // the read-ahead of the old socket (no recv pending).
    await pollUntil(() => serverSock !== null, 'the server to answer STARTTLS');
    await withTimeout(
      new Promise<void>((resolve, reject) => (serverSock as unknown as net.Socket).write(INJECTED, (err) => (err ? reject(err) : resolve()))),
      WAIT,
      'the injected write',
    );
    await pollUntil(() => c.bytesReceived === GREETING.length + GO_AHEAD.length + INJECTED.length, 'the injected bytes to reach the read-ahead');
    const ctu = new RecordingUser('cli-tls');
    const ct = p.tls.upgradeToTls(c, ctu, { context: clientContext(pki), serverName: 'localhost' });
    expect(await ctu.waitForShutdown(ct, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
    expect(ctu.count('socketUpgradeToTlsComplete')).toBe(0);
    expect(delivered(cu, ctu)).toBe(GREETING + GO_AHEAD);
    expect(srv.secured).toHaveLength(0);
    expect(log.text()).toMatch(/STARTTLS handshake failed: ERR_SSL_WRONG_VERSION_NUMBER .*-> SOCKET_TLS_HANDSHAKE_FAILED/s);
    await settle(100);
    expect(delivered(cu, ctu)).toBe(GREETING + GO_AHEAD);
  });
});
