/**
 * A recv whose buffer goes away while it is pending (issue #15, defect 5): the app transfers
 * the buffer's ArrayBuffer (`structuredClone(…, { transfer })`, `postMessage(…, [buffer])`),
 * which detaches it (byteLength 0), or shrinks a resizable ArrayBuffer under it. The bytes
 * that arrive next used to be written into it from Node's read callback: a TypeError thrown
 * out of the library's own read path, the process down (or, with an uncaught-exception
 * handler, the socket stuck and the bytes lost).
 *
 * The rule (docs/udp.md, the TSDoc of `recv`): the library finds such a buffer before it
 * writes to it and cancels that recv (`socketRecvCanceled(socket, buffer)`); the bytes wait
 * for the next recv and the socket goes on. On a stream, an exact recv that had already taken
 * bytes when its buffer went away cannot give them back (they left with the buffer): the recv
 * is cancelled and the socket ends with SOCKET_LOST, as a stream with a gap in it is broken.
 *
 * Stream transports (TCP, TLS, local; client and accepted ends, which read differently), UDP
 * (bound and connected) and DTLS. The recording user checks the always-rules on every
 * callback. Loopback only, port 0, every wait bounded.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketProvider, ShutdownReason, SocketOptions } from '../../lib';
import { makeTestPki } from '../../scripts/certs';
import { closeAllRaw, pollUntil, withTimeout } from '../helpers/net-helpers';
import { makeLocalFixture } from '../helpers/local-fixture';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { StreamFixture, StreamHarness } from '../helpers/stream-harness';
import { tcpFixture } from '../helpers/tcp-fixture';
import { loadPki, makeTlsFixture } from '../helpers/tls-fixture';
import { closePlainSockets, plainUdp } from '../helpers/udp-peers';

const WAIT = 10000;

/** Ways an app makes a pending recv's buffer unusable. */
const GONE: Array<[string, (len: number) => { buffer: Uint8Array; away: () => void }]> = [
  [
    'structuredClone with transfer',
    (len) => {
      const buffer = new Uint8Array(len);
      return { buffer, away: () => void structuredClone(buffer.buffer, { transfer: [buffer.buffer] }) };
    },
  ],
  [
    'MessagePort.postMessage with transfer',
    (len) => {
      const buffer = new Uint8Array(len);
      return {
        buffer,
        away: () => {
          const { port1, port2 } = new MessageChannel();
          port1.postMessage(buffer.buffer, [buffer.buffer]);
          port1.close();
          port2.close();
        },
      };
    },
  ],
  [
    'a resizable ArrayBuffer shrunk under it',
    (len) => {
      const ab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(len, {
        maxByteLength: len,
      });
      const buffer = new Uint8Array(ab); // length-tracking
      return { buffer, away: () => ab.resize(1) };
    },
  ],
];

/** Fails the test if anything is thrown out of a Node callback meanwhile. */
let uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => {
  uncaught.push(err);
};
beforeEach(() => {
  uncaught = [];
  process.on('uncaughtException', onUncaught);
});
afterEach(() => {
  process.removeListener('uncaughtException', onUncaught);
  expect(uncaught.map(String)).toEqual([]);
});

// ---------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------

