/**
 * The default cipher list and its trade-off (docs/security.md, "Security defaults"; lib/context.ts
 * `CIPHERS`): TLS 1.2 runs only ECDHE with an AEAD cipher (AES-GCM, ChaCha20-Poly1305). Checked
 * with real handshakes against plain Node TLS 1.2 peers, which accept every one of the suites
 * below by default:
 * - a framework server serves a client offering one of its three ECDSA AEAD suites, and refuses
 *   one offering only a suite Node's default list has and ours has not (CBC, CCM, ARIA);
 * - a framework client cannot connect to a server that has only CBC suites.
 * (TLS 1.3 runs its three suites, as testssl.sh reports: docs/security.md, the scan.)
 */
import * as tls from 'node:tls';
import { LogFlag, ShutdownReason } from '../../lib';
import { StreamCollector } from '../helpers/net-helpers';
import { RecordingUser } from '../helpers/recording-user';
import { clientContext, loadPki, rawTlsConnect, rawTlsConnectNoWait, rawTlsServer, serverContext } from '../helpers/tls-fixture';
import { sslv3Alert, sslv3AlertSource } from '../helpers/openssl-codes';
import { LinesLog, tlsEchoListener, useProviders, WAIT } from './helpers';

const pki = loadPki();

/** The TLS 1.2 suites of the default list that an ECDSA certificate can use. */
const SERVED = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'];
/** What Node's own default list adds for an ECDSA certificate (testssl.sh found them offered before the change). */
const REFUSED = [
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-ECDSA-AES128-CCM',
  'ECDHE-ECDSA-AES256-CCM',
  'ECDHE-ECDSA-AES128-CCM8',
  'ECDHE-ECDSA-AES256-CCM8',
  'ECDHE-ECDSA-ARIA128-GCM-SHA256',
  'ECDHE-ECDSA-ARIA256-GCM-SHA384',
];

/**
 * The client's cipher string offering only `suite`. The CCM8 suites (8-byte tags) are below
 * OpenSSL 3.5's default security level (Node 22 and later): a client asked for only one of them
 * builds no ClientHello at all (ERR_SSL_NO_CIPHERS_AVAILABLE) and our server is never tested.
 * `@SECLEVEL=0` lets the client offer it on every line, so the refusal is our server's.
 */
function offerOnly(suite: string): string {
  return suite.includes('CCM8') ? `${suite}:@SECLEVEL=0` : suite;
}

describe('the default cipher list', () => {
  const p = useProviders();
  const listener = (log: LinesLog): Promise<{ port: number; accepted: RecordingUser[] }> => tlsEchoListener(p.tls, serverContext(pki), log);

  it.each(SERVED)('a framework server serves a TLS 1.2 client that offers only %s', async (suite) => {
    const { port } = await listener(new LinesLog([LogFlag.Tls]));
    const client = await rawTlsConnect(pki, port, '127.0.0.1', { ciphers: suite, maxVersion: 'TLSv1.2' });
    expect(client.getCipher().name).toBe(suite);
    const peer = new StreamCollector(client);
    client.write('aead');
    await peer.waitForBytes(4);
    expect(peer.data().toString()).toBe('aead');
  });

  it.each(REFUSED)('a framework server refuses a TLS 1.2 client that offers only %s: TLS_HANDSHAKE_FAILED, no shared cipher', async (suite) => {
    const log = new LinesLog([LogFlag.Tls]);
    const { port, accepted } = await listener(log);
    const client = rawTlsConnectNoWait(port, '127.0.0.1', { ciphers: offerOnly(suite), maxVersion: 'TLSv1.2', ca: pki.ca, servername: 'localhost' });
    const peer = new StreamCollector(client);
    await peer.until(() => peer.error !== null || peer.closed, 'the client to fail');
    // ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE on Node 20, ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE after it.
    expect((peer.error as NodeJS.ErrnoException | null)?.code).toMatch(sslv3Alert('HANDSHAKE_FAILURE'));
    expect(client.getCipher()).toBeFalsy();
    await accepted[0].waitFor('socketShutdown', 1, WAIT);
    expect(accepted[0].names()).toEqual(['socketShutdown']);
    expect(accepted[0].shutdownReason()).toBe(ShutdownReason.TlsHandshakeFailed);
    expect(log.text()).toMatch(/TLS handshake failed: ERR_SSL_NO_SHARED_CIPHER /);
  });

  it('a framework client cannot connect to a TLS 1.2 server that has only CBC suites: TLS_HANDSHAKE_FAILED', async () => {
    const srv = await rawTlsServer(pki, { ciphers: 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA', maxVersion: 'TLSv1.2' });
    const log = new LinesLog([LogFlag.Tls]);
    const cu = new RecordingUser('client');
    const c = p.tls.createSocket(cu, { context: clientContext(pki), log });
    c.connect(`127.0.0.1:${srv.port}`, 'localhost');
    expect(await cu.waitForShutdown(c, WAIT)).toBe(ShutdownReason.TlsHandshakeFailed);
    expect(cu.names(c)).toEqual(['socketShutdown']);
    expect(srv.connections).toHaveLength(0);
    expect(log.text()).toMatch(new RegExp(`${sslv3AlertSource('HANDSHAKE_FAILURE')} .*-> SOCKET_TLS_HANDSHAKE_FAILED`, 's'));
  });

  it('control: a framework client connects to a TLS 1.2 server whose only suite is ECDHE-ECDSA-AES256-GCM-SHA384', async () => {
    const srv = await rawTlsServer(pki, { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' }, (sock: tls.TLSSocket) => sock.write('hi'));
    const cu = new RecordingUser('client', { autoRecv: 16 });
    const c = p.tls.createSocket(cu, { context: clientContext(pki) });
    c.connect(`127.0.0.1:${srv.port}`, 'localhost');
    await cu.waitForBytes(2, c, WAIT);
    expect(cu.received(c).toString()).toBe('hi');
    expect((await srv.connection()).getCipher().name).toBe('ECDHE-ECDSA-AES256-GCM-SHA384');
  });
});
