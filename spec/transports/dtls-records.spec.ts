/**
 * The DTLS record layer around the engine (issue #19, found by the 200-client test):
 * - record sequence numbers are unique per epoch, retransmissions included (werift reset its
 *   counter after its Finished and resent flights as the same bytes: OpenSSL dropped those as
 *   replays and `s_client` stopped after 6 echoes, or after a resent flight 6);
 * - repeated handshake records are dropped before the engine (werift redid its key exchange
 *   for each, which fed a retransmission storm);
 * - the records of one flight leave in as few datagrams as fit.
 */
import * as dgram from 'node:dgram';
import { createTlsSocketProvider, createUdpSocketProvider } from '../../lib';
import { FLIGHT_DATAGRAM_BYTES, FlightPacker } from '../../lib/transports/dtls-flights';
import { HandshakeRepeatFilter } from '../../lib/transports/dtls-repeats';
import { createEngine, Engine, EngineTransport, startClient } from '../../lib/transports/dtls-engine';
import { withTimeout } from '../helpers/net-helpers';
import { hasOpenssl, killAllOpenssl, PemDir, runOpenssl } from '../helpers/openssl';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { certOf, keyOf, loadPki } from '../helpers/tls-fixture';
import { dtlsListener, echoPeers } from '../datagram-listener/fixtures/dtls-listener';

const pki = loadPki();

/** A record: content type, epoch, sequence number, then `body` (a handshake body starts with its 12-byte header). */
function record(type: number, epoch: number, seq: number, body: Buffer): Buffer {
  const head = Buffer.alloc(13);
  head[0] = type;
  head[1] = 0xfe;
  head[2] = 0xfd;
  head.writeUInt16BE(epoch, 3);
  head.writeUIntBE(seq, 5, 6);
  head.writeUInt16BE(body.length, 11);
  return Buffer.concat([head, body]);
}

/** An unfragmented handshake message of `type` with `message_seq` and a body of `n` bytes. */
function handshake(type: number, messageSeq: number, n = 4): Buffer {
  const h = Buffer.alloc(12 + n, 7);
  h[0] = type;
  h.writeUIntBE(n, 1, 3);
  h.writeUInt16BE(messageSeq, 4);
  h.writeUIntBE(0, 6, 3);
  h.writeUIntBE(n, 9, 3);
  return h;
}

/** Every record of a datagram as `[type, epoch, seq]`. */
function headers(data: Buffer): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let o = 0; o + 13 <= data.length; o += 13 + data.readUInt16BE(o + 11)) out.push([data[o], data.readUInt16BE(o + 3), data.readUIntBE(o + 5, 6)]);
  return out;
}

/** Resolves once `check()` holds (polled: raw sockets and engines make no recorded callbacks); bounded. */
function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      const poll = (): void => void (check() ? resolve() : setTimeout(poll, 5));
      poll();
    }),
    ms,
    what,
  );
}

/** Per epoch, the sequence numbers in the order sent must be strictly increasing (so unique). */
function expectFreshNumbers(datagrams: Buffer[]): void {
  const last = new Map<number, number>();
  const repeats: string[] = [];
  for (const d of datagrams) {
    for (const [type, epoch, seq] of headers(d)) {
      if (seq <= (last.get(epoch) ?? -1)) repeats.push(`type ${type} epoch ${epoch} seq ${seq} after ${last.get(epoch)}`);
      last.set(epoch, Math.max(seq, last.get(epoch) ?? -1));
    }
  }
  expect(repeats).toEqual([]);
}