function streamSuite(name: string, fixture: () => StreamFixture): void {
  describe(`${name}: a stream recv whose buffer goes away`, () => {
    let h: StreamHarness;

    beforeEach(() => {
      h = new StreamHarness(fixture());
    });

    afterEach(async () => {
      const violations = await cleanupAndCheck();
      await h.cleanup();
      await closeAllRaw();
      expect(violations).toEqual([]);
    });

    /** A connected pair: `recv` is the end under test (client or accepted), `send` the other. */
    async function pair(receiver: 'client' | 'accepted'): Promise<{ ru: RecordingUser; r: ISocket; s: ISocket }> {
      const server = new RecordingUser('accepted');
      const l = await h.listen({ conn: () => server });
      const cu = new RecordingUser('client');
      const c = await h.connect(l, cu);
      const { socket: a } = await l.accepted(0, WAIT);
      return receiver === 'client' ? { ru: cu, r: c, s: a } : { ru: server, r: a, s: c };
    }

    describe.each(['client', 'accepted'] as const)('the %s end', (end) => {
      it.each(GONE)('%s: the recv is cancelled, the bytes go to the next recv, the socket goes on', async (_how, make) => {
        const { ru, r, s } = await pair(end);
        const { buffer, away } = make(16);
        r.recv(buffer, 16, true);
        away();
        s.send(Buffer.from('hello'));
        await ru.waitFor('socketRecvCanceled', 1, WAIT, r);
        expect(ru.eventsOf('socketRecvCanceled', r)[0].args[0]).toBe(buffer);
        expect(ru.count('socketRecvResult', r)).toBe(0);
        r.recv(new Uint8Array(16), 16, true);
        await ru.waitForBytes(5, r, WAIT);
        s.send(Buffer.from(' again'));
        r.recv(new Uint8Array(16), 6);
        await ru.waitForBytes(11, r, WAIT);
        expect(String(ru.received(r))).toBe('hello again');
        expect(ru.count('socketShutdown', r)).toBe(0);
      });

      it('an exact recv that had taken bytes: cancelled, then SOCKET_LOST (the bytes left with the buffer)', async () => {
        const { ru, r, s } = await pair(end);
        const { buffer, away } = GONE[0][1](10);
        r.recv(buffer, 10);
        s.send(Buffer.from('1234'));
        await pollUntil(() => r.bytesReceived === 4, 'the first 4 bytes to reach the pending recv', WAIT);
        away();
        s.send(Buffer.from('567890'));
        expect(await ru.waitForShutdown(r, WAIT)).toBe(ShutdownReason.Lost);
        expect(ru.names(r).filter((n) => n.startsWith('socketRecv') || n === 'socketShutdown')).toEqual(['socketRecvCanceled', 'socketShutdown']);
        expect(ru.eventsOf('socketRecvCanceled', r)[0].args[0]).toBe(buffer);
      });

      it('recvCancel() of such a recv does not throw: cancelled, then SOCKET_LOST', async () => {
        const { ru, r, s } = await pair(end);
        const { buffer, away } = GONE[0][1](10);
        r.recv(buffer, 10);
        s.send(Buffer.from('1234'));
        await pollUntil(() => r.bytesReceived === 4, 'the first 4 bytes to reach the pending recv', WAIT);
        away();
        r.recvCancel();
        expect(await ru.waitForShutdown(r, WAIT)).toBe(ShutdownReason.Lost);
        expect(ru.names(r).filter((n) => n.startsWith('socketRecv') || n === 'socketShutdown')).toEqual(['socketRecvCanceled', 'socketShutdown']);
      });

      it('the peer sends and closes: the recv is cancelled, the next one gets the bytes, then BY_PEER', async () => {
        const { ru, r, s } = await pair(end);
        const { buffer, away } = GONE[0][1](16);
        r.recv(buffer, 16);
        away();
        s.send(Buffer.from('last words'));
        s.shutdown();
        await ru.waitFor('socketRecvCanceled', 1, WAIT, r);
        r.recv(new Uint8Array(16), 16);
        expect(await ru.waitForShutdown(r, WAIT)).toBe(ShutdownReason.ByPeer);
        expect(String(ru.received(r))).toBe('last words');
      });
    });
  });
}

streamSuite('tcp', () => tcpFixture);
{
  const local = makeLocalFixture();
  streamSuite('local', () => local);
}
describe('tls', () => {
  const pki = loadPki();
  streamSuite('tls', () => makeTlsFixture(pki));
});

// ---------------------------------------------------------------------------------------
// Datagrams
// ---------------------------------------------------------------------------------------

