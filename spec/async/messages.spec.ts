/**
 * Message connections (`toMessages`) over TCP, TLS, local sockets, UDP and DTLS: whole
 * messages both ways, in order, none lost to an aborted receive; the end is null for a clean
 * close and a rejection (reason, code) for a broken framing.
 */
import { createTlsSocketProvider, createUdpSocketProvider, MessageErrorCode, ShutdownReason } from '../../lib';
import { bind, connect, MessageConnection, SocketClosedError, toMessages } from '../../lib/async';
import { randomBytes, sha256, withTimeout } from '../helpers/net-helpers';
import { loadPki } from '../helpers/tls-fixture';
import { abortListeners, AsyncFixture, localFixture, tcpFixture, tlsFixture, WAIT } from './fixtures';

const pki = loadPki();

const messages = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.concat([Buffer.from(`m${i}:`), randomBytes((i * 7919) % 3000)]));

for (const make of [tcpFixture, localFixture, () => tlsFixture(pki)]) {
  const fx: AsyncFixture = make();
  describe(`${fx.name}: message connections`, () => {
    afterEach(() => fx.cleanup());

    async function pair(framing?: 'varint'): Promise<[MessageConnection, MessageConnection]> {
      const { client, server } = await fx.pair();
      const opts = framing ? { framing } : {};
      return [toMessages(client, opts), toMessages(server, opts)];
    }

    it('carries 300 messages each way, whole and in order, with aborted receives in between', async () => {
      const [a, b] = await pair('varint');
      const out = messages(300);
      const sending = Promise.all([
        (async () => {
          for (const m of out) await a.send(m);
        })(),
        (async () => {
          for (const m of out) await b.send(m);
        })(),
      ]);
      const receive = async (m: MessageConnection): Promise<Buffer[]> => {
        const got: Buffer[] = [];
        let abortedAt = -1;
        while (got.length < out.length) {
          if (got.length % 10 === 3 && abortedAt !== got.length) {
            abortedAt = got.length;
            const ac = new AbortController();
            const p = m.receive({ signal: ac.signal });
            ac.abort();
            const r = await p.catch((e: Error) => e);
            expect(abortListeners(ac.signal)).toBe(0);
            if (!(r instanceof Error)) got.push(r!);
            else expect(r.name).toBe('AbortError');
            continue;
          }
          got.push((await m.receive())!);
        }
        return got;
      };
      const [ga, gb] = await withTimeout(Promise.all([receive(a), receive(b)]), WAIT, 'the messages');
      await sending;
      expect(ga.map((m) => sha256(m))).toEqual(out.map((m) => sha256(m)));
      expect(gb.map((m) => sha256(m))).toEqual(out.map((m) => sha256(m)));
    });

    it('ends for await with the peer clean close; the old connection resolves closed with the same reason', async () => {
      const { client, server } = await fx.pair();
      const a = toMessages(client);
      const b = toMessages(server);
      await expect(client.write('x')).rejects.toMatchObject({ code: 'ERR_SOCKET_TAKEN_OVER' });
      await a.send('one');
      await a.send('two');
      a.end();
      const got: string[] = [];
      for await (const m of b) got.push(String(m));
      expect(got).toEqual(['one', 'two']);
      expect(await b.closed).toBe(ShutdownReason.ByPeer);
      expect(await server.closed).toBe(ShutdownReason.ByPeer);
    });
  });
}

describe('message connections: errors', () => {
  afterEach(() => tcpFixture().cleanup());

  it('rejects receive with SOCKET_LOST and the framing error when the peer breaks the framing', async () => {
    const { client, server } = await tcpFixture().pair();
    const b = toMessages(server, { maxMessageSize: 10 });
    await client.write(Buffer.from([0, 0, 1, 0])); // a u32 length of 256 > 10
    const err = (await b.receive().catch((e: unknown) => e)) as SocketClosedError;
    expect(err).toBeInstanceOf(SocketClosedError);
    expect(err.reason).toBe(ShutdownReason.Lost);
    expect(b.framingError).toBe(MessageErrorCode.TooLarge);
    expect(err.lastErrorCode).toBe(MessageErrorCode.TooLarge);
  });
});

describe('message connections over UDP and DTLS', () => {
  it('carries one message per datagram over a connected UDP socket', async () => {
    const udp = createUdpSocketProvider();
    const bound = await bind(udp, '127.0.0.1', 0);
    const a = toMessages(await connect(udp, `127.0.0.1:${bound.port}`));
    for (const m of ['one', 'two', 'three']) await a.send(m);
    const got: string[] = [];
    for await (const d of bound) if (got.push(String(d.data)) === 3) break;
    expect(got).toEqual(['one', 'two', 'three']);
    const from = a.localPort!;
    await bound.sendTo('back', '127.0.0.1', from);
    expect(String(await a.receive())).toBe('back');
    a.end();
    bound.close();
    expect(await withTimeout(Promise.all([a.closed, bound.closed]), WAIT, 'the ends')).toEqual([ShutdownReason.Normal, ShutdownReason.Normal]);
  });

  it('carries messages both ways over DTLS, in order', async () => {
    const udp = createUdpSocketProvider();
    const tls = createTlsSocketProvider();
    const serverCtx = tls.createSocketContext();
    serverCtx.setServerCertificate(pki.server);
    serverCtx.enableDtls();
    const clientCtx = tls.createSocketContext();
    clientCtx.setCertificateAuthority(pki.ca);
    clientCtx.enableDtls();
    const bound = await bind(udp, '127.0.0.1', 0);
    const conn = await connect(udp, `127.0.0.1:${bound.port}`);
    const [s, c] = await withTimeout(
      Promise.all([bound.startTls(tls, { serverSide: true, context: serverCtx }), conn.startTls(tls, { context: clientCtx, serverName: 'localhost' })]),
      WAIT,
      'the DTLS handshake',
    );
    const a = toMessages(c);
    const b = toMessages(s);
    const out = messages(50).map((m) => m.subarray(0, 1000));
    const receiving = (async () => {
      const got: Buffer[] = [];
      for await (const m of b) if (got.push(m) === out.length) break;
      return got;
    })();
    for (const m of out) await a.send(m);
    const got = await withTimeout(receiving, WAIT, '50 DTLS messages');
    expect(got.map((m) => sha256(m))).toEqual(out.map((m) => sha256(m)));
    await b.send('reply');
    expect(String(await a.receive())).toBe('reply');
    a.end();
    b.end();
    await withTimeout(Promise.all([a.closed, b.closed]), WAIT, 'the ends');
  });
});
