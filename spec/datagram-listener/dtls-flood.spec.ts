/**
 * The DTLS listener's stateless cookie gate (issue #19): a flood of ClientHellos from many
 * sources that never answer the cookie keeps no per-peer state, garbage is counted and dropped,
 * and random or mutated records from many sources never throw out of the library nor end an
 * unrelated peer. Plain dgram sockets on 127.0.0.1 stand in for spoofed source ports.
 */
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { createTlsSocketProvider, createUdpSocketProvider, ISocket, ISocketContext } from '../../lib';
import { clientHello, cookieOfVerifyRequest } from '../helpers/dtls-hello';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { loadPki } from '../helpers/tls-fixture';
import { fuzzRuns, runFuzz } from '../reliability/helpers/fuzz-runner';

const WAIT = 30000;
const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider());
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => void uncaught.push(err);
beforeAll(() => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterAll(() => {
  process.removeListener('uncaughtException', onUncaught);
  process.removeListener('unhandledRejection', onUncaught);
});
afterEach(async () => {
  expect(uncaught).toEqual([]);
  expect(await cleanupAndCheck(10000)).toEqual([]);
});

function contexts(): { server: ISocketContext; client: ISocketContext } {
  const server = tls.createSocketContext();
  server.setServerCertificate(pki.server);
  server.enableDtls(true);
  const client = tls.createSocketContext();
  client.setCertificateAuthority(pki.ca);
  client.enableDtls(true);
  return { server, client };
}

async function dtlsListener(lu: RecordingUser, server: ISocketContext, handshakeTimeoutMs = 5000): Promise<{ l: ISocket; port: number }> {
  const bu = new RecordingUser('udp-listener');
  const u = udp.createSocket(bu);
  u.bind('127.0.0.1', 0);
  u.listen();
  await bu.waitFor('socketBindResult', 1, WAIT, u);
  const port = u.localPort as number;
  return { l: tls.upgradeToTls(u, lu, { serverSide: true, context: server, handshakeTimeoutMs }), port };
}

function echoUser(): RecordingUser {
  return new RecordingUser('dtls-peers')
    .on('socketAcceptComplete', (s) => s.recv(new Uint8Array(2048)))
    .on('socketRecvFromResult', (s, buf: Uint8Array, len: number) => {
      s.send(Buffer.from(buf.subarray(0, len)));
      s.recv(buf);
    });
}

/** Framework DTLS clients of the listener; each echoes round-trip checks through `cu`. */
function connectClients(n: number, port: number, client: ISocketContext, cu: RecordingUser): void {
  const udpUser = new RecordingUser('client-udp').on('socketConnectComplete', (s) => tls.upgradeToTls(s, cu, { context: client }));
  for (let i = 0; i < n; i++) udp.createSocket(udpUser).connect(`127.0.0.1:${port}`);
}

function sockets(n: number): dgram.Socket[] {
  return Array.from({ length: n }, () => dgram.createSocket('udp4'));
}

async function closeAll(list: dgram.Socket[]): Promise<void> {
  await Promise.all(list.map((s) => new Promise<void>((r) => s.close(() => r()))));
}

const listenerStats = (l: ISocket): Record<string, number> => l.stats().listener as unknown as Record<string, number>;

it('a ClientHello flood from 250 sources that never answer the cookie keeps no per-peer state; a real client connects and exchanges data during it', async () => {
  const { server, client } = contexts();
  const peers = echoUser();
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu, server);
  const flood = sockets(250);
  let verifyRequests = 0;
  for (const s of flood) s.on('message', (m: Buffer) => void (cookieOfVerifyRequest(m) && verifyRequests++));
  await Promise.all(flood.map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));

  const hello = clientHello(); // one real-looking ClientHello, new randoms as a client would send
  let sent = 0;
  let maxHandshaking = 0;
  let next = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < 50; i++) {
      randomBytes(32).copy(hello, 13 + 12 + 2); // the client random
      flood[next++ % flood.length].send(hello, port, '127.0.0.1');
      sent++;
    }
    maxHandshaking = Math.max(maxHandshaking, listenerStats(l).handshaking);
  }, 10);
  try {
    await sleep(300);
    const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => {
      s.recv(new Uint8Array(2048));
      s.send(Buffer.from('through the flood'));
    });
    connectClients(1, port, client, cu);
    await cu.waitFor('socketRecvFromResult', 1, WAIT);
    expect(String(cu.eventsOf('socketRecvFromResult')[0].data)).toBe('through the flood');
    // The heap, once the DTLS engine is loaded and the flood under way, then after 5000 more ClientHellos.
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const sentBefore = sent;
    while (sent < sentBefore + 5000) await sleep(20);
    clearInterval(timer);
    await sleep(200);
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    const stats = listenerStats(l);
    // Per-peer entries: only the real client's (at most one handshake at a time, one accepted).
    expect(maxHandshaking).toBeLessThanOrEqual(1);
    expect(stats.handshaking).toBe(0);
    expect(l.connectionCount).toBe(1);
    expect(stats.refusedDatagrams).toBe(0);
    // Every flooding ClientHello was answered statelessly and counted (some may still be in flight).
    expect(stats.garbageDatagrams).toBeGreaterThan(sent * 0.9);
    expect(verifyRequests).toBeGreaterThan(sent * 0.5);
    // The bound: 5000 more ClientHellos from 250 sources grow the heap (after a full GC) by less
    // than 4 MB, stated generously (a per-peer entry with its werift engine is tens of KB: 250
    // sources would hold several MB, and without the gate each new source would too).
    expect(growth).toBeLessThan(4 * 1024 * 1024);
    cu.eventsOf('socketUpgradeToTlsComplete')[0].socket.shutdown();
    await peers.waitFor('socketShutdown', 1, WAIT);
  } finally {
    clearInterval(timer);
    await closeAll(flood);
    l.shutdown();
  }
}, 60000);

