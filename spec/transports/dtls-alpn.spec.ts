/**
 * ALPN over DTLS (RFC 7301; CONTRACT.md §5, §8, §10), our client against our server (a bound
 * UDP socket upgraded): the server picks by its own preference, both users approve in
 * `socketAcceptSelectedAlpnProtocol` just before the completion, a peer without ALPN leaves
 * `alpnProtocol` null, no protocol in common is SOCKET_ALPN_SELECTION_FAILED on both sides
 * (the server's no_application_protocol alert), a veto on either side. Also the pure parts
 * (the extension's bytes, the choice) and werift entries 6–8 (detection, fallback).
 * The openssl peers are in dtls-alpn-openssl.spec.ts, the DTLS listener's peers in
 * spec/datagram-listener/dtls-alpn-listener.spec.ts. Loopback only; every wait bounded.
 */
import { createTlsSocketProvider, createUdpSocketProvider, IInstanceLog, ISocket, ISocketContext, ShutdownReason, UpgradeOptions } from '../../lib';
import {
  ALERT_DECODE_ERROR,
  ALERT_NO_APPLICATION_PROTOCOL,
  ALPN_EXTENSION,
  AlpnRefusal,
  decodeAlpnList,
  DtlsAlpn,
  detectAlpnInternals,
  encodeAlpnList,
  fatalAlertRecord,
  helloExtension,
  isPlainAlert,
  overrideAlpnInternals,
  selectAlpn,
} from '../../lib/transports/dtls-alpn';
import { createEngine, Engine, PROVEN_WERIFT_VERSIONS } from '../../lib/transports/dtls-engine';
import { closePlainSockets } from '../helpers/dtls';
import { alpnDtlsContext } from '../helpers/dtls-alpn';
import { cleanupAndCheck, guardProvider, RecordingUser } from '../helpers/recording-user';
import { loadPki } from '../helpers/tls-fixture';

const WAIT = 15000;
const R = ShutdownReason;
const pki = loadPki();
const udp = guardProvider(createUdpSocketProvider());
const tls = guardProvider(createTlsSocketProvider());

afterEach(async () => {
  const violations = await cleanupAndCheck();
  closePlainSockets();
  expect(violations).toEqual([]);
});

/** DTLS contexts with these ALPN lists (null: no setAlpnProtocols). */
function alpnContexts(serverList: string[] | null, clientList: string[] | null): { server: ISocketContext; client: ISocketContext } {
  return { server: alpnDtlsContext(tls, pki, 'server', serverList), client: alpnDtlsContext(tls, pki, 'client', clientList) };
}

/** A log that keeps its lines. */
function recordingLog(): IInstanceLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, isEnabled: () => true, log: (_flag, message) => lines.push(message) };
}

interface Pair {
  server: ISocket;
  client: ISocket;
  su: RecordingUser;
  cu: RecordingUser;
}

/** A bound server upgraded with `ctx.server`, and a connected client upgraded towards it with `ctx.client`. */
async function pair(
  ctx: { server: ISocketContext; client: ISocketContext },
  su = new RecordingUser('dtls-server'),
  cu = new RecordingUser('dtls-client'),
  options: { server?: UpgradeOptions; client?: UpgradeOptions } = {},
): Promise<Pair> {
  const bu = new RecordingUser('server-udp');
  const b = udp.createSocket(bu);
  b.bind('127.0.0.1', 0);
  await bu.waitFor('socketBindResult', 1, WAIT, b);
  const server = tls.upgradeToTls(b, su, { serverSide: true, context: ctx.server, ...options.server });
  const pu = new RecordingUser('client-udp');
  const c = udp.createSocket(pu);
  c.connect(`127.0.0.1:${b.localPort}`);
  await pu.waitFor('socketConnectComplete', 1, WAIT, c);
  const client = tls.upgradeToTls(c, cu, { context: ctx.client, serverName: 'localhost', ...options.client });
  return { server, client, su, cu };
}

