/**
 * Renegotiation is refused by a framework TLS client (docs/security.md, "Protocol downgrade,
 * weak ciphers, renegotiation"): a plain Node TLS 1.2 server that asks an established framework
 * client to renegotiate (`renegotiate()` sends a HelloRequest) must not get a new handshake. The
 * framework user sees the connection end with SOCKET_LOST, and nothing the server sends under
 * new parameters is delivered.
 *
 * FAILS TODAY (lib bug): `disableRenegotiation()` (lib/transports/tls.ts,
 * tlsSecurer.establish) only acts on a server-side TLSSocket — Node checks it in the server's
 * handshake-start hook — so the client accepts the HelloRequest, renegotiates, and goes on
 * under the new handshake. The fix proposed: `secureOptions: constants.SSL_OP_NO_RENEGOTIATION`
 * in the client's secure context (lib/context.ts, clientSettings()); with it the client answers
 * with a no_renegotiation alert, a Node server ends the connection, and this test passes
 * (SOCKET_LOST, logged ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE; ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE
 * on Node 22 and later, whose OpenSSL renamed the alert: spec/helpers/openssl-codes.ts).
 */
import * as tls from 'node:tls';
import { LogFlag, ShutdownReason } from '../../lib';
import { pollUntil, settle } from '../helpers/net-helpers';
import { RecordingUser } from '../helpers/recording-user';
import { clientContext, loadPki, rawTlsServer } from '../helpers/tls-fixture';
import { ANY_ERR_CODE } from '../helpers/openssl-codes';
import { LinesLog, useProviders, WAIT } from './helpers';

const pki = loadPki();
const AFTER = 'sent after the renegotiation';

describe('server-initiated renegotiation against a framework TLS client', () => {
  const p = useProviders();

  it('a TLS 1.2 server asks for renegotiation: refused, the client ends with SOCKET_LOST, nothing sent after it is delivered', async () => {
    let renegotiated = false;
    const serverErrors: string[] = [];
    const srv = await rawTlsServer(pki, { maxVersion: 'TLSv1.2' }, (sock: tls.TLSSocket) => {
      sock.on('error', (err: NodeJS.ErrnoException) => serverErrors.push(String(err.code)));
      // Node calls this back only when the new handshake succeeded ('secure').
      sock.renegotiate({ rejectUnauthorized: false }, (err) => {
        if (err) return;
        renegotiated = true;
        sock.write(AFTER);
      });
    });
    const log = new LinesLog([LogFlag.Tls]);
    const cu = new RecordingUser('client', { autoRecv: 1024 });
    const c = p.tls.createSocket(cu, { context: clientContext(pki), log });
    c.connect(`127.0.0.1:${srv.port}`, 'localhost');
    await cu.waitFor('socketConnectComplete', 1, WAIT, c);
    expect(log.text()).toMatch(/TLS TLSv1\.2 /);

    // Either outcome ends the wait: the client refused (its socket ends) or the server got its
    // new handshake.
    await pollUntil(() => renegotiated || cu.count('socketShutdown', c) > 0, 'the client to refuse or the renegotiation to finish', WAIT);
    await settle(100);
    expect({ renegotiated, delivered: cu.received().toString(), reason: cu.shutdownReason(c) }).toEqual({
      renegotiated: false,
      delivered: '',
      reason: ShutdownReason.Lost,
    });
    expect(log.text()).toMatch(new RegExp(`established error ${ANY_ERR_CODE} .*-> SOCKET_LOST`, 's'));
  });
});