describe('a datagram recv whose buffer goes away', () => {
  let udp: ISocketProvider;

  beforeEach(() => {
    udp = guardProvider(createUdpSocketProvider());
  });

  afterEach(async () => {
    const violations = await cleanupAndCheck();
    closePlainSockets();
    expect(violations).toEqual([]);
  });

  function datagrams(u: RecordingUser, s: ISocket): Array<[string, string, number]> {
    return u.eventsOf('socketRecvFromResult', s).map((e) => [String(e.data), e.args[2] as string, e.args[3] as number]);
  }

  it.each(GONE)('UDP, bound, %s: the recv is cancelled and the datagram waits for the next recv', async (_how, make) => {
    const u = new RecordingUser('server');
    const s = udp.createSocket(u);
    s.bind('127.0.0.1', 0);
    await u.waitFor('socketBindResult', 1, WAIT, s);
    const port = s.getLocalAddress()!.port;
    const peer = await plainUdp();
    const { buffer, away } = make(32);
    s.recv(buffer);
    away();
    await peer.send(Buffer.from('one'), port);
    await u.waitFor('socketRecvCanceled', 1, WAIT, s);
    expect(u.eventsOf('socketRecvCanceled', s)[0].args[0]).toBe(buffer);
    expect(s.stats()).toMatchObject({ readAheadBytes: 3, droppedDatagrams: 0 });
    s.recv(new Uint8Array(32));
    await u.waitFor('socketRecvFromResult', 1, WAIT, s);
    await peer.send(Buffer.from('two'), port);
    s.recv(new Uint8Array(32));
    await u.waitFor('socketRecvFromResult', 2, WAIT, s);
    expect(datagrams(u, s)).toEqual([
      ['one', '127.0.0.1', peer.port],
      ['two', '127.0.0.1', peer.port],
    ]);
  });

  it('UDP, connected: the same', async () => {
    const peer = await plainUdp();
    const u = new RecordingUser('client');
    const s = udp.createSocket(u);
    s.connect(`127.0.0.1:${peer.port}`);
    await u.waitFor('socketConnectComplete', 1, WAIT, s);
    const { buffer, away } = GONE[0][1](32);
    s.recv(buffer);
    away();
    await peer.send(Buffer.from('one'), s.getLocalAddress()!.port);
    await u.waitFor('socketRecvCanceled', 1, WAIT, s);
    s.recv(new Uint8Array(32));
    await u.waitFor('socketRecvFromResult', 1, WAIT, s);
    expect(datagrams(u, s)).toEqual([['one', '127.0.0.1', peer.port]]);
  });

  it('DTLS: the recv is cancelled and the decrypted datagram waits for the next recv', async () => {
    const pki = await withTimeout(makeTestPki(), 25000, 'the test PKI');
    const tlsp = guardProvider(createTlsSocketProvider());
    const serverCtx = tlsp.createSocketContext();
    serverCtx.enableDtls();
    serverCtx.setServerCertificate(pki.server);
    const clientCtx = tlsp.createSocketContext();
    clientCtx.enableDtls();
    clientCtx.setCertificateAuthority(pki.ca);
    const options: SocketOptions = {};

    const su = new RecordingUser('server-udp');
    const sUdp = udp.createSocket(su, options);
    sUdp.bind('127.0.0.1', 0);
    await su.waitFor('socketBindResult', 1, WAIT, sUdp);
    const sd = new RecordingUser('dtls-server');
    const server = tlsp.upgradeToTls(sUdp, sd, { serverSide: true, context: serverCtx });
    const cu = new RecordingUser('client-udp');
    const cUdp = udp.createSocket(cu, options);
    cUdp.connect(`127.0.0.1:${sUdp.getLocalAddress()!.port}`);
    await cu.waitFor('socketConnectComplete', 1, WAIT, cUdp);
    const cd = new RecordingUser('dtls-client');
    const client = tlsp.upgradeToTls(cUdp, cd, { context: clientCtx, serverName: 'localhost' });
    await sd.waitFor('socketUpgradeToTlsComplete', 1, WAIT, server);
    await cd.waitFor('socketUpgradeToTlsComplete', 1, WAIT, client);

    const { buffer, away } = GONE[0][1](64);
    server.recv(buffer);
    away();
    client.send(Buffer.from('secret'));
    await sd.waitFor('socketRecvCanceled', 1, WAIT, server);
    expect(sd.eventsOf('socketRecvCanceled', server)[0].args[0]).toBe(buffer);
    server.recv(new Uint8Array(64));
    await sd.waitFor('socketRecvFromResult', 1, WAIT, server);
    expect(datagrams(sd, server).map((d) => d[0])).toEqual(['secret']);
  }, 30000);
});
