/**
 * Message sockets over every transport: each framing over TCP, TLS, local sockets and a
 * STARTTLS-upgraded connection (message sockets on both ends, echoing); over UDP (against a
 * plain dgram peer: one datagram per message, nothing added), over DTLS, and over the two ends
 * of a createSocketPair().
 */
import { createSocketPair, createTlsSocketProvider, createUdpSocketProvider, ISocket, ShutdownReason, USocket } from '../../lib';
import { MessageFraming } from '../../lib/messages';
import { makeLocalFixture } from '../helpers/local-fixture';
import { closeAllRaw, randomBytes, sha256, withTimeout } from '../helpers/net-helpers';
import { clientContext, loadPki, serverContext } from '../helpers/tls-fixture';
import { closePlainSockets, plainUdp } from '../helpers/udp-peers';
import { cleanupMessages, MessageRecorder, StreamKind, StreamServer, WAIT, wrap } from './message-harness';

const pki = loadPki();
const local = makeLocalFixture();

afterEach(async () => {
  const violations = await cleanupMessages();
  await closeAllRaw();
  closePlainSockets();
  await local.cleanup?.();
  expect(violations).toEqual([]);
});

/** Bytes `a`–`z` only: never the delimiters used here. */
function letters(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < n; i++) b[i] = 0x61 + (b[i] % 26);
  return b;
}

/** Length and hash: short enough for a failure message. */
const digest = (m: Buffer): string => `${m.length}:${sha256(m).slice(0, 16)}`;

const FRAMINGS: Array<[string, MessageFraming]> = [
  ['u32', 'u32'],
  ['varint', 'varint'],
  ['delimiter "\\r\\n"', { delimiter: '\r\n' }],
];
const KINDS: StreamKind[] = ['tcp', 'tls', 'local', 'starttls'];

describe.each(KINDS)('message sockets over %s', (kind) => {
  it.each(FRAMINGS)('%s: messages of 5, 0, 200 000 and 4 bytes go there and back intact, in order', async (_name, framing) => {
    const srv = await new StreamServer(kind, pki, () => local.path()).start();
    const { client, server } = await srv.pair();
    const c = new MessageRecorder('client', { autoReceive: true });
    const s = new MessageRecorder('server', { autoReceive: true, echo: true });
    const mc = wrap(client, c, { framing });
    const msrv = wrap(server, s, { framing });
    const sent = [Buffer.from('hello'), Buffer.alloc(0), letters(200_000), Buffer.from('last')];
    for (const m of sent) mc.sendMessage(m);

    await c.waitForMessages(sent.length);
    expect(c.messages().map(digest)).toEqual(sent.map(digest));
    await c.waitForSendResults(sent.length);
    await s.waitForSendResults(sent.length);
    expect([mc.messagesSent, mc.messagesReceived, msrv.messagesSent, msrv.messagesReceived]).toEqual([4, 4, 4, 4]);
    expect(mc.framing).toBe(typeof framing === 'string' ? framing : 'delimiter');
    expect(mc.socket).toBe(client);

    mc.shutdown();
    expect(await c.waitForShutdown()).toBe(ShutdownReason.Normal);
    expect(await s.waitForShutdown()).toBe(ShutdownReason.ByPeer);
    expect(msrv.framingError).toBeNull();
  });
});

describe('message sockets over a socket pair (in-process, no network)', () => {
  it.each(FRAMINGS)('%s: messages go there and back intact', async (_name, framing) => {
    const a = new ConnectedHolder();
    const b = new ConnectedHolder();
    createSocketPair(a, b);
    const c = new MessageRecorder('a', { autoReceive: true });
    const s = new MessageRecorder('b', { autoReceive: true, echo: true });
    const ma = wrap(await a.ready, c, { framing });
    wrap(await b.ready, s, { framing });
    const sent = [Buffer.from('hello'), Buffer.alloc(0), letters(100_000)];
    for (const m of sent) ma.sendMessage(m);
    await c.waitForMessages(sent.length);
    expect(c.messages().map(digest)).toEqual(sent.map(digest));
    ma.shutdown();
    expect(await s.waitForShutdown()).toBe(ShutdownReason.ByPeer);
  });
});