/** Waits for both completions (fails with the events if either side ended instead). */
async function secured(p: Pair): Promise<void> {
  for (const [u, s] of [
    [p.su, p.server],
    [p.cu, p.client],
  ] as const) {
    await u.waitUntil(() => u.count('socketUpgradeToTlsComplete', s) + u.count('socketShutdown', s) > 0, `${u.label} completes`, WAIT);
    expect(`${u.label}: ${u.names(s).join(',')} ${String(u.shutdownReason(s) ?? '')}`).toMatch(/socketUpgradeToTlsComplete/);
  }
}

/** One datagram each way, checked. */
async function exchange(p: Pair): Promise<void> {
  p.server.recv(new Uint8Array(256));
  p.client.recv(new Uint8Array(256));
  p.client.send(Buffer.from('to the server'));
  p.server.send(Buffer.from('to the client'));
  await p.su.waitFor('socketRecvFromResult', 1, WAIT, p.server);
  await p.cu.waitFor('socketRecvFromResult', 1, WAIT, p.client);
  expect(String(p.su.eventsOf('socketRecvFromResult', p.server)[0].data)).toBe('to the server');
  expect(String(p.cu.eventsOf('socketRecvFromResult', p.client)[0].data)).toBe('to the client');
}

describe('ALPN over DTLS: the pure parts', () => {
  it('the extension data round-trips, UTF-8 names included; malformed lists read as null', () => {
    const list = ['h2', 'coap', 'ñ/1', 'x'.repeat(255)];
    const data = encodeAlpnList(list);
    expect(data.readUInt16BE(0)).toBe(data.length - 2);
    expect(decodeAlpnList(data)).toEqual(list);
    expect(decodeAlpnList(Buffer.from([0, 3, 2, 0x68, 0x32]))).toEqual(['h2']);
    expect(decodeAlpnList(Buffer.from([0, 4, 2, 0x68, 0x32]))).toBeNull(); // list length too long
    expect(decodeAlpnList(Buffer.from([0, 3, 3, 0x68, 0x32]))).toBeNull(); // name runs past the end
    expect(decodeAlpnList(Buffer.from([0, 1, 0]))).toBeNull(); // an empty name
    expect(decodeAlpnList(Buffer.from([0, 0]))).toBeNull(); // no name
    expect(decodeAlpnList(Buffer.from([0]))).toBeNull();
  });

  it('the server picks the first of its own protocols the client offers', () => {
    expect(selectAlpn(['h2', 'http/1.1'], ['http/1.1', 'h2'])).toBe('h2');
    expect(selectAlpn(['coap', 'h2'], ['h2', 'coap'])).toBe('coap');
    expect(selectAlpn(['a'], ['b'])).toBeNull();
  });

  /** A ClientHello or ServerHello body with these extensions. */
  function hello(kind: 'client' | 'server', extensions: Array<[number, Buffer]> | null): Buffer {
    const head = [Buffer.from([0xfe, 0xfd]), Buffer.alloc(32, 7), Buffer.from([1, 9])]; // version, random, session_id
    const middle =
      kind === 'client'
        ? [Buffer.from([2, 5, 5]), Buffer.from([0, 2, 0xc0, 0x2b]), Buffer.from([1, 0])] // cookie, cipher_suites, compression
        : [Buffer.from([0xc0, 0x2b, 0])]; // cipher_suite, compression
    if (!extensions) return Buffer.concat([...head, ...middle]);
    const ext = Buffer.concat(extensions.map(([t, d]) => Buffer.concat([Buffer.from([t >> 8, t & 0xff, d.length >> 8, d.length & 0xff]), d])));
    return Buffer.concat([...head, ...middle, Buffer.from([ext.length >> 8, ext.length & 0xff]), ext]);
  }

  it('finds the ALPN extension among others in a ClientHello and a ServerHello; null when absent or cut', () => {
    const alpn = encodeAlpnList(['h2', 'coap']);
    for (const kind of ['client', 'server'] as const) {
      const body = hello(kind, [
        [23, Buffer.alloc(0)],
        [ALPN_EXTENSION, alpn],
        [0xff01, Buffer.from([0])],
      ]);
      expect(Buffer.from(helloExtension(body, kind, ALPN_EXTENSION)!)).toEqual(alpn);
      expect(helloExtension(hello(kind, [[23, Buffer.alloc(0)]]), kind, ALPN_EXTENSION)).toBeNull();
      expect(helloExtension(hello(kind, null), kind, ALPN_EXTENSION)).toBeNull();
      expect(helloExtension(body.subarray(0, body.length - 8), kind, ALPN_EXTENSION)).toBeNull();
      expect(helloExtension(body.subarray(0, 20), kind, ALPN_EXTENSION)).toBeNull();
    }
  });

  /** A stand-in for the engine fields DtlsAlpn reads: the peer's hello in the handshake cache. */
  function engineWith(msgType: number, body: Buffer): Engine {
    return {
      dtls: { recordSequenceNumber: 4, handshakeCache: { 4: { isLocal: false, flight: 4, data: [{ msg_type: msgType, fragment: body }] } } },
    } as unknown as Engine;
  }

  it('the client takes the server’s choice only if it is one protocol it offered', () => {
    const client = new DtlsAlpn(['h2', 'coap'], false, () => undefined);
    expect(client.settle(engineWith(2, hello('server', [[ALPN_EXTENSION, encodeAlpnList(['coap'])]])))).toBeNull();
    expect(client.protocol).toBe('coap');
    expect(client.settle(engineWith(2, hello('server', null)))).toBeNull(); // the server took no part
    expect(client.protocol).toBeNull();
    expect(client.settle(engineWith(2, hello('server', [[ALPN_EXTENSION, encodeAlpnList(['mqtt'])]])))).toMatch(/the server selected \["mqtt"\]/);
    expect(client.settle(engineWith(2, hello('server', [[ALPN_EXTENSION, encodeAlpnList(['h2', 'coap'])]])))).toMatch(/not one protocol/);
    expect(client.settle(engineWith(2, hello('server', [[ALPN_EXTENSION, Buffer.from([0, 5, 1])]])))).toMatch(/a malformed list/);
    expect(client.protocol).toBeNull();
  });

  it('the server refuses a list it cannot read with decode_error (SOCKET_TLS_HANDSHAKE_FAILED), one with nothing in common with no_application_protocol', () => {
    const refusals: AlpnRefusal[] = [];
    const server = new DtlsAlpn(['h2'], true, (r) => refusals.push(r));
    const answer = (body: Buffer): Array<{ type: number; data: Buffer }> => {
      const extensions: Array<{ type: number; data: Buffer }> = [];
      (server as unknown as { answer(e: Engine, x: typeof extensions): void }).answer(engineWith(1, body), extensions);
      return extensions;
    };
    expect(answer(hello('client', [[ALPN_EXTENSION, encodeAlpnList(['coap', 'h2'])]]))).toEqual([{ type: ALPN_EXTENSION, data: encodeAlpnList(['h2']) }]);
    expect(server.protocol).toBe('h2');
    expect(answer(hello('client', null))).toEqual([]);
    expect(server.protocol).toBeNull();
    expect(() => answer(hello('client', [[ALPN_EXTENSION, Buffer.from([0, 1, 0])]]))).toThrow(/ServerHello abandoned/);
    expect(() => answer(hello('client', [[ALPN_EXTENSION, encodeAlpnList(['coap'])]]))).toThrow(/ServerHello abandoned/);
    expect(refusals.map((r) => [r.record[14], r.reason])).toEqual([
      [ALERT_DECODE_ERROR, R.TlsHandshakeFailed],
      [ALERT_NO_APPLICATION_PROTOCOL, R.AlpnSelectionFailed],
    ]);
    expect(refusals.map((r) => r.record.readUIntBE(5, 6))).toEqual([5, 5]); // each stand-in's next record sequence number (it was at 4)
  });

  it('the alert record: epoch 0, DTLS 1.2, fatal, the sequence number given', () => {
    const r = fatalAlertRecord(120, 3);
    expect(r.toString('hex')).toBe('15fefd000000000000000300020278');
    expect(isPlainAlert(r, 120)).toBe(true);
    expect(isPlainAlert(r, 50)).toBe(false);
    const protectedAlert = Buffer.from(r);
    protectedAlert[4] = 1; // epoch 1
    expect(isPlainAlert(protectedAlert, 120)).toBe(false);
  });
});