it('garbage from new peers (random bytes, records that are no ClientHello) is dropped and counted in garbageDatagrams, with no state', async () => {
  const { server } = contexts();
  const lu = new RecordingUser('dtls-listener', { accept: () => echoUser() });
  const { l, port } = await dtlsListener(lu, server);
  const sources = sockets(50);
  const appData = Buffer.concat([Buffer.from([23, 0xfe, 0xfd, 0, 1, 0, 0, 0, 0, 0, 1, 0, 8]), randomBytes(8)]);
  const fragment = clientHello();
  fragment.writeUIntBE(1, 13 + 6, 3); // a fragment offset: not a whole ClientHello
  const list = sources.flatMap((s, i) => [
    [s, randomBytes(1 + (i % 40))],
    [s, appData],
    [s, fragment],
  ]) as [dgram.Socket, Buffer][];
  for (const [s, data] of list) s.send(data, port, '127.0.0.1');
  for (let t = 0; t < 200 && listenerStats(l).garbageDatagrams < list.length; t++) await sleep(10);
  expect(listenerStats(l)).toMatchObject({ garbageDatagrams: list.length, handshaking: 0, refusedDatagrams: 0 });
  expect(lu.eventsOf('socketListenResult')).toEqual([]);
  await closeAll(sources);
  l.shutdown();
}, 30000);

/** A record to throw at the listener: random bytes, or a ClientHello / DTLS record with mutations. */
const recordArb = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 300 }).map((a) => Buffer.from(a)),
  fc
    .record({
      base: fc.constantFrom('hello', 'cookie-hello', 'appdata', 'alert', 'finished'),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
    })
    .map(({ base, edits, cut }) => {
      const b =
        base === 'hello'
          ? clientHello()
          : base === 'cookie-hello'
            ? clientHello({ cookie: randomBytes(20), recordSeq: 1, messageSeq: 1 })
            : Buffer.concat([
                Buffer.from([base === 'appdata' ? 23 : base === 'alert' ? 21 : 22, 0xfe, 0xfd, 0, base === 'finished' ? 1 : 0, 0, 0, 0, 0, 0, 2, 0, 40]),
                randomBytes(40),
              ]);
      for (const [at, v] of edits) b[at % b.length] = v;
      return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    }),
);

const scenarioArb = fc.array(fc.tuple(fc.nat(), recordArb), { minLength: 1, maxLength: 12 });