describe('HandshakeRepeatFilter', () => {
  const serverHello = record(22, 0, 2, handshake(2, 1));
  const certificate = record(22, 0, 3, handshake(11, 2));
  const ccs = record(20, 0, 4, Buffer.from([1]));
  const finished = record(22, 1, 0, Buffer.alloc(40, 9));
  const appData = record(23, 1, 1, Buffer.alloc(30, 5));

  it('passes a handshake record once; the same record again (any record sequence number) is dropped', () => {
    const f = new HandshakeRepeatFilter();
    expect(f.filter(serverHello, false)).toBe(serverHello);
    const again = record(22, 0, 9, handshake(2, 1)); // retransmitted: new record number, same message
    expect(f.filter(again, false)).toBeNull();
    expect(f.dropped).toBe(1);
    const next = record(22, 0, 10, handshake(2, 2)); // another message_seq: new
    expect(f.filter(next, false)).toBe(next);
  });

  it('ChangeCipherSpec, protected records and application data always pass', () => {
    const f = new HandshakeRepeatFilter();
    for (let i = 0; i < 2; i++) for (const r of [ccs, finished, appData]) expect(f.filter(r, false)).toBe(r);
    expect(f.filter(finished, true)).toBe(finished);
    expect(f.dropped).toBe(0);
  });

  it('a repeated ClientHello passes during the handshake (werift answers it), and is dropped once it is done', () => {
    const f = new HandshakeRepeatFilter();
    const hello = record(22, 0, 1, handshake(1, 1));
    expect(f.filter(hello, false)).toBe(hello);
    expect(f.filter(hello, false)).toBe(hello);
    expect(f.filter(hello, true)).toBeNull();
  });

  it('once the handshake is done every unprotected handshake record is dropped, even a first one', () => {
    const f = new HandshakeRepeatFilter();
    expect(f.filter(record(22, 0, 20, handshake(14, 4)), true)).toBeNull();
  });

  it('in a datagram of several records only the repeated ones are taken out, the others keep their order', () => {
    const f = new HandshakeRepeatFilter();
    f.filter(certificate, false);
    const datagram = Buffer.concat([serverHello, certificate, ccs, finished]);
    expect(f.filter(datagram, false)).toEqual(Buffer.concat([serverHello, ccs, finished]));
    expect(f.filter(Buffer.concat([serverHello, certificate]), false)).toBeNull();
    expect(f.dropped).toBe(3);
  });

  it('a cut record at the end is left to the engine', () => {
    const f = new HandshakeRepeatFilter();
    f.filter(certificate, false);
    const cut = serverHello.subarray(0, 20);
    expect(f.filter(Buffer.concat([certificate, cut]), false)).toEqual(cut);
  });
});

describe('FlightPacker', () => {
  it('the records of one run leave as one datagram, in order; one that would not fit starts the next', async () => {
    const sent: Buffer[] = [];
    const packer = new FlightPacker((d, done) => {
      sent.push(d);
      setImmediate(done);
    });
    const a = Buffer.alloc(500, 1);
    const b = Buffer.alloc(500, 2);
    const c = Buffer.alloc(FLIGHT_DATAGRAM_BYTES - 900, 3);
    const settled = Promise.all([packer.add(a), packer.add(b), packer.add(c)]);
    expect(sent).toEqual([Buffer.concat([a, b])]); // c would not fit: a and b went
    await withTimeout(settled, 5000, 'the packed sends');
    expect(sent).toEqual([Buffer.concat([a, b]), c]);
  });

  it('flush() sends what was gathered at once (before an application record); drop() sends nothing and settles', async () => {
    const sent: Buffer[] = [];
    const packer = new FlightPacker((d, done) => {
      sent.push(d);
      done();
    });
    const first = packer.add(Buffer.from([1]));
    packer.flush();
    expect(sent).toEqual([Buffer.from([1])]);
    const second = packer.add(Buffer.from([2]));
    packer.drop();
    await withTimeout(Promise.all([first, second]), 5000, 'the packer promises');
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([Buffer.from([1])]);
  });
});