describe('ALPN over DTLS: our client, our server', () => {
  it('the server picks by its preference; both approve just before their completion; data flows', async () => {
    const p = await pair(alpnContexts(['h2', 'coap'], ['coap', 'h2']));
    await secured(p);
    expect(p.su.names(p.server).slice(0, 2)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketUpgradeToTlsComplete']);
    expect(p.cu.names(p.client).slice(0, 2)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketUpgradeToTlsComplete']);
    expect(p.su.eventsOf('socketAcceptSelectedAlpnProtocol', p.server)[0].args).toEqual(['h2']);
    expect(p.cu.eventsOf('socketAcceptSelectedAlpnProtocol', p.client)[0].args).toEqual(['h2']);
    expect(p.server.alpnProtocol).toBe('h2');
    expect(p.client.alpnProtocol).toBe('h2');
    await exchange(p);
    p.client.shutdown();
    expect(await p.su.waitForShutdown(p.server, WAIT)).toBe(R.ByPeer);
  });

  it('a UTF-8 protocol name, and SRTP alongside: both negotiated', async () => {
    const ctx = alpnContexts(['webrtc', 'c-ñ'], ['c-ñ']);
    ctx.server.enableDtls(true);
    ctx.client.enableDtls(true);
    const p = await pair(ctx);
    await secured(p);
    expect([p.server.alpnProtocol, p.client.alpnProtocol]).toEqual(['c-ñ', 'c-ñ']);
    expect(p.client.getSrtpKeyingMaterial()).toEqual(p.server.getSrtpKeyingMaterial());
    expect(p.client.getSrtpKeyingMaterial()?.profile).toBe('SRTP_AES128_CM_SHA1_80');
    p.client.shutdown();
    p.server.shutdown();
  });

  it('a peer that takes no part in ALPN: alpnProtocol null, no callback, the connection proceeds (either side without a list)', async () => {
    for (const [serverList, clientList] of [
      [['h2'], null],
      [null, ['h2']],
    ]) {
      const p = await pair(alpnContexts(serverList, clientList));
      await secured(p);
      expect(p.su.count('socketAcceptSelectedAlpnProtocol')).toBe(0);
      expect(p.cu.count('socketAcceptSelectedAlpnProtocol')).toBe(0);
      expect([p.server.alpnProtocol, p.client.alpnProtocol]).toEqual([null, null]);
      await exchange(p);
      p.client.shutdown();
      p.server.shutdown();
    }
  });

  it('no protocol in common: the server sends no_application_protocol and ends SOCKET_ALPN_SELECTION_FAILED; so does the client (at its handshake time-out)', async () => {
    const serverLog = recordingLog();
    const clientLog = recordingLog();
    const p = await pair(alpnContexts(['a', 'b'], ['c']), undefined, undefined, {
      server: { log: serverLog },
      client: { log: clientLog, handshakeTimeoutMs: 1500 },
    });
    expect(await p.su.waitForShutdown(p.server, WAIT)).toBe(R.AlpnSelectionFailed);
    expect(await p.cu.waitForShutdown(p.client, WAIT)).toBe(R.AlpnSelectionFailed);
    expect(p.su.names(p.server)).toEqual(['socketShutdown']);
    expect(p.cu.names(p.client)).toEqual(['socketShutdown']);
    expect(serverLog.lines.join('\n')).toMatch(
      /no protocol in common \(the client offers \["c"\], this server \["a","b"\]\): no_application_protocol alert sent/,
    );
    expect(clientLog.lines.join('\n')).toMatch(/no_application_protocol alert during the DTLS handshake/);
    expect(p.client.alpnProtocol).toBeNull();
  });

  it('the client’s veto: SOCKET_ALPN_SELECTION_FAILED without a completion; its close_notify ends the server BY_PEER', async () => {
    const cu = new RecordingUser('dtls-client').on('socketAcceptSelectedAlpnProtocol', () => false);
    const su = new RecordingUser('dtls-server').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(64)));
    const p = await pair(alpnContexts(['h2'], ['h2']), su, cu);
    expect(await cu.waitForShutdown(p.client, WAIT)).toBe(R.AlpnSelectionFailed);
    expect(cu.names(p.client)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketShutdown']);
    expect(await su.waitForShutdown(p.server, WAIT)).toBe(R.ByPeer);
  });

  it('the server’s veto: SOCKET_ALPN_SELECTION_FAILED without a completion; the client ends BY_PEER', async () => {
    const su = new RecordingUser('dtls-server').on('socketAcceptSelectedAlpnProtocol', () => false);
    const cu = new RecordingUser('dtls-client').on('socketUpgradeToTlsComplete', (s) => s.recv(new Uint8Array(64)));
    const p = await pair(alpnContexts(['h2'], ['h2']), su, cu);
    expect(await su.waitForShutdown(p.server, WAIT)).toBe(R.AlpnSelectionFailed);
    expect(su.names(p.server)).toEqual(['socketAcceptSelectedAlpnProtocol', 'socketShutdown']);
    expect(await cu.waitForShutdown(p.client, WAIT)).toBe(R.ByPeer);
  });

  it('setUser() inside the ALPN callback: the completion goes to the new user', async () => {
    const next = new RecordingUser('next-user');
    const cu = new RecordingUser('dtls-client').on('socketAcceptSelectedAlpnProtocol', (s) => {
      s.setUser(next);
      return true;
    });
    const p = await pair(alpnContexts(['h2'], ['h2']), undefined, cu);
    await next.waitFor('socketUpgradeToTlsComplete', 1, WAIT, p.client);
    expect(cu.names(p.client)).toEqual(['socketAcceptSelectedAlpnProtocol']);
    expect(next.names(p.client)).toEqual(['socketUpgradeToTlsComplete']);
    p.client.shutdown();
    p.server.shutdown();
  });
});

describe('ALPN over DTLS: werift entries 6–8', () => {
  afterEach(() => overrideAlpnInternals(undefined));

  it(`found on a real engine of the proven werift version (${PROVEN_WERIFT_VERSIONS.join(', ')}); stubs and other versions are not`, () => {
    const transport = { onData: () => undefined, send: () => Promise.resolve() };
    for (const server of [false, true]) {
      const engine = createEngine(transport, { server, srtp: false, certificateRequest: false });
      expect(detectAlpnInternals(engine, PROVEN_WERIFT_VERSIONS[0])).toBe(true);
      expect(detectAlpnInternals(engine, '0.6.0')).toBe(false);
      expect(detectAlpnInternals(engine, null)).toBe(false);
      engine.close();
    }
    const shaped = { extensions: [], dtls: { handshakeCache: {}, recordSequenceNumber: 0, lastFlight: [] } };
    expect(detectAlpnInternals(shaped, PROVEN_WERIFT_VERSIONS[0])).toBe(true);
    expect(detectAlpnInternals({ ...shaped, extensions: undefined }, PROVEN_WERIFT_VERSIONS[0])).toBe(false);
    expect(detectAlpnInternals({ ...shaped, dtls: { ...shaped.dtls, handshakeCache: undefined } }, PROVEN_WERIFT_VERSIONS[0])).toBe(false);
    expect(detectAlpnInternals({ ...shaped, dtls: { ...shaped.dtls, recordSequenceNumber: undefined } }, PROVEN_WERIFT_VERSIONS[0])).toBe(false);
    const accessor = {
      handshakeCache: {},
      recordSequenceNumber: 0,
      get lastFlight(): unknown[] {
        return [];
      },
    };
    expect(detectAlpnInternals({ ...shaped, dtls: accessor }, PROVEN_WERIFT_VERSIONS[0])).toBe(false);
    expect(detectAlpnInternals({}, PROVEN_WERIFT_VERSIONS[0])).toBe(false);
  });

  it('fallback: without them a session with an ALPN list fails its handshake at once, logged; one without a list is untouched', async () => {
    overrideAlpnInternals(false);
    const log = recordingLog();
    const p = await pair(alpnContexts(['h2'], ['h2']), undefined, undefined, { client: { log } });
    expect(await p.cu.waitForShutdown(p.client, WAIT)).toBe(R.TlsHandshakeFailed);
    expect(await p.su.waitForShutdown(p.server, WAIT)).toBe(R.TlsHandshakeFailed);
    expect(log.lines.join('\n')).toMatch(/ALPN over DTLS needs werift internals not found/);
    const plain = await pair(alpnContexts(null, null));
    await secured(plain);
    plain.client.shutdown();
    plain.server.shutdown();
  });
});