it('fuzz: random and mutated DTLS records from many sources never throw out of the library and never end an unrelated peer', async () => {
  const { server, client } = contexts();
  const peers = echoUser();
  const lu = new RecordingUser('dtls-listener', { accept: () => peers });
  const { l, port } = await dtlsListener(lu, server, 1000);
  const cu = new RecordingUser('clients').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(2048)));
  connectClients(2, port, client, cu);
  await cu.waitFor('socketUpgradeToTlsComplete', 2, WAIT);
  await peers.waitFor('socketAcceptComplete', 2, WAIT);
  // Sources: half answer the cookie (so their records reach a per-peer engine), half never do.
  const sources = sockets(16);
  sources.forEach((s, i) => {
    const random = randomBytes(32);
    if (i % 2 === 0)
      s.on('message', (m: Buffer) => {
        const cookie = cookieOfVerifyRequest(m);
        if (cookie) s.send(clientHello({ random, cookie, recordSeq: 1, messageSeq: 1 }), port, '127.0.0.1');
      });
    s.send(clientHello({ random }), port, '127.0.0.1');
  });
  await sleep(100);
  const RUNS = 100;
  let runs = 0;
  await runFuzz(
    'spec/datagram-listener/dtls-flood.spec.ts',
    scenarioArb,
    async (scenario) => {
      runs++;
      for (const [from, data] of scenario) sources[from % sources.length].send(data, port, '127.0.0.1');
      await sleep(5);
      expect(uncaught).toEqual([]);
      expect(cu.eventsOf('socketShutdown')).toEqual([]);
      expect(peers.eventsOf('socketShutdown')).toEqual([]);
    },
    RUNS,
  );
  expect(runs).toBe(fuzzRuns(RUNS));
  // The real peers still talk.
  const clients = cu.eventsOf('socketUpgradeToTlsComplete').map((e) => e.socket);
  clients.forEach((c, i) => c.send(Buffer.from(`still here ${i}`)));
  await cu.waitFor('socketRecvFromResult', 2, WAIT);
  expect(
    cu
      .eventsOf('socketRecvFromResult')
      .map((e) => String(e.data))
      .sort(),
  ).toEqual(['still here 0', 'still here 1']);
  expect(l.connectionCount).toBe(2);
  for (const c of clients) c.shutdown();
  await peers.waitFor('socketShutdown', 2, WAIT);
  await closeAll(sources);
  l.shutdown();
}, 120000);

it('one cookie round: the ClientHello with our cookie is answered by the ServerHello flight (no second HelloVerifyRequest); a forged or stale cookie gets a new HelloVerifyRequest', async () => {
  const { server } = contexts();
  const lu = new RecordingUser('dtls-listener', { accept: () => echoUser() });
  const { l, port } = await dtlsListener(lu, server, 1000);
  const [s] = sockets(1);
  const got: Buffer[] = [];
  s.on('message', (m: Buffer) => got.push(m));
  const random = randomBytes(32);
  s.send(clientHello({ random }), port, '127.0.0.1');
  for (let t = 0; t < 100 && got.length < 1; t++) await sleep(10);
  const cookie = cookieOfVerifyRequest(got[0]);
  expect(cookie?.length).toBe(20);
  expect(got[0].subarray(1, 3)).toEqual(Buffer.from([0xfe, 0xff])); // DTLS 1.0, RFC 6347 §4.2.1
  // A wrong cookie: answered again, no state.
  s.send(clientHello({ random, cookie: randomBytes(20), recordSeq: 1, messageSeq: 1 }), port, '127.0.0.1');
  for (let t = 0; t < 100 && got.length < 2; t++) await sleep(10);
  expect(cookieOfVerifyRequest(got[1])).toEqual(cookie);
  expect(listenerStats(l)).toMatchObject({ handshaking: 0, garbageDatagrams: 2 });
  // Our cookie: the peer's handshake starts, and the answer is a ServerHello (handshake type 2).
  s.send(clientHello({ random, cookie: cookie!, recordSeq: 2, messageSeq: 1 }), port, '127.0.0.1');
  for (let t = 0; t < 100 && got.length < 3; t++) await sleep(10);
  expect(got[2][0]).toBe(22);
  expect(got[2][13]).toBe(2);
  expect(listenerStats(l).handshaking).toBe(1);
  // The silent peer's handshake times out (handshakeTimeoutMs) and frees its entry.
  for (let t = 0; t < 300 && listenerStats(l).handshaking > 0; t++) await sleep(10);
  expect(listenerStats(l).handshaking).toBe(0);
  await closeAll([s]);
  l.shutdown();
}, 30000);
