/**
 * UDP and DTLS through the async layer: a connected UDP socket (`connect`), a bound one
 * (`bind`: recvFrom/sendTo, for await of { data, address, port }), and DTLS by `startTls` on
 * both (a connected client, a bound server). Datagrams arrive whole, in order on loopback,
 * none lost; an aborted receive loses nothing; `read(n)` does not apply.
 */
import { createTlsSocketProvider, createUdpSocketProvider, ShutdownReason } from '../../lib';
import { bind, Connection, connect, DatagramSocket } from '../../lib/async';
import { randomBytes, sha256, withTimeout } from '../helpers/net-helpers';
import { loadPki } from '../helpers/tls-fixture';
import { abortListeners, WAIT } from './fixtures';

const pki = loadPki();
const open: Array<{ close?: () => void; end?: () => void; closed: Promise<ShutdownReason> }> = [];
const keep = <T extends Connection | DatagramSocket>(s: T): T => {
  open.push(s as never);
  return s;
};

afterEach(async () => {
  const all = open.splice(0);
  for (const s of all) (s.close ?? s.end)!.call(s);
  await withTimeout(Promise.all(all.map((s) => s.closed)), WAIT, 'every socket to end');
});

const datagrams = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.concat([Buffer.from(`${i}:`), randomBytes(1 + ((i * 37) % 1200))]));

/** A bound UDP socket and a connected one talking to it. */
async function udpPair(): Promise<{ bound: DatagramSocket; conn: Connection }> {
  const udp = createUdpSocketProvider();
  const bound = keep(await bind(udp, '127.0.0.1', 0));
  const conn = keep(await connect(udp, `127.0.0.1:${bound.port}`));
  return { bound, conn };
}

/** A DTLS session: a bound UDP server upgraded (serverSide), a connected UDP client upgraded. */
async function dtlsPair(): Promise<{ server: Connection; client: Connection }> {
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
  const [server, client] = await withTimeout(
    Promise.all([bound.startTls(tls, { serverSide: true, context: serverCtx }), conn.startTls(tls, { context: clientCtx, serverName: 'localhost' })]),
    WAIT,
    'the DTLS handshake',
  );
  return { server: keep(server), client: keep(client) };
}

describe('UDP through the async layer', () => {
  it('carries datagrams whole and in order both ways: connected write/readSome, bound recvFrom/sendTo', async () => {
    const { bound, conn } = await udpPair();
    expect(conn.datagram).toBe(true);
    const out = datagrams(200);
    for (const d of out) await conn.write(d); // one at a time: the bounded queue never overflows
    const got: Buffer[] = [];
    let from = { address: '', port: 0 };
    for await (const d of bound) {
      got.push(d.data);
      from = d;
      if (got.length === out.length) break;
    }
    expect(got.map((d) => sha256(d))).toEqual(out.map((d) => sha256(d)));
    expect(from).toMatchObject({ address: '127.0.0.1', port: conn.localPort });
    for (const d of out.slice(0, 20)) await bound.sendTo(d, from.address, from.port);
    const back: Buffer[] = [];
    for await (const d of conn) {
      back.push(d);
      if (back.length === 20) break;
    }
    expect(back.map((d) => sha256(d))).toEqual(out.slice(0, 20).map((d) => sha256(d)));
    expect(bound.stats().droppedDatagrams).toBe(0);
  });

  it('cuts a datagram to max, and refuses read(n) on a datagram connection', async () => {
    const { bound, conn } = await udpPair();
    await conn.write('0123456789');
    expect(String((await bound.recvFrom({ max: 4 }))!.data)).toBe('0123');
    await expect(conn.read(4)).rejects.toMatchObject({ code: 'ERR_SOCKET_NOT_SUPPORTED' });
  });

  it('loses no datagram to an aborted receive', async () => {
    const { bound, conn } = await udpPair();
    for (let i = 0; i < 50; i++) {
      const ac = new AbortController();
      const pending = bound.recvFrom({ signal: ac.signal });
      void conn.write(`d${i}`);
      if (i % 2) await new Promise((r) => setImmediate(r));
      ac.abort();
      const first = await pending.catch((e: Error) => e);
      expect(abortListeners(ac.signal)).toBe(0);
      if (first instanceof Error) {
        expect(first.name).toBe('AbortError');
        expect(String((await bound.recvFrom())!.data)).toBe(`d${i}`);
      } else {
        expect(String(first!.data)).toBe(`d${i}`);
      }
    }
  });

  it('ends the loop of a bound socket when it is closed, and recvFrom then gives null', async () => {
    const { bound } = await udpPair();
    const loop = (async () => {
      for await (const d of bound) void d;
    })();
    bound.close();
    await withTimeout(loop, WAIT, 'the loop to end');
    expect(await bound.recvFrom()).toBeNull();
    expect(await bound.closed).toBe(ShutdownReason.Normal);
  });
});

describe('DTLS through the async layer', () => {
  it('runs a verified handshake on a bound server and a connected client and carries datagrams in order', async () => {
    const { server, client } = await dtlsPair();
    expect(server.datagram && client.datagram).toBe(true);
    expect(client.peerCertificate?.subject.CN).toBe('localhost');
    const out = datagrams(100);
    const got: Buffer[] = [];
    const receiving = (async () => {
      for await (const d of server) if (got.push(d) === out.length) break;
    })();
    for (const d of out) await client.write(d);
    await withTimeout(receiving, WAIT, '100 DTLS datagrams');
    expect(got.map((d) => sha256(d))).toEqual(out.map((d) => sha256(d)));
    await server.write('back');
    expect(String(await client.readSome())).toBe('back');
  });

  it('aborts a pending DTLS read and delivers the datagram to the next one', async () => {
    const { server, client } = await dtlsPair();
    const ac = new AbortController();
    const pending = server.readSome({ signal: ac.signal });
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await client.write('after');
    expect(String(await server.readSome())).toBe('after');
    client.end();
    expect(await client.closed).toBe(ShutdownReason.Normal);
  });
});
