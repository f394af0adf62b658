/**
 * The datagram conformance suite over DTLS: the client end (a connected UDP socket, upgraded)
 * and the server end (a bound UDP socket, upgraded), each after the handshake, with the other
 * end as its peer. DTLS specifics: spec/transports/dtls.spec.ts.
 */
import { loadPki } from '../helpers/tls-fixture';
import { dtlsFixture } from './datagram-fixtures';
import { runDatagramSuite } from './datagram-suite';

const pki = loadPki();

runDatagramSuite('dtls client end', dtlsFixture(pki, 'client'));
runDatagramSuite('dtls server end', dtlsFixture(pki, 'server'));