describe('record sequence numbers (werift entry 9)', () => {
  it('after the handshake, application records and a resent flight 6 all carry new numbers, and the peer still reads them', async () => {
    const fromServer: Buffer[] = [];
    const fromClient: Buffer[] = [];
    const toServer: EngineTransport = { onData: () => undefined, send: async () => undefined };
    const toClient: EngineTransport = { onData: () => undefined, send: async () => undefined };
    toClient.send = async (data) => {
      fromClient.push(Buffer.from(data));
      setImmediate(() => toServer.onData(data));
    };
    toServer.send = async (data) => {
      fromServer.push(Buffer.from(data));
      setImmediate(() => toClient.onData(data));
    };
    const server: Engine = createEngine(toServer, { server: true, cert: certOf(pki.server), key: keyOf(pki.server), srtp: true, certificateRequest: false });
    const client: Engine = createEngine(toClient, { server: false, srtp: true, certificateRequest: false });
    let clientConnects = 0;
    const clientGot: string[] = [];
    const serverGot: string[] = [];
    client.onConnect.subscribe(() => clientConnects++);
    client.onData.subscribe((d: Buffer) => clientGot.push(d.toString()));
    server.onData.subscribe((d: Buffer) => serverGot.push(d.toString()));
    const connected = new Promise<void>((r) => server.onConnect.subscribe(() => r()));
    startClient(client).catch(() => undefined);
    await withTimeout(connected, 10_000, 'the handshake');
    await until(() => clientConnects === 1, 'the client to connect');

    for (let i = 0; i < 10; i++) {
      await server.send(Buffer.from(`s${i}`));
      await client.send(Buffer.from(`c${i}`));
    }
    // The client's flight 5 again (its Finished is the record of epoch 1): werift's server resends flight 6.
    const flight5 = fromClient.filter((d) => headers(d).some(([type, epoch]) => type === 22 && epoch === 1));
    expect(flight5.length).toBeGreaterThan(0);
    const before = fromServer.length;
    for (const d of flight5) toServer.onData(d);
    await until(() => fromServer.length > before, 'the resent flight 6');
    for (let i = 10; i < 20; i++) await server.send(Buffer.from(`s${i}`));

    await until(() => clientGot.length === 20 && serverGot.length === 10 && clientConnects === 2, 'every record to be read');
    expect(clientGot).toEqual(Array.from({ length: 20 }, (_, i) => `s${i}`)); // every one decrypted at the peer
    expect(clientConnects).toBe(2); // the resent Finished, sealed again under a new number, decrypted too
    expectFreshNumbers(fromServer);
    expectFreshNumbers(fromClient);
  });
});

describe('OpenSSL client after the handshake (replay window)', () => {
  const udp = guardProvider(createUdpSocketProvider());
  const tls = guardProvider(createTlsSocketProvider());
  let pem: PemDir;
  beforeAll(() => {
    pem = new PemDir();
  });
  afterAll(() => pem?.remove());
  afterEach(async () => {
    await killAllOpenssl();
    expect(await cleanupAndCheck(10000)).toEqual([]);
  });

  (hasOpenssl() ? it : it.skip)(
    's_client echoes 20 lines, also after its flight 5 came again and our flight 6 was resent; every record we sent has a new number',
    async () => {
      const peers = echoPeers();
      const lu = new RecordingUser('listener', { accept: () => peers });
      const server = tls.createSocketContext();
      server.setServerCertificate(pki.server);
      server.enableDtls(true);
      const { l, port } = await dtlsListener({ udp, tls }, lu, { context: server });

      // A relay between s_client and the listener: it records what we send, and replays s_client's flight 5 on demand.
      const relay = dgram.createSocket('udp4');
      const fromUs: Buffer[] = [];
      let client: dgram.RemoteInfo | null = null;
      let flight5: Buffer[] = [];
      relay.on('message', (m, r) => {
        if (r.port === port) {
          fromUs.push(m);
          if (client) relay.send(m, client.port, client.address);
        } else {
          client = r;
          if (headers(m).some(([type, epoch]) => type === 22 && epoch === 1)) flight5.push(m);
          relay.send(m, port, '127.0.0.1');
        }
      });
      await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
      try {
        const ca = pem.write('ca.pem', `${pki.ca}\n`);
        const proc = runOpenssl([
          's_client',
          '-dtls1_2',
          '-connect',
          `127.0.0.1:${relay.address().port}`,
          '-CAfile',
          ca,
          '-servername',
          'localhost',
          '-quiet',
          '-no_ign_eof',
        ]);
        await peers.waitFor('socketAcceptComplete', 1, 15000);
        let expected = '';
        for (let i = 0; i < 20; i++) {
          if (i === 10) {
            // s_client's flight 5 once more: the listener's session answers with flight 6 again.
            const again = flight5;
            flight5 = [];
            expect(again.length).toBeGreaterThan(0);
            const before = fromUs.length;
            for (const d of again) relay.send(d, port, '127.0.0.1');
            await until(() => fromUs.length > before, 'flight 6 resent');
          }
          const line = `line ${i} ${'x'.repeat(i)}\n`;
          expected += line;
          proc.write(line);
          await proc.until(() => proc.stdout.length >= expected.length, `the echo of line ${i}`, 10000);
        }
        expect(proc.stdout).toBe(expected);
        expectFreshNumbers(fromUs);
        proc.endInput();
        await proc.waitForExit(10000);
        await peers.waitFor('socketShutdown', 1, 10000);
      } finally {
        relay.close();
        l.shutdown();
      }
    },
  );
});
