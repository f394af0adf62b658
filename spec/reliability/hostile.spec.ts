/**
 * Hostile clients (issue #7, item 4), against framework servers on loopback:
 * - 500 TCP connections to a TLS server that never send a ClientHello, and one that sends a real
 *   ClientHello one byte per 100 ms, are all closed by the handshake time-out, while a normal
 *   TLS client is served;
 * - `maxConnections` refuses the connections beyond it and serves the others, and takes new ones
 *   once some have gone;
 * - a client that sends one byte per 100 ms does not hold up the others.
 * Outcomes are asserted, never timings.
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { createTcpSocketProvider, createTlsSocketProvider, ISocket, ShutdownReason } from '../../lib';
import { closeAllRaw, pollUntil, randomBytes, rawConnect, sha256, StreamCollector, withTimeout } from '../helpers/net-helpers';
import { cleanupAndCheck, guardProvider, RecordingUser, waitUntil } from '../helpers/recording-user';
import { closeAllRawTls, loadPki, rawTlsConnect, serverContext } from '../helpers/tls-fixture';
import { report } from './helpers/report';

const pki = loadPki();
const KiB = 1024;
const WAIT = 20_000;

const echoUser = (label: string): RecordingUser => new RecordingUser(label, { autoRecv: 64 * KiB, echo: true });

/** A framework listener on 127.0.0.1:0 that accepts every connection for `user()`; resolves with its port. */
async function listen(
  provider: ReturnType<typeof guardProvider>,
  options: object,
  user: () => RecordingUser,
): Promise<{ socket: ISocket; port: number; owner: RecordingUser; accepted: RecordingUser[] }> {
  const owner = new RecordingUser('listener');
  const accepted: RecordingUser[] = [];
  owner.on('socketListenResult', (s) => {
    const u = user();
    accepted.push(u);
    s.accept(u);
  });
  const socket = provider.createSocket(owner, options);
  socket.bind('127.0.0.1', 0);
  await owner.waitFor('socketBindResult', 1, WAIT, socket);
  socket.listen();
  return { socket, port: owner.eventsOf('socketBindResult', socket)[0].args[1] as number, owner, accepted };
}

/** A raw TCP connection (half-open capable) closed by the other side: resolves once it sees the end. */
function closedByServer(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (sock.destroyed || sock.readableEnded) resolve();
    sock.once('end', () => resolve());
    sock.once('close', () => resolve());
    sock.resume();
  });
}