describe('message sockets over UDP and DTLS: one datagram is one message', () => {
  it('UDP: each datagram of a plain dgram peer is one message, and each message one datagram, with nothing added', async () => {
    const peer = await plainUdp();
    const holder = new ConnectedHolder();
    const udp = createUdpSocketProvider().createSocket(holder);
    udp.connect(`127.0.0.1:${peer.port}`);
    const socket = await holder.ready;
    // A framing given for a datagram socket is ignored: no header, no delimiter on the wire.
    const u = new MessageRecorder('udp', { autoReceive: true });
    const ms = wrap(socket, u, { framing: 'varint' });
    expect(ms.framing).toBe('datagram');

    const incoming = [Buffer.from('one'), letters(1200), Buffer.alloc(0), Buffer.from('four')];
    for (const d of incoming) await peer.send(d, socket.localPort!);
    await u.waitForMessages(incoming.length);
    expect(u.messages()).toEqual(incoming);

    ms.sendMessage(Buffer.from('answer'));
    ms.sendMessage(letters(1000));
    await peer.waitFor(2);
    expect(peer.messages.map((m) => m.data.length)).toEqual([6, 1000]);
    expect(peer.messages[0].data.toString()).toBe('answer');
    await u.waitForSendResults(2);
    expect(() => ms.sendMessage(new Uint8Array(0))).toThrow(RangeError);
  });

  it('DTLS: messages both ways, one protected datagram each; shutdown() ends the peer with BY_PEER', async () => {
    const { client, server } = await dtlsPair();
    const c = new MessageRecorder('dtls client', { autoReceive: true });
    const s = new MessageRecorder('dtls server', { autoReceive: true, echo: true });
    const mc = wrap(client, c);
    wrap(server, s);
    const sent = [Buffer.from('hello over DTLS'), letters(1000), Buffer.from('bye')];
    for (const m of sent) mc.sendMessage(m);
    await c.waitForMessages(sent.length);
    expect(c.messages()).toEqual(sent);
    await c.waitForSendResults(sent.length);

    mc.shutdown();
    expect(await c.waitForShutdown()).toBe(ShutdownReason.Normal);
    expect(await s.waitForShutdown()).toBe(ShutdownReason.ByPeer);
  });
});

/** A socket user that hands over the socket once connected, accepted or upgraded. */
class ConnectedHolder extends USocket {
  private resolve: (s: ISocket) => void = () => undefined;
  private readonly up = new Promise<ISocket>((r) => (this.resolve = r));
  /** The socket once up (bounded; the timer runs only while someone waits). */
  get ready(): Promise<ISocket> {
    return withTimeout(this.up, WAIT, 'a UDP/DTLS socket to be up');
  }
  /** Called instead of resolving when the plain socket is connected (to upgrade it). */
  onConnected: ((s: ISocket) => void) | null = null;
  override socketBindResult(s: ISocket): void {
    this.onConnected?.(s);
  }
  override socketConnectComplete(s: ISocket): void {
    if (this.onConnected) this.onConnected(s);
    else this.resolve(s);
  }
  override socketAcceptComplete(s: ISocket): void {
    this.resolve(s);
  }
  override socketUpgradeToTlsComplete(s: ISocket): void {
    this.resolve(s);
  }
  socketShutdown(): void {}
}

/** Two DTLS sockets: a bound UDP socket upgraded as the server, a connected one as the client. */
async function dtlsPair(): Promise<{ client: ISocket; server: ISocket }> {
  const tls = createTlsSocketProvider();
  const udp = createUdpSocketProvider();
  const sctx = serverContext(pki);
  sctx.enableDtls();
  const cctx = clientContext(pki);
  cctx.enableDtls();
  const serverSide = new ConnectedHolder();
  const clientSide = new ConnectedHolder();
  const bound = new ConnectedHolder();
  bound.onConnected = (s) => {
    tls.upgradeToTls(s, serverSide, { serverSide: true, context: sctx });
    const plain = new ConnectedHolder();
    plain.onConnected = (c) => tls.upgradeToTls(c, clientSide, { context: cctx });
    udp.createSocket(plain).connect(`127.0.0.1:${s.localPort}`);
  };
  udp.createSocket(bound).bind('127.0.0.1', 0);
  return { client: await clientSide.ready, server: await serverSide.ready };
}
