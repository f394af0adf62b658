/**
 * Our AES-GCM record protection of an established DTLS session (lib/transports/dtls-record.ts)
 * against werift's own (werift entry 9 in dtls-engine.ts): records we protect open in werift,
 * records werift protects open in ours, both share one sequence counter, and a changed byte,
 * another epoch or a datagram of two records are never taken for application data. Interop
 * with OpenSSL over the whole socket is in dtls-openssl.spec.ts.
 */
import { createEngine, Engine, EngineTransport, overrideWeriftInternals, recordKeysOf, startClient } from '../../lib/transports/dtls-engine';
import { APPLICATION_DATA, DtlsRecordLayer } from '../../lib/transports/dtls-record';
import { randomBytes, withTimeout } from '../helpers/net-helpers';
import { certOf, keyOf, loadPki } from '../helpers/tls-fixture';

const pki = loadPki();

/** Two engines wired to each other in this process; the records each side sent after the handshake. */
async function connectedPair(): Promise<{
  client: Engine;
  server: Engine;
  fromClient: Buffer[];
  fromServer: Buffer[];
  toServer: EngineTransport;
  toClient: EngineTransport;
}> {
  const fromClient: Buffer[] = [];
  const fromServer: Buffer[] = [];
  const toServer: EngineTransport = { onData: () => undefined, send: async () => undefined };
  const toClient: EngineTransport = { onData: () => undefined, send: async () => undefined };
  // Each transport is the one its engine sends through: the client's goes to the server.
  toClient.send = async (data) => {
    fromClient.push(Buffer.from(data));
    setImmediate(() => toServer.onData(data));
  };
  toServer.send = async (data) => {
    fromServer.push(Buffer.from(data));
    setImmediate(() => toClient.onData(data));
  };
  const server = createEngine(toServer, { server: true, cert: certOf(pki.server), key: keyOf(pki.server), srtp: true, certificateRequest: false });
  const client = createEngine(toClient, { server: false, srtp: true, certificateRequest: false });
  const connected = Promise.all([
    new Promise<void>((r) => client.onConnect.subscribe(() => r())),
    new Promise<void>((r) => server.onConnect.subscribe(() => r())),
  ]);
  startClient(client).catch(() => undefined);
  await withTimeout(connected, 10_000, 'the DTLS handshake');
  await new Promise((r) => setTimeout(r, 20)); // the last flight's records have arrived
  fromClient.length = 0;
  fromServer.length = 0;
  return { client, server, fromClient, fromServer, toServer, toClient };
}

/** The next application datagram an engine delivers. */
function nextData(engine: Engine): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve) => {
      const sub = engine.onData.subscribe((d: Buffer) => {
        sub.unSubscribe();
        resolve(Buffer.from(d));
      });
    }),
    2000,
    'a datagram from the engine',
  );
}

describe('DTLS record protection (dtls-record.ts) against werift', () => {
  it('a record we protect opens in werift, and one werift protects opens in ours, both ways', async () => {
    const { client, server, toServer, toClient, fromServer, fromClient } = await connectedPair();
    const clientRecords = new DtlsRecordLayer(recordKeysOf(client, false)!);
    const serverRecords = new DtlsRecordLayer(recordKeysOf(server, true)!);
    for (const size of [0, 1, 512, 1200]) {
      const payload = randomBytes(size);
      // ours → werift
      const got = nextData(server);
      toServer.onData(clientRecords.protect(APPLICATION_DATA, payload, size));
      expect((await got).equals(payload)).toBe(true);
      const back = nextData(client);
      toClient.onData(serverRecords.protect(APPLICATION_DATA, payload, size));
      expect((await back).equals(payload)).toBe(true);
      // werift → ours
      await server.send(payload);
      const opened = clientRecords.open(fromServer.pop()!, APPLICATION_DATA);
      expect(Buffer.isBuffer(opened) && opened.equals(payload)).toBe(true);
      await client.send(payload);
      const opened2 = serverRecords.open(fromClient.pop()!, APPLICATION_DATA);
      expect(Buffer.isBuffer(opened2) && opened2.equals(payload)).toBe(true);
    }
  });

  it('shares the sequence counter with werift: the numbers of both kinds of record follow each other', async () => {
    const { client, fromClient } = await connectedPair();
    const records = new DtlsRecordLayer(recordKeysOf(client, false)!);
    const seqOf = (r: Buffer): number => r.readUIntBE(5, 6);
    await client.send(Buffer.from('a'));
    const mine = records.protect(APPLICATION_DATA, Buffer.from('b'), 1);
    await client.send(Buffer.from('c'));
    const [a, c] = fromClient.splice(0);
    expect([seqOf(a), seqOf(mine), seqOf(c)]).toEqual([seqOf(a), seqOf(a) + 1, seqOf(a) + 2]);
    expect(mine.readUInt16BE(3)).toBe(1); // epoch 1
    expect(mine.readUInt16BE(1)).toBe(0xfefd); // DTLS 1.2
  });

  it('never takes a changed record, another epoch, another type or a datagram of two records for application data', async () => {
    const { client, server } = await connectedPair();
    const clientRecords = new DtlsRecordLayer(recordKeysOf(client, false)!);
    const serverRecords = new DtlsRecordLayer(recordKeysOf(server, true)!);
    const record = clientRecords.protect(APPLICATION_DATA, Buffer.from('hello'), 5);
    expect(serverRecords.open(record, APPLICATION_DATA)).toEqual(Buffer.from('hello'));
    for (const at of [3 /* epoch byte in the AAD */, 10 /* sequence number */, 13 /* explicit nonce */, 25 /* ciphertext */, record.length - 1 /* tag */]) {
      const changed = Buffer.from(record);
      changed[at] ^= 0x01;
      // A changed epoch is not ours to open (null); every other change fails authentication.
      expect(serverRecords.open(changed, APPLICATION_DATA)).toBe(at === 3 ? null : 'forged');
    }
    expect(serverRecords.open(record, 22)).toBeNull(); // a handshake record: the engine's
    expect(serverRecords.open(Buffer.concat([record, record]), APPLICATION_DATA)).toBeNull(); // two records: the engine's
    expect(serverRecords.open(record.subarray(0, 20), APPLICATION_DATA)).toBeNull(); // too short
    // A record protected with the server's own write key does not open as the client's.
    expect(serverRecords.open(serverRecords.protect(APPLICATION_DATA, Buffer.from('x'), 1), APPLICATION_DATA)).toBe('forged');
  });

  it('fallback: no keys before the handshake, from a stub, or with a werift version the canary did not prove', async () => {
    const { client } = await connectedPair();
    expect(recordKeysOf({} as Engine, false)).toBeNull();
    const fresh = createEngine({ onData: () => undefined, send: async () => undefined }, { server: false, srtp: false, certificateRequest: false });
    expect(recordKeysOf(fresh, false)).toBeNull(); // no cipher suite yet
    overrideWeriftInternals({ version: '0.6.0', closeNotify: false, stopRetransmissions: false, protectedAlerts: false, srtpProfile: false, cookie: false });
    try {
      expect(recordKeysOf(client, false)).toBeNull();
    } finally {
      overrideWeriftInternals(undefined);
    }
    expect(recordKeysOf(client, false)).not.toBeNull();
  });
});