/** The first bytes a Node TLS client sends: its ClientHello, caught by a plain server. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => server.once('connection', (c) => c.once('data', (d: Buffer) => (resolve(Buffer.from(d)), c.destroy()))));
  const client = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.ca });
  client.on('error', () => undefined);
  const hello = await withTimeout(got, WAIT, 'a ClientHello');
  client.destroy();
  server.close();
  return hello;
}

afterEach(async () => {
  const violations = await cleanupAndCheck(WAIT);
  await closeAllRaw();
  await closeAllRawTls();
  expect(violations).toEqual([]);
});

describe('hostile clients', () => {
  it('500 connections without a ClientHello and one dribbling it are closed by the handshake time-out; a normal client is served', async () => {
    const SILENT = 500;
    const tlsProvider = guardProvider(createTlsSocketProvider());
    const srv = await listen(tlsProvider, { context: serverContext(pki), handshakeTimeoutMs: 1500, backlog: 1024 }, () => echoUser('conn'));

    const silent: net.Socket[] = [];
    for (let i = 0; i < SILENT; i++) silent.push(await rawConnect(srv.port));
    const hello = await captureClientHello();
    const dribbler = await rawConnect(srv.port);
    let dribbled = 0;
    const timer = setInterval(() => {
      if (dribbler.destroyed || dribbled >= hello.length) return clearInterval(timer);
      dribbler.write(hello.subarray(dribbled, dribbled + 1));
      dribbled++;
    }, 100);
    const allClosed = Promise.all([...silent, dribbler].map(closedByServer));
    await waitUntil(() => srv.accepted.length === SILENT + 1, `${SILENT + 1} connections accepted`, WAIT);

    // A normal client, while those wait for their time-out: 64 KiB echoed in 16 writes.
    const client = await rawTlsConnect(pki, srv.port);
    const echo = new StreamCollector(client);
    const data = randomBytes(64 * KiB);
    for (let off = 0; off < data.length; off += 4 * KiB) client.write(data.subarray(off, off + 4 * KiB));
    await echo.waitForBytes(data.length, WAIT);
    const servedWhilePending = srv.accepted.slice(0, SILENT).filter((u) => u.count('socketShutdown') === 0).length;
    expect(sha256(echo.data())).toBe(sha256(data));
    client.end();
    await echo.waitForEnd(WAIT);

    await withTimeout(allClosed, WAIT, 'every hostile connection to be closed by the server');
    clearInterval(timer);
    const normal = srv.accepted[SILENT + 1];
    expect(await normal.waitForShutdown(undefined, WAIT)).toBe(ShutdownReason.ByPeer);
    const hostile = srv.accepted.slice(0, SILENT + 1);
    await waitUntil(() => hostile.every((u) => u.count('socketShutdown') === 1), 'every hostile connection to end', WAIT);
    expect(hostile.map((u) => u.shutdownReason()).filter((r) => r !== ShutdownReason.TlsHandshakeFailed)).toEqual([]);
    expect(hostile.every((u) => u.count('socketAcceptComplete') === 0)).toBe(true);
    expect(dribbled).toBeLessThan(hello.length); // the time-out came before the ClientHello was complete
    expect(srv.socket.connectionCount).toBe(0);
    srv.socket.shutdown();
    report('hostile-handshake', { silent: SILENT, dribbledBytes: dribbled, helloBytes: hello.length, servedWhilePending, echoed: data.length });
  }, 60_000);

  it('maxConnections refuses the excess, serves the rest, and takes new ones when some have gone', async () => {
    const MAX = 20;
    const tlsProvider = guardProvider(createTlsSocketProvider());
    const srv = await listen(tlsProvider, { context: serverContext(pki), maxConnections: MAX }, () => echoUser('conn'));

    /** A TLS client that says hello: 'served' if it hears its echo, 'refused' if closed first. */
    const attempt = async (i: number): Promise<{ outcome: 'served' | 'refused'; sock: tls.TLSSocket | null }> => {
      const sock = tls.connect({ port: srv.port, host: '127.0.0.1', ca: pki.ca, servername: 'localhost' });
      sock.on('error', () => undefined);
      const msg = `hello ${i}`;
      const outcome = await withTimeout(
        new Promise<'served' | 'refused'>((resolve) => {
          let got = '';
          sock.once('secureConnect', () => sock.write(msg));
          sock.on('data', (d: Buffer) => {
            got += d.toString();
            if (got === msg) resolve('served');
          });
          sock.once('close', () => resolve('refused'));
        }),
        WAIT,
        `client ${i}`,
      );
      return { outcome, sock: outcome === 'served' ? sock : null };
    };

    const first = await Promise.all(Array.from({ length: MAX + 10 }, (_, i) => attempt(i)));
    const served = first.filter((r) => r.outcome === 'served');
    expect(served).toHaveLength(MAX);
    expect(first.filter((r) => r.outcome === 'refused')).toHaveLength(10);
    expect(srv.socket.connectionCount).toBe(MAX);

    // Five leave; five new ones are served, and one more beyond that is refused again.
    for (const r of served.slice(0, 5)) r.sock!.end();
    await pollUntil(() => srv.socket.connectionCount === MAX - 5, 'five connections to end');
    const second = await Promise.all(Array.from({ length: 5 }, (_, i) => attempt(100 + i)));
    expect(second.map((r) => r.outcome)).toEqual(Array(5).fill('served'));
    expect((await attempt(200)).outcome).toBe('refused');
    for (const r of [...served, ...second]) r.sock?.destroy();
    srv.socket.shutdown();
    report('hostile-maxConnections', { max: MAX, tried: MAX + 10 + 5 + 1, served: MAX + 5, refused: 11 });
  }, 60_000);

  it('a client sending one byte per 100 ms does not hold up the others', async () => {
    const OTHERS = 20;
    const MESSAGE = 64;
    const provider = guardProvider(createTcpSocketProvider());
    // Every connection wants whole 64-byte messages (exact recvs) and echoes them.
    const messageUser = (label: string): RecordingUser => {
      const u = new RecordingUser(label);
      const buf = new Uint8Array(MESSAGE);
      u.on('socketAcceptComplete', (s) => s.recv(buf, MESSAGE));
      u.on('socketRecvResult', (s, b: Uint8Array, n: number) => {
        s.send(b, n);
        s.recv(buf, MESSAGE);
      });
      return u;
    };
    const srv = await listen(provider, {}, () => messageUser('conn'));

    const slow = await rawConnect(srv.port);
    const slowEcho = new StreamCollector(slow);
    const slowData = randomBytes(MESSAGE * 4);
    let dribbled = 0;
    const timer = setInterval(() => {
      if (dribbled < slowData.length) slow.write(slowData.subarray(dribbled, ++dribbled));
    }, 100);
    await pollUntil(() => dribbled >= 2, 'the slow client to start');

    const others = await Promise.all(
      Array.from({ length: OTHERS }, async () => {
        const sock = await rawConnect(srv.port);
        const echo = new StreamCollector(sock);
        const data = randomBytes(MESSAGE * 256);
        sock.write(data);
        await echo.waitForBytes(data.length, WAIT);
        sock.end();
        return sha256(echo.data()) === sha256(data);
      }),
    );
    const slowSoFar = dribbled;
    expect(others).toEqual(Array(OTHERS).fill(true));
    expect(slowSoFar).toBeLessThan(slowData.length); // the others finished while it was still sending

    // The slow client finishes at its own pace: its messages come back whole and in order.
    clearInterval(timer);
    slow.write(slowData.subarray(dribbled));
    await slowEcho.waitForBytes(slowData.length, WAIT);
    expect(slowEcho.data().equals(slowData)).toBe(true);
    slow.end();
    srv.socket.shutdown();
    report('hostile-slowloris', { others: OTHERS, bytesEach: MESSAGE * 256, slowBytesWhenOthersDone: slowSoFar });
  }, 60_000);
});
