/**
 * Renegotiation is refused by a framework TLS server (docs/security.md, "Protocol downgrade,
 * weak ciphers, renegotiation"): a plain Node TLS 1.2 client that calls `renegotiate()` on an
 * established connection does not get a new handshake; the accepted socket ends with
 * SOCKET_LOST, logged as ERR_TLS_RENEGOTIATION_DISABLED, and the listener goes on serving.
 * (TLS 1.3 has no renegotiation at all.)
 */
import * as tls from 'node:tls';
import { LogFlag, ShutdownReason } from '../../lib';
import { pollUntil, settle, StreamCollector } from '../helpers/net-helpers';
import { loadPki, rawTlsConnect, serverContext } from '../helpers/tls-fixture';
import { LinesLog, tlsEchoListener, useProviders, WAIT } from './helpers';

const pki = loadPki();

describe('client-initiated renegotiation against a framework TLS server', () => {
  const p = useProviders();

  /** Writes `text` on a raw TLS client and waits for its echo. */
  async function echoes(client: tls.TLSSocket, peer: StreamCollector, text: string): Promise<void> {
    const before = peer.data().length;
    client.write(text);
    await peer.waitForBytes(before + text.length);
    expect(peer.data().subarray(before).toString()).toBe(text);
  }

  it('a TLS 1.2 client that renegotiates is cut off: SOCKET_LOST, logged ERR_TLS_RENEGOTIATION_DISABLED; no new handshake; others are served', async () => {
    const log = new LinesLog([LogFlag.Tls]);
    const { port, accepted } = await tlsEchoListener(p.tls, serverContext(pki), log);
    const client = await rawTlsConnect(pki, port, '127.0.0.1', { maxVersion: 'TLSv1.2' });
    expect(client.getProtocol()).toBe('TLSv1.2');
    const peer = new StreamCollector(client);
    await echoes(client, peer, 'before');

    let renegotiated = false;
    // Node calls this back only when the new handshake succeeded ('secure').
    const asked = client.renegotiate({}, (err) => {
      if (!err) renegotiated = true;
    });
    expect(asked).toBe(true); // the ClientHello went out: the refusal is the server's

    const conn = accepted[0];
    expect(await conn.waitForShutdown(undefined, WAIT)).toBe(ShutdownReason.Lost);
    await peer.waitForEnd();
    await settle(100);
    expect(renegotiated).toBe(false);
    expect(log.text()).toMatch(/established error ERR_TLS_RENEGOTIATION_DISABLED .*-> SOCKET_LOST/);
    expect(conn.received().toString()).toBe('before');

    // The listener is unaffected: a new client (TLS 1.2 again) is served.
    const second = await rawTlsConnect(pki, port, '127.0.0.1', { maxVersion: 'TLSv1.2' });
    await echoes(second, new StreamCollector(second), 'still served');
    await pollUntil(() => accepted.length === 2, 'the second connection to be accepted');
  });
});
